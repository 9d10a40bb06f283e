"""`tether traces list|show|purge` and `tether monitor [ack ID]`.

Traces are read with the same rules as the API: ``--as NAME`` shows what that user may see
(their own traces; admin-only attributes hidden unless NAME is an administrator); without
``--as`` the operator (``Principal.system()``) sees everything, as an administrator. All of it
goes through ``engine.traces``.
"""

from __future__ import annotations

import typer
from rich.table import Table
from rich.tree import Tree

from tether.cli._common import JSON_OPT, acting, handle_errors, open_engine, out_console, print_json
from tether.types import Principal

app = typer.Typer(help="Request traces: every stage, decision, token and cent of a question.",
                  no_args_is_help=True)
monitor_app = typer.Typer(help="Drift monitors: recent figures vs their baseline, and alerts.",
                          invoke_without_command=True)

AS_OPT = typer.Option(None, "--as", help="View as this user (their own traces only; default: admin view).")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="traces")
    root.add_typer(monitor_app, name="monitor")


@app.command("list")
@handle_errors
def list_(as_user: str = AS_OPT, principal: str = typer.Option(None, "--principal", help="Admin view: this user's."),
          status: str = typer.Option(None, "--status", help="answered, abstained, blocked, error, ..."),
          limit: int = typer.Option(20, "--limit", min=1, max=1000), as_json: bool = JSON_OPT) -> None:
    """The newest traces, newest first."""
    with open_engine() as t:
        rows = t.traces.list(acting(t, as_user), principal=principal, status=status, limit=limit)
    if as_json:
        print_json({"traces": rows, "count": len(rows)})
        return
    table = Table("id", "started", "who", "kind", "status", "ms", "model", "tokens in/out", "cost $", "question")
    for r in rows:
        table.add_row(r["id"], r["started_at"].strftime("%Y-%m-%d %H:%M:%S"), r.get("principal") or "-", r["kind"],
                      _status(r["status"]), f"{r['duration_ms']:.0f}", r["model"] or "-",
                      f"{r['input_tokens']}/{r['output_tokens']}", f"{r['cost_usd']:.6f}", (r["question"] or "")[:60])
    out_console.print(table)


def _status(status: str) -> str:
    color = {"answered": "green", "abstained": "yellow", "blocked": "red", "error": "red"}.get(status, "white")
    return f"[{color}]{status}[/{color}]"


@app.command()
@handle_errors
def show(trace_id: str, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """A trace as a tree of spans: start offset, duration and the decisions taken at each stage."""
    with open_engine() as t:
        row = t.traces.get(acting(t, as_user), trace_id)
    if as_json:
        print_json(row)
        return
    print_trace(row)


def print_trace(row: dict) -> None:
    from tether.observe import view

    out_console.print(f"[bold]trace[/bold] {row['id']}  {row['kind']} by {row.get('principal') or '-'}  "
                      f"{_status(row['status'])}  {row['duration_ms']:.1f} ms  ${row['cost_usd']:.6f}  "
                      f"tokens {row['input_tokens']}/{row['output_tokens']}  {row['started_at']}")
    if row.get("question"):
        out_console.print(f"[bold]question[/bold]: {row['question']}")
    if row.get("attrs"):
        out_console.print(f"[bold]decisions[/bold]: {view.summary(row['attrs'], limit=12)}")
    tree = Tree(_label(row["root"]))
    _grow(tree, row["root"])
    out_console.print(tree)
    verdicts = view.sentences(row["root"])
    if verdicts:
        out_console.print("[bold]grounding[/bold]")
        for s in verdicts:
            color = "green" if s.get("verdict") == "supported" else "yellow"
            extra = f" cited {s.get('cited')}" if s.get("cited") else ""
            reasons = f" ({', '.join(s['reasons'])})" if s.get("reasons") else ""
            out_console.print(f"  sentence {s.get('index')}: [{color}]{s.get('verdict')}[/{color}] "
                              f"score {s.get('score')}{extra}{reasons}")
    if row.get("calls"):
        table = Table("call", "model", "in", "out", "cost $", "ms", "ok", title="model calls")
        for c in row["calls"]:
            table.add_row(c["kind"], c["model"], str(c["input_tokens"]), str(c["output_tokens"]),
                          f"{c['cost_usd']:.6f}", f"{c['latency_ms']:.1f}", "yes" if c["ok"] else "[red]no[/red]")
        out_console.print(table)


def _label(span: dict) -> str:
    from rich.markup import escape

    from tether.observe import view

    timing = ("event" if span["duration_ms"] == 0 and not span.get("children")
              else f"{span['duration_ms']:.1f} ms")
    name = f"[red]{span['name']}[/red]" if span.get("status") == "error" else f"[bold]{span['name']}[/bold]"
    summary = view.summary(span.get("attrs", {}))
    return f"{name}  [dim]+{span['start_ms']:.1f}[/dim]  {timing}" + (f"  {escape(summary)}" if summary else "")


def _grow(tree: Tree, span: dict) -> None:
    for child in span.get("children", []):
        _grow(tree.add(_label(child)), child)


@app.command()
@handle_errors
def purge(older_than_days: float = typer.Option(None, "--older-than-days", min=0,
                                                help="Default: observe.trace_retention_days."),
          as_json: bool = JSON_OPT) -> None:
    """Delete traces older than N days (model-call usage events are kept: they are the ledger)."""
    with open_engine() as t:
        n, days = t.traces.purge(Principal.system(), older_than_days)
    if as_json:
        print_json({"deleted": n, "older_than_days": days})
        return
    out_console.print(f"deleted {n} traces older than {days:g} days")


@monitor_app.callback()
def monitor(ctx: typer.Context, no_alert: bool = typer.Option(False, "--no-alert",
                                                              help="Only compute; raise no alerts."),
            as_json: bool = JSON_OPT) -> None:
    """Compute the drift figures now (current window vs baseline), raise alerts for breaches,
    and print them with the open alerts."""
    if ctx.invoked_subcommand is not None:
        return
    _monitor(no_alert, as_json=as_json)


@handle_errors
def _monitor(no_alert: bool, *, as_json: bool) -> None:
    with open_engine() as t:
        report = t.traces.monitor(Principal.system(), hours=None, raise_alerts=not no_alert)
    if as_json:
        print_json(report)
        return
    w = report["windows"]
    out_console.print(f"current window {w['current_start']} .. {w['now']}; baseline from {w['baseline_start']} "
                      f"(min {report['min_samples']} requests)")
    table = Table("metric", "current", "baseline", "limit", "requests (cur/base)", "status")
    colors = {"ok": "green", "drift": "red", "insufficient": "dim", "unmonitored": "dim"}
    for f in report["figures"]:
        c = colors.get(f["status"], "white")
        table.add_row(f["metric"], _num(f["current"]), _num(f["baseline"]), _num(f["threshold"]),
                      f"{f['samples']}/{f['baseline_samples']}", f"[{c}]{f['status']}[/{c}]")
    out_console.print(table)
    for a in report["raised"]:
        out_console.print(f"[red]new alert {a['id']}[/red]: {a['message']}")
    if report["open"]:
        out_console.print("[bold]open alerts[/bold] (tether monitor ack ID)")
        for a in report["open"]:
            out_console.print(f"  {a['id']}  {a['created_at']}  {a['message']}")
    else:
        out_console.print("no open alerts")


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


@monitor_app.command("ack")
@handle_errors
def ack(alert_id: int, as_user: str = typer.Option(None, "--as", help="Record this administrator as acknowledging."),
        as_json: bool = JSON_OPT) -> None:
    """Acknowledge an alert: the monitor may raise a new one on the next breach."""
    with open_engine() as t:
        alert = t.traces.acknowledge(acting(t, as_user), alert_id)
    if as_json:
        print_json(alert)
        return
    out_console.print(f"alert {alert['id']} acknowledged at {alert['acknowledged_at']}")
