"""Shared CLI plumbing: settings, opening the engine, printing, and turning errors into messages."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import typer
from rich.console import Console

from tether.errors import TetherError
from tether.settings import Settings, load_settings
from tether.types import Principal

err_console = Console(stderr=True)
out_console = Console()

JSON_OPT = typer.Option(False, "--json", help="Print one JSON document on stdout.")

F = TypeVar("F", bound=Callable[..., Any])


def _default(o: object) -> object:
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, default=_default, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def settings() -> Settings:
    return load_settings()


def open_engine(keep_db_running: bool = True, cfg: Settings | None = None):
    """The engine on ``cfg`` (default: the settings loaded now, unknown keys reported)."""
    import os

    from tether.engine import Tether

    engine = Tether(cfg or settings(), keep_db_running=keep_db_running, secrets=os.environ)
    _export_traces(engine)
    return engine


def acting(engine, as_user: str | None):
    """The principal a command acts as: ``--as NAME``, or the operator (``Principal.system()``,
    an administrator) when no name is given."""
    return engine.principal(as_user) if as_user else Principal.system()


def _export_traces(engine) -> None:
    """With observe.otlp_endpoint set, traces of this command go to the collector (flushed at exit)."""
    if not engine.settings.observe.otlp_endpoint:
        return
    import atexit

    from tether.observe import otel

    exporter = otel.install(engine)
    if exporter is not None:
        atexit.register(exporter.shutdown)


def handle_errors(fn: F) -> F:
    """Turn library errors into a readable message (or a JSON error) and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TetherError as exc:
            if kwargs.get("as_json"):
                print_json(exc.to_dict())
            else:
                err_console.print(f"[red]error[/red] ({exc.code}): {exc.message}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
