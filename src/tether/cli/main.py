"""The ``tether`` command: one Typer app that mounts a sub-app or command per area."""

from __future__ import annotations

import logging
import os
from typing import Any

import typer

from tether.cli import db, docs, ingest, search, users

app = typer.Typer(help="Tether: permission-aware, grounded answers from your documents.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(db.app, name="db")
app.add_typer(docs.app, name="docs")
app.add_typer(users.users_app, name="users")
app.add_typer(users.groups_app, name="groups")
app.add_typer(users.keys_app, name="keys")
app.command("ingest")(ingest.ingest)
app.command("worker")(ingest.worker)
app.command("search")(search.search)


def _optional(module: str, name: str, **kw: Any) -> None:
    """Mount a sub-app if its module is present (areas land one by one)."""
    import importlib

    try:
        mod = importlib.import_module(f"tether.cli.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"tether.cli.{module}":
            raise
        return
    if hasattr(mod, "register"):
        mod.register(app)
    elif hasattr(mod, "app"):
        app.add_typer(mod.app, name=name, **kw)


for _mod, _name in (("guard", "guard"), ("evaluate", "eval"), ("demo", "demo"), ("ask", "ask"), ("serve", "serve"),
                    ("traces", "traces"), ("audit", "audit")):
    _optional(_mod, _name)
_optional("review", "review")
_optional("cache", "cache")
_optional("usage", "usage")  # `tether usage` and `tether budget`
_optional("ground", "ground")  # `tether ground verify`
_optional("tune", "tune")  # `tether tune verifier`
_optional("connectors", "connectors")  # `tether connectors add|list|show|rm|sync`
_optional("chat", "chat")  # `tether chat` and `tether conversations list|purge`
_optional("mcp_stdio", "mcp")  # `tether mcp --as USER` (agents/mcp_server.py over stdio)
_optional("mcp_servers", "mcp-servers")  # `tether mcp-servers add|list|tools|enable|disable|rm` (research mode)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


if __name__ == "__main__":  # pragma: no cover
    app()
