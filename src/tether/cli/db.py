"""`tether db start|stop|status`: the embedded PostgreSQL server."""

from __future__ import annotations

import typer

from tether.cli._common import JSON_OPT, handle_errors, out_console, print_json, settings
from tether.services.operations import database_status, start_database, stop_database

app = typer.Typer(help="Manage the embedded PostgreSQL server.", no_args_is_help=True)


@app.command()
@handle_errors
def start(as_json: bool = JSON_OPT) -> None:
    """Start the embedded server (no-op when TETHER_DATABASE_URL is set)."""
    msg = start_database(settings())
    print_json(msg) if as_json else out_console.print(msg)


@app.command()
@handle_errors
def stop(as_json: bool = JSON_OPT) -> None:
    """Stop the embedded server."""
    was = stop_database(settings())
    print_json({"stopped": was}) if as_json else out_console.print("stopped" if was else "not running")


@app.command()
@handle_errors
def status(as_json: bool = JSON_OPT) -> None:
    """Show whether the embedded server runs."""
    data = database_status(settings())
    print_json(data) if as_json else out_console.print(data)
