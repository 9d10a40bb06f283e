"""`tether users|groups add/list`: the principals that ACLs refer to."""

from __future__ import annotations

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, handle_errors, open_engine, out_console, print_json
from tether.store import api_keys, audit, principals

users_app = typer.Typer(help="Users and service accounts.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups and memberships.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (only a hash is stored; a new key is shown once).", no_args_is_help=True)


def _audit(conn, action: str, target: str, **details: object) -> None:
    """Admin changes made from the CLI are audited too (actor: the operator, recorded as NULL)."""
    audit.record(conn, action, target=target, details={"via": "cli", **details})


@users_app.command("add")
@handle_errors
def users_add(
    name: str,
    role: str = typer.Option("member", help="admin | member | reviewer"),
    group: list[str] = typer.Option([], "--group", "-g", help="Add to this group (repeatable)."),
    service: bool = typer.Option(False, help="A service account rather than a person."),
    as_json: bool = JSON_OPT,
) -> None:
    with open_engine() as t, t.db.transaction() as conn:
        pid = principals.add_user(conn, name, role=role, kind="service" if service else "user")
        for g in group:
            principals.ensure_group(conn, g)
            principals.add_member(conn, name, g)
        _audit(conn, "admin.user.add", name, role=role, groups=group)
    print_json({"id": pid, "name": name, "role": role, "groups": group}) if as_json else out_console.print(f"added user {name}")


@users_app.command("list")
@handle_errors
def users_list(as_json: bool = JSON_OPT) -> None:
    with open_engine() as t, t.db.connection() as conn:
        rows = principals.list_users(conn)
    if as_json:
        print_json({"users": rows})
        return
    table = Table("name", "kind", "role", "groups")
    for r in rows:
        table.add_row(r["name"], r["kind"], r["role"], ", ".join(r["groups"]))
    out_console.print(table)


@groups_app.command("add")
@handle_errors
def groups_add(
    name: str, member: list[str] = typer.Option([], "--member", "-m", help="User to add (repeatable)."),
    as_json: bool = JSON_OPT,
) -> None:
    with open_engine() as t, t.db.transaction() as conn:
        principals.ensure_group(conn, name)
        for m in member:
            principals.add_member(conn, m, name)
        _audit(conn, "admin.group.add", name, members=member)
    print_json({"name": name, "members": member}) if as_json else out_console.print(f"group {name} ready")


@groups_app.command("remove-member")
@handle_errors
def groups_remove_member(name: str, user: str, as_json: bool = JSON_OPT) -> None:
    with open_engine() as t, t.db.transaction() as conn:
        removed = principals.remove_member(conn, user, name)
        _audit(conn, "admin.member.remove", name, user=user, removed=removed)
    print_json({"removed": removed}) if as_json else out_console.print("removed" if removed else "was not a member")


@groups_app.command("list")
@handle_errors
def groups_list(as_json: bool = JSON_OPT) -> None:
    with open_engine() as t, t.db.connection() as conn:
        rows = principals.list_groups(conn)
    if as_json:
        print_json({"groups": rows})
        return
    table = Table("group", "members")
    for r in rows:
        table.add_row(r["name"], str(r["members"]))
    out_console.print(table)


@keys_app.command("create")
@handle_errors
def keys_create(
    user: str, name: str = typer.Option("", help="A label for the key."),
    expires_in_days: float = typer.Option(0, help="0: never expires."), as_json: bool = JSON_OPT,
) -> None:
    from datetime import datetime, timedelta, timezone

    expires = datetime.now(timezone.utc) + timedelta(days=expires_in_days) if expires_in_days > 0 else None
    with open_engine() as t, t.db.transaction() as conn:
        created = api_keys.create_key(conn, user, name=name, expires_at=expires)
        _audit(conn, "admin.key.create", user, key_id=created["id"], prefix=created["prefix"])
    if as_json:
        print_json(created)
    else:
        out_console.print(f"key for {user} (shown once): {created['key']}")


@keys_app.command("list")
@handle_errors
def keys_list(user: str = typer.Option(None, help="Only this user's keys."), as_json: bool = JSON_OPT) -> None:
    with open_engine() as t, t.db.connection() as conn:
        rows = api_keys.list_keys(conn, user)
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
def keys_revoke(key: str = typer.Argument(..., help="Key id or prefix."), as_json: bool = JSON_OPT) -> None:
    with open_engine() as t, t.db.transaction() as conn:
        api_keys.revoke(conn, key)
        _audit(conn, "admin.key.revoke", key)
    print_json({"revoked": key}) if as_json else out_console.print(f"revoked {key}")
