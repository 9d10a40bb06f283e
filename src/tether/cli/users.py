"""`tether users|groups|keys`: the principals that ACLs refer to, and their API keys.

Changes go through ``engine.accounts`` as the operator (``Principal.system()``, audited with no
actor) or, with ``--as NAME``, as that administrator; every change is audited ("via": "cli").
"""

from __future__ import annotations

from datetime import UTC

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, acting, handle_errors, open_engine, out_console, print_json

users_app = typer.Typer(help="Users and service accounts.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups and memberships.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (only a hash is stored; a new key is shown once).", no_args_is_help=True)

AS_OPT = typer.Option(None, "--as", help="Act as this administrator (default: the operator).")
VIA = "cli"


@users_app.command("add")
@handle_errors
def users_add(
    name: str,
    role: str = typer.Option("member", help="admin | member | reviewer"),
    group: list[str] = typer.Option([], "--group", "-g", help="Add to this group (repeatable)."),
    service: bool = typer.Option(False, help="A service account rather than a person."),
    as_user: str = AS_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    with open_engine() as t:
        out = t.accounts.add_user(acting(t, as_user), name, role=role, kind="service" if service else "user",
                                  groups=group, via=VIA)
    if as_json:
        print_json({k: out[k] for k in ("id", "name", "role", "groups")})
    else:
        out_console.print(f"added user {name}")


@users_app.command("list")
@handle_errors
def users_list(as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    with open_engine() as t:
        rows = t.accounts.users(acting(t, as_user))
    if as_json:
        print_json({"users": rows})
        return
    table = Table("name", "kind", "role", "source", "active", "groups")
    for r in rows:
        table.add_row(r["name"], r["kind"], r["role"], r["source"], "yes" if r["active"] else "no",
                      ", ".join(r["groups"]))
    out_console.print(table)


@groups_app.command("add")
@handle_errors
def groups_add(
    name: str, member: list[str] = typer.Option([], "--member", "-m", help="User to add (repeatable)."),
    as_user: str = AS_OPT, as_json: bool = JSON_OPT,
) -> None:
    with open_engine() as t:
        t.accounts.add_group(acting(t, as_user), name, members=member, via=VIA)
    print_json({"name": name, "members": member}) if as_json else out_console.print(f"group {name} ready")


@groups_app.command("remove-member")
@handle_errors
def groups_remove_member(name: str, user: str, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    with open_engine() as t:
        removed = t.accounts.remove_member(acting(t, as_user), name, user, via=VIA)
    print_json({"removed": removed}) if as_json else out_console.print("removed" if removed else "was not a member")


@groups_app.command("list")
@handle_errors
def groups_list(as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    with open_engine() as t:
        rows = t.accounts.groups(acting(t, as_user))
    if as_json:
        print_json({"groups": rows})
        return
    table = Table("group", "source", "members")
    for r in rows:
        table.add_row(r["name"], r["source"], str(r["members"]))
    out_console.print(table)


@keys_app.command("create")
@handle_errors
def keys_create(
    user: str, name: str = typer.Option("", help="A label for the key."),
    expires_in_days: float = typer.Option(0, help="0: never expires."), as_user: str = AS_OPT,
    max_documents: int = typer.Option(None, min=0, help="Upload quota of this key: documents (0: none)."),
    max_bytes: int = typer.Option(None, min=0, help="Upload quota of this key: bytes held (0: none)."),
    max_chunks_per_document: int = typer.Option(None, min=0, help="Chunk limit of this key's uploads (0: none)."),
    max_active_jobs: int = typer.Option(None, min=0, help="Uploads of this key in flight at once (0: none)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Create a key (shown once). Without --max-* options the key gets the [ingest] key_max_* quotas."""
    from datetime import datetime, timedelta

    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days > 0 else None
    limits = {"max_documents": max_documents, "max_bytes": max_bytes,
              "max_chunks_per_document": max_chunks_per_document, "max_active_jobs": max_active_jobs}
    with open_engine() as t:
        created = t.accounts.create_key(acting(t, as_user), user, name=name, expires_at=expires, limits=limits,
                                        via=VIA)
    if as_json:
        print_json(created)
    else:
        out_console.print(f"key for {user} (shown once): {created['key']}")


@keys_app.command("list")
@handle_errors
def keys_list(user: str = typer.Option(None, help="Only this user's keys."), as_user: str = AS_OPT,
              as_json: bool = JSON_OPT) -> None:
    with open_engine() as t:
        rows = t.accounts.keys(acting(t, as_user), user)
    if as_json:
        print_json({"api_keys": rows})
        return
    table = Table("id", "prefix", "user", "name", "created", "expires", "revoked")
    for r in rows:
        table.add_row(*(str(r.get(k) or "") for k in ("id", "prefix", "user", "name", "created_at", "expires_at",
                                                       "revoked_at")))
    out_console.print(table)


@keys_app.command("revoke")
@handle_errors
def keys_revoke(key: str = typer.Argument(..., help="Key id or prefix."), as_user: str = AS_OPT,
                as_json: bool = JSON_OPT) -> None:
    with open_engine() as t:
        t.accounts.revoke_key(acting(t, as_user), key, via=VIA)
    print_json({"revoked": key}) if as_json else out_console.print(f"revoked {key}")
