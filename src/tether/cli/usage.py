"""`tether usage` (cost and tokens rolled up) and `tether budget set|list|rm` (spending limits).

    tether usage --by model --since 2025-03-01 --until 2025-03-31 [--json]
    tether budget set --group hr --period month --limit 50 [--soft]
    tether budget list [--json]
    tether budget rm 3
"""

from __future__ import annotations

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, handle_errors, open_engine, out_console, print_json
from tether.errors import InvalidInput
from tether.types import Principal

budget_app = typer.Typer(help="Spending budgets per user, group or API key (per day or month).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("usage")(usage)
    app.add_typer(budget_app, name="budget")


def usage(
    by: str = typer.Option("user", "--by", help="user | group | api_key | model | kind | day | month"),
    since: str = typer.Option(None, "--since", help="First UTC day (YYYY-MM-DD), inclusive."),
    until: str = typer.Option(None, "--until", help="Last UTC day (YYYY-MM-DD), inclusive."),
    user: str = typer.Option(None, "--user", help="Only this user's calls."),
    kind: str = typer.Option(None, "--kind", help="Only calls of this kind: generate | embed | rerank | guard."),
    as_json: bool = JSON_OPT,
) -> None:
    """Model calls, tokens in/out, cost and mean latency, rolled up (from the usage ledger)."""
    _usage(by, since, until, user, kind, as_json=as_json)


@handle_errors
def _usage(by: str, since: str | None, until: str | None, user: str | None, kind: str | None, *,
           as_json: bool) -> None:
    with open_engine() as t:  # the operator's view: everyone's usage, or --user's
        out = t.usage.rollup(Principal.system(), by=by, since=since, until=until, user=user, kind=kind)
    if as_json:
        print_json(out)
        return
    span = f"{out['since'] or 'the beginning'} to {out['until'] or 'now'}"
    table = Table(by, "calls", "failed", "tokens in", "tokens out", "cost (USD)", "mean latency (ms)",
                  title=f"Usage by {by}, {span}" + (f", user {user}" if user else ""))
    rows = [*out["rows"], {"label": "total", **out["total"]}]
    for i, r in enumerate(rows):
        table.add_row(str(r["label"]), str(r["calls"]), str(r["failed_calls"]), f"{r['input_tokens']:,}",
                      f"{r['output_tokens']:,}", f"{r['cost_usd']:.6f}", f"{r['mean_latency_ms']:.1f}",
                      style="bold" if i == len(rows) - 1 else None, end_section=i == len(rows) - 2)
    out_console.print(table)


@budget_app.command("set")
def budget_set(
    user: str = typer.Option(None, "--user", help="A user's own spend."),
    group: str = typer.Option(None, "--group", help="The spend of a group's current members together."),
    api_key: str = typer.Option(None, "--api-key", help="Requests made with this API key (id or prefix)."),
    period: str = typer.Option("month", "--period", help="day | month (UTC)."),
    limit: float = typer.Option(..., "--limit", help="Limit in USD for each period."),
    soft: bool = typer.Option(False, "--soft", help="Warn instead of refusing when the limit is reached."),
    as_json: bool = JSON_OPT,
) -> None:
    """Create or change a budget (one per scope, period and kind: a soft and a hard may coexist)."""
    _budget_set(user, group, api_key, period, limit, soft, as_json=as_json)


@handle_errors
def _budget_set(user, group, api_key, period, limit, soft, *, as_json: bool) -> None:
    given = [(s, v) for s, v in (("user", user), ("group", group), ("api_key", api_key)) if v]
    if len(given) != 1:
        raise InvalidInput("give exactly one of --user, --group, --api-key")
    scope, target = given[0]
    with open_engine() as t:
        b = t.usage.set_budget(Principal.system(), scope=scope, target=target, period=period, limit_usd=limit,
                               kind="soft" if soft else "hard", via="cli")
    if as_json:
        print_json(b)
    else:
        out_console.print(f"budget {b['id']}: {b['kind']} {'daily' if period == 'day' else 'monthly'} "
                          f"limit {b['limit_usd']:.2f} USD for {scope} {b['scope_name']} "
                          f"({'created' if b['created'] else 'updated'})")


@budget_app.command("list")
@handle_errors
def budget_list(as_json: bool = JSON_OPT) -> None:
    """Every budget with the current period's spend, holds of requests in flight, and what remains."""
    with open_engine() as t:
        rows = t.usage.budgets(Principal.system())
    if as_json:
        print_json({"budgets": rows})
        return
    table = Table("id", "scope", "for", "period", "kind", "limit", "spent", "reserved", "remaining", "resets at")
    for r in rows:
        table.add_row(str(r["id"]), r["scope"], str(r["scope_name"]), r["period"], r["kind"],
                      f"{r['limit_usd']:.4f}", f"{r['spent_usd']:.6f}", f"{r['reserved_usd']:.6f}",
                      f"{r['remaining_usd']:.6f}", r["resets_at"].strftime("%Y-%m-%d %H:%M UTC"))
    out_console.print(table)


@budget_app.command("rm")
@handle_errors
def budget_rm(budget_id: int, as_json: bool = JSON_OPT) -> None:
    """Delete a budget (its ledger goes with it)."""
    with open_engine() as t:
        t.usage.delete_budget(Principal.system(), budget_id, via="cli")
    print_json({"deleted": budget_id}) if as_json else out_console.print(f"deleted budget {budget_id}")
