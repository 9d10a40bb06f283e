"""`tether db start|stop|status`: the embedded PostgreSQL server."""

from __future__ import annotations

import typer

from tether.cli._common import JSON_OPT, handle_errors, out_console, print_json, settings
from tether.store import embedded

app = typer.Typer(help="Manage the embedded PostgreSQL server.", no_args_is_help=True)


@app.command()
@handle_errors
def start(as_json: bool = JSON_OPT) -> None:
    """Start the embedded server (no-op when TETHER_DATABASE_URL is set)."""
    s = settings()
    if s.database_url:
        msg = {"embedded": False, "message": "TETHER_DATABASE_URL is set; using the external server"}
    else:
        from tether.store.db import open_database

        open_database(s, keep_running=True).close()
        st = embedded.status(s.data_dir)
        msg = {"embedded": True, "running": st.running, "pid": st.pid, "pgdata": str(st.pgdata)}
    print_json(msg) if as_json else out_console.print(msg)


@app.command()
@handle_errors
def stop(as_json: bool = JSON_OPT) -> None:
    """Stop the embedded server."""
    was = embedded.stop(settings().data_dir)
    print_json({"stopped": was}) if as_json else out_console.print("stopped" if was else "not running")


@app.command()
@handle_errors
def status(as_json: bool = JSON_OPT) -> None:
    """Show whether the embedded server runs."""
    s = settings()
    st = embedded.status(s.data_dir)
    data = {"external": bool(s.database_url), "running": st.running, "pid": st.pid, "pgdata": str(st.pgdata)}
    print_json(data) if as_json else out_console.print(data)
