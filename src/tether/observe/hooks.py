"""Trace listeners: callables the engine calls with every finished :class:`Trace` (after saving it).

The engine owns the list (``Tether.trace_listeners``); the edges add to it: the API app adds the
Prometheus listener and, when configured, the OpenTelemetry exporter; the CLI adds the exporter.
A listener must be quick and must not raise (the engine logs and ignores a listener's error, and
:func:`safe` wraps one so that it cannot).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tether.observe.trace import Trace

log = logging.getLogger(__name__)

Listener = Callable[[Trace], None]


def listeners(engine: Any) -> list[Listener]:
    """The engine's listener list (created if an older engine has none)."""
    found = getattr(engine, "trace_listeners", None)
    if found is None:
        found = []
        engine.trace_listeners = found
    return found


def safe(fn: Listener, name: str = "") -> Listener:
    label = name or getattr(fn, "__qualname__", repr(fn))

    def call(trace: Trace) -> None:
        try:
            fn(trace)
        except Exception:  # noqa: BLE001 - observability never fails a request
            log.warning("trace listener %s failed", label, exc_info=True)

    call.inner = fn  # type: ignore[attr-defined]
    return call


def add(engine: Any, fn: Listener, name: str = "") -> Listener:
    wrapped = safe(fn, name)
    listeners(engine).append(wrapped)
    return wrapped


def remove(engine: Any, fn: Listener) -> None:
    lst = listeners(engine)
    for i, item in enumerate(lst):
        if item is fn or getattr(item, "inner", None) is fn:
            del lst[i]
            return
