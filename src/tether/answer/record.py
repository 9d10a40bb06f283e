"""The record every answer run leaves, whatever its outcome: the trace (question redacted) and
the audit entry, stored in one transaction, then handed to the trace listeners (metrics,
OpenTelemetry export)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from tether.guard.pii import redact_for_trace
from tether.observe import store as obs_store
from tether.observe.trace import Trace
from tether.settings import GuardSettings
from tether.store import audit
from tether.store.db import Database

log = logging.getLogger(__name__)


def finish_trace(db: Database, guard: GuardSettings, listeners: Sequence[Callable[[Trace], None]], trace: Trace,
                 status: str, question: str, model: str, details: dict, action: str = "ask") -> None:
    """Close the trace; store it with the audit record in one transaction; tell listeners
    (a failing listener is logged, never fails the request)."""
    redacted = redact_for_trace(question, guard)
    trace.set(question=redacted, model=model)
    trace.finish(status)
    with db.transaction() as conn:
        filtered = trace.attrs.get("admin.permission_filtered")
        audit.record(conn, action, actor_id=trace.principal_id,
                     details={"question": redacted, "model": model, "trace_id": trace.id or None,
                              **({"permission_filtered": filtered} if filtered is not None else {}), **details})
        obs_store.save(conn, trace, question=redacted, model=model)
    for listener in list(listeners):
        try:
            listener(trace)
        except Exception:  # noqa: BLE001 - an exporter must never fail a request
            log.exception("trace listener %r failed", listener)
