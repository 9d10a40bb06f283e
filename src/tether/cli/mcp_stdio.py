"""`tether mcp --as USER`: Tether's MCP server on stdin/stdout, for an agent that spawns it.

The process acts as USER for its whole life (permissions are looked up again on every call);
stdout carries only the protocol, so this command prints nothing else (errors go to stderr).
"""

from __future__ import annotations

import typer

from tether.cli._common import handle_errors, open_engine


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp)


def mcp(as_user: str = typer.Option(..., "--as", help="Serve as this user (their permissions apply).")) -> None:
    """Serve the MCP tools (search, ask, get_document, get_span, list_collections) over stdio."""
    _serve(as_user)


@handle_errors
def _serve(as_user: str) -> None:
    from tether.agents.mcp_server import run_stdio

    with open_engine() as engine:
        run_stdio(engine, as_user)
