"""`tether cache stats|clear`: the answer cache's hit rate and savings; emptying it."""

from __future__ import annotations

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, handle_errors, open_engine, out_console, print_json
from tether.types import Principal

app = typer.Typer(help="The answer cache: hit rate, savings, clearing.", no_args_is_help=True)


@app.command()
@handle_errors
def stats(as_json: bool = JSON_OPT) -> None:
    """Entries, hits (exact/semantic), misses, hit rate and the cost and latency hits saved."""
    with open_engine() as t:
        s = t.operations.cache_stats(Principal.system())
    if as_json:
        print_json(s)
        return
    table = Table("figure", "value")
    for key in ("enabled", "entries", "expired", "permission_keys", "hits", "hits_exact", "hits_semantic",
                "misses", "hit_rate", "stores", "invalidated", "evicted", "saved_usd", "saved_ms"):
        v = s[key]
        table.add_row(key, f"{v:.1%}" if key == "hit_rate" else f"{v:.6f}" if key == "saved_usd" else str(v))
    out_console.print(table)


@app.command()
@handle_errors
def clear(reset_stats: bool = typer.Option(False, "--stats", help="Also reset the hit/miss counters."),
          as_json: bool = JSON_OPT) -> None:
    """Delete every cached answer."""
    with open_engine() as t:
        n = t.operations.clear_cache(Principal.system(), reset_stats=reset_stats)
    if as_json:
        print_json({"deleted": n, "stats_reset": reset_stats})
        return
    out_console.print(f"deleted {n} cached answer(s)" + (" and reset the counters" if reset_stats else ""))
