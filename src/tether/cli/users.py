"""`tether users|groups add/list`: the principals that ACLs refer to."""

from __future__ import annotations

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, handle_errors, open_engine, out_console, print_json
from tether.store import principals

users_app = typer.Typer(help="Users and service accounts.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups and memberships.", no_args_is_help=True)


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
    print_json({"name": name, "members": member}) if as_json else out_console.print(f"group {name} ready")


@groups_app.command("remove-member")
@handle_errors
def groups_remove_member(name: str, user: str, as_json: bool = JSON_OPT) -> None:
    with open_engine() as t, t.db.transaction() as conn:
        removed = principals.remove_member(conn, user, name)
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
