"""Traces and usage events in PostgreSQL: save, read (own or, for admins, any), purge by age."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from tether.errors import NotFound
from tether.observe.trace import Trace


def save(conn: psycopg.Connection[DictRow], trace: Trace, *, question: str = "", model: str = "") -> None:
    """Insert the trace and its model calls (one transaction with the caller's other writes)."""
    if trace.enabled:
        conn.execute(
            "INSERT INTO traces (id, kind, principal_id, api_key_id, started_at, duration_ms, status, model,"
            " question, cost_usd, input_tokens, output_tokens, attrs, root)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (trace.id, trace.kind, trace.principal_id, trace.api_key_id, trace.started_at, trace.duration_ms,
             trace.status, model, question, trace.cost_usd, trace.input_tokens, trace.output_tokens,
             Jsonb(_jsonable(trace.attrs)), Jsonb(_jsonable(trace.root.to_dict()))),
        )
    if trace.calls:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO usage_events (trace_id, principal_id, api_key_id, kind, model, input_tokens,"
                " output_tokens, cost_usd, latency_ms, ok) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                [(trace.id or None, trace.principal_id, trace.api_key_id, c.kind, c.model, c.input_tokens,
                  c.output_tokens, c.cost_usd, c.latency_ms, c.ok) for c in trace.calls],
            )


def _strip_admin(node: dict) -> dict:
    return {**node, "attrs": {k: v for k, v in node["attrs"].items() if not k.startswith("admin.")},
            "children": [_strip_admin(c) for c in node.get("children", [])]}


def _row(r: dict, admin: bool) -> dict:
    out = dict(r)
    out["cost_usd"] = float(out["cost_usd"])
    if not admin:
        out["attrs"] = {k: v for k, v in out["attrs"].items() if not k.startswith("admin.")}
        if "root" in out:
            out["root"] = _strip_admin(out["root"])
    return out


def get(conn: psycopg.Connection[DictRow], trace_id: str, *, viewer_id: int | None, admin: bool) -> dict:
    """One trace with its calls. Others' traces are 'not found' to non-admins (no existence leak)."""
    r = conn.execute(
        "SELECT t.*, p.name AS principal FROM traces t LEFT JOIN principals p ON p.id = t.principal_id"
        " WHERE t.id = %s", (trace_id,),
    ).fetchone()
    if r is None or (not admin and r["principal_id"] != viewer_id):
        raise NotFound(f"no trace {trace_id!r}")
    out = _row(r, admin)
    out["calls"] = [
        {**c, "cost_usd": float(c["cost_usd"])}
        for c in conn.execute(
            "SELECT kind, model, input_tokens, output_tokens, cost_usd, latency_ms, ok FROM usage_events"
            " WHERE trace_id = %s ORDER BY id", (trace_id,)).fetchall()
    ]
    return out


def list_traces(conn: psycopg.Connection[DictRow], *, viewer_id: int | None, admin: bool, principal: str | None = None,
                status: str | None = None, limit: int = 50) -> list[dict]:
    sql = ("SELECT t.id, t.kind, t.started_at, t.duration_ms, t.status, t.model, t.question, t.cost_usd,"
           " t.input_tokens, t.output_tokens, t.attrs, p.name AS principal"
           " FROM traces t LEFT JOIN principals p ON p.id = t.principal_id WHERE true")
    params: list[Any] = []
    if not admin:
        sql += " AND t.principal_id = %s"
        params.append(viewer_id)
    if principal:
        sql += " AND p.name = %s"
        params.append(principal)
    if status:
        sql += " AND t.status = %s"
        params.append(status)
    rows = conn.execute(sql + " ORDER BY t.started_at DESC LIMIT %s", [*params, limit]).fetchall()
    return [_row(r, admin) for r in rows]


def purge(conn: psycopg.Connection[DictRow], *, older_than_days: float) -> int:
    """Delete traces older than the retention (usage events are kept: they are the ledger)."""
    cur = conn.execute("DELETE FROM traces WHERE started_at < now() - make_interval(secs => %s)",
                       (older_than_days * 86400,))
    return cur.rowcount


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)
