"""Trace helpers shared by the answer-pipeline tests: a stored trace as an admin reads it, and
its span tree flattened."""

from __future__ import annotations

from tether import Tether
from tether.observe import store as obs_store


def stored_trace(engine: Tether, trace_id: str) -> dict:
    with engine.db.connection() as conn:
        return obs_store.get(conn, trace_id, viewer_id=None, admin=True)


def all_spans(node: dict) -> list[dict]:
    return [node] + [s for c in node["children"] for s in all_spans(c)]
