"""`tether audit`: the append-only audit log (asks, guard blocks, permission-filter counts,
admin changes to users, groups, keys and ACLs), newest first."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, acting, handle_errors, open_engine, out_console, print_json


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_log)


@handle_errors
def audit_log(
    action: str = typer.Option(None, help="Only this action (prefix match: 'admin.' for every admin change)."),
    user: str = typer.Option(None, "--user", help="Only this actor."),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_user: str = typer.Option(None, "--as", help="Read as this administrator (default: the operator)."),
    as_json: bool = JSON_OPT,
) -> None:
    with open_engine() as t:
        rows = t.audit.recent(acting(t, as_user), action=action, user=user, limit=limit)
    if as_json:
        print_json({"audit": rows})
        return
    table = Table("id", "at", "actor", "action", "target", "details")
    for r in rows:
        table.add_row(str(r["id"]), r["at"].strftime("%Y-%m-%d %H:%M:%S"), r["actor"], r["action"], r["target"] or "",
                      json.dumps(r["details"], default=str)[:120])
    out_console.print(table)
