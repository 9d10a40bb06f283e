"""The record every answer run leaves, whatever its outcome: the trace (question redacted), the
audit entry and the usage events, stored in one transaction, then handed to the trace listeners
(metrics, OpenTelemetry export).

The record is durable before the answer leaves: the pipeline stores it before it returns a
result or sends a stream's ``done`` event, and a failure here is :class:`~tether.errors.AuditFailed`
(503 ``audit_failed``), so an answer is never delivered without its record."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import psycopg

from tether.errors import AuditFailed, StoreUnavailable
from tether.guard.pii import redact_for_trace
from tether.observe import store as obs_store
from tether.observe.trace import Trace
from tether.settings import GuardSettings
from tether.store import audit
from tether.store.db import RETRY_AFTER_S, Database

log = logging.getLogger(__name__)


def finish_trace(db: Database, guard: GuardSettings, listeners: Sequence[Callable[[Trace], None]], trace: Trace,
                 status: str, question: str, model: str, details: dict, action: str = "ask") -> None:
    """Close the trace; store it with the audit record and usage events in one transaction
    (:class:`AuditFailed` when that fails: nothing of it is stored); tell listeners (a failing
    listener is logged, never fails the request)."""
    redacted = redact_for_trace(question, guard).replace("\x00", "\ufffd")  # PostgreSQL text holds no NUL
    trace.set(question=redacted, model=model)
    trace.finish(status)
    filtered = trace.attrs.get("admin.permission_filtered")
    try:
        with db.transaction() as conn:
            audit.record(conn, action, actor_id=trace.principal_id,
                         details={"question": redacted, "model": model, "trace_id": trace.id or None,
                                  **({"permission_filtered": filtered} if filtered is not None else {}), **details})
            obs_store.save(conn, trace, question=redacted, model=model)
    except (psycopg.Error, StoreUnavailable) as exc:
        # the driver's message may quote the question or a trigger's text: the log gets the type
        log.error("the record of trace %s (%s, %s) was not stored: %s", trace.id, action, status, type(exc).__name__)
        raise AuditFailed(f"the answer could not be recorded ({type(exc).__name__}) and is withdrawn: "
                          "do not rely on it; retry in a few seconds", retry_after=RETRY_AFTER_S) from exc
    for listener in list(listeners):
        try:
            listener(trace)
        except Exception:  # noqa: BLE001 - an exporter must never fail a request
            log.exception("trace listener %r failed", listener)
