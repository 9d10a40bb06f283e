"""The append-only audit log: who asked what, what permissions filtered, which guard fired,
and every admin change. The table refuses UPDATE and DELETE (migration 0003)."""

from __future__ import annotations

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb


def record(conn: psycopg.Connection[DictRow], action: str, *, actor_id: int | None = None,
           target: str | None = None, details: dict | None = None) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor_id, action, target, details) VALUES (%s, %s, %s, %s)",
        (actor_id, action, target, Jsonb(details or {})),
    )


def recent(conn: psycopg.Connection[DictRow], *, actor_id: int | None = None, limit: int = 100) -> list[dict]:
    sql = "SELECT id, at, actor_id, action, target, details FROM audit_log"
    params: list[object] = []
    if actor_id is not None:
        sql += " WHERE actor_id = %s"
        params.append(actor_id)
    return conn.execute(sql + " ORDER BY id DESC LIMIT %s", [*params, limit]).fetchall()
