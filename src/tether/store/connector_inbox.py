"""The push connector's inbox (migration 0020): pushed items waiting for a sync run, the SQL only.

``POST /v1/connectors/{id}/items`` puts each item here (bytes included, one row per external
id, the newest push wins) and enqueues a sync run; the run lists the rows (marking them
``listed_by`` itself), ingests each one and deletes its row in the transaction that writes the
document (:func:`settle`). A row pushed after the run listed has ``listed_by`` NULL: the run's
last transaction enqueues another run for it (:func:`waiting`).
"""

from __future__ import annotations

import psycopg
from psycopg.rows import DictRow

from tether.store.rows import one


def put(conn: psycopg.Connection[DictRow], connector_id: int, external_id: str, *, version: str, data: bytes,
        filename: str, title: str | None, acl: list[str]) -> None:
    conn.execute(
        "INSERT INTO connector_inbox (connector_id, external_id, version, data, filename, title, acl)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (connector_id, external_id) DO UPDATE SET"
        " version = EXCLUDED.version, data = EXCLUDED.data, filename = EXCLUDED.filename,"
        " title = EXCLUDED.title, acl = EXCLUDED.acl, listed_by = NULL, pushed_at = now()",
        (connector_id, external_id, version, data, filename, title, acl))


def exists(conn: psycopg.Connection[DictRow], connector_id: int, external_id: str) -> bool:
    return conn.execute("SELECT 1 FROM connector_inbox WHERE connector_id = %s AND external_id = %s",
                        (connector_id, external_id)).fetchone() is not None


def list_for_run(conn: psycopg.Connection[DictRow], connector_id: int, run_id: int) -> list[dict]:
    """Every waiting item (without its bytes), now marked as listed by ``run_id``."""
    return conn.execute(
        "UPDATE connector_inbox SET listed_by = %s WHERE connector_id = %s"
        " RETURNING external_id, version, acl, octet_length(data) AS size", (run_id, connector_id)).fetchall()


def get(conn: psycopg.Connection[DictRow], connector_id: int, external_id: str) -> dict | None:
    return conn.execute("SELECT * FROM connector_inbox WHERE connector_id = %s AND external_id = %s",
                        (connector_id, external_id)).fetchone()


def settle(conn: psycopg.Connection[DictRow], connector_id: int, external_id: str, version: str | None) -> str:
    """Delete the waiting row of ``version`` (any version when None): ``settled``; a newer version
    waits instead (kept, locked until the transaction ends): ``superseded``; no row: ``missing``."""
    if conn.execute(
            "DELETE FROM connector_inbox WHERE connector_id = %s AND external_id = %s"
            " AND (%s::text IS NULL OR version = %s)", (connector_id, external_id, version, version)).rowcount:
        return "settled"
    newer = conn.execute("SELECT 1 FROM connector_inbox WHERE connector_id = %s AND external_id = %s FOR UPDATE",
                         (connector_id, external_id)).fetchone()
    return "superseded" if newer else "missing"


def waiting(conn: psycopg.Connection[DictRow], connector_id: int) -> bool:
    """Whether an item was pushed since the last run listed the inbox."""
    return conn.execute("SELECT 1 FROM connector_inbox WHERE connector_id = %s AND listed_by IS NULL LIMIT 1",
                        (connector_id,)).fetchone() is not None


def count(conn: psycopg.Connection[DictRow], connector_id: int) -> int:
    return int(one(conn.execute("SELECT count(*) AS n FROM connector_inbox WHERE connector_id = %s",
                                (connector_id,)))["n"])
