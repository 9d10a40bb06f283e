"""Connectors, their sync runs and item states (tables of migration 0014): the SQL only.

The rules (who may add one, what a sync does, backoff) are in ``tether.connect`` and
``tether.services.connectors``; callers open the transactions.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from tether.errors import Conflict, NotFound
from tether.store.rows import one

SYNC_JOB = "connector_sync"
_RUN_COUNTERS = ("listed", "processed", "added", "updated", "unchanged", "deleted", "failed", "deferred")


# connectors ---------------------------------------------------------------------------------------
def create(conn: psycopg.Connection[DictRow], *, name: str, kind: str, collection: str, config: dict,
           interval_s: int | None) -> dict:
    try:
        with conn.transaction():
            return one(conn.execute(
                "INSERT INTO connectors (name, kind, collection, config, interval_s, next_run_at)"
                " VALUES (%s, %s, %s, %s, %s, CASE WHEN %s::int IS NULL THEN NULL ELSE now() END) RETURNING *",
                (name, kind, collection, Jsonb(config), interval_s, interval_s)))
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"a connector named {name!r} already exists") from exc


def get(conn: psycopg.Connection[DictRow], ref: str | int, *, lock: bool = False) -> dict:
    """A connector by id or name, or NotFound."""
    col = "id" if isinstance(ref, int) or str(ref).isdigit() else "name"
    value: object = int(ref) if col == "id" else ref
    row = conn.execute(f"SELECT * FROM connectors WHERE {col} = %s" + (" FOR UPDATE" if lock else ""),
                       (value,)).fetchone()
    if row is None:
        raise NotFound(f"connector {ref!r} not found")
    return row


def list_all(conn: psycopg.Connection[DictRow]) -> list[dict]:
    return conn.execute(
        "SELECT c.*, (SELECT count(*) FROM connector_items i WHERE i.connector_id = c.id"
        "  AND i.document_id IS NOT NULL) AS documents,"
        " (SELECT count(*) FROM connector_items i WHERE i.connector_id = c.id AND i.status = 'failed')"
        "  AS failed_items FROM connectors c ORDER BY c.name").fetchall()


def delete(conn: psycopg.Connection[DictRow], connector_id: int, *, documents: bool) -> int:
    """Delete the connector (runs and item states cascade); with ``documents`` also every
    document it made. Returns how many documents were deleted."""
    n = 0
    if documents:
        n = conn.execute(
            "DELETE FROM documents WHERE id IN (SELECT document_id FROM connector_items"
            " WHERE connector_id = %s AND document_id IS NOT NULL)", (connector_id,)).rowcount
    conn.execute("DELETE FROM jobs WHERE kind = %s AND status = 'queued' AND (payload->>'connector_id')::bigint = %s",
                 (SYNC_JOB, connector_id))
    conn.execute("DELETE FROM connectors WHERE id = %s", (connector_id,))
    return n


def set_status(conn: psycopg.Connection[DictRow], connector_id: int, status: str, *,
               error: dict | None = None, cursor: str | None = None, keep_cursor: bool = True) -> None:
    conn.execute(
        "UPDATE connectors SET status = %s, last_error = %s, updated_at = now(),"
        " cursor = CASE WHEN %s THEN cursor ELSE %s END WHERE id = %s",
        (status, Jsonb(error) if error else None, keep_cursor, cursor, connector_id))


# runs ---------------------------------------------------------------------------------------------
def active_run(conn: psycopg.Connection[DictRow], connector_id: int) -> dict | None:
    return conn.execute(
        "SELECT * FROM connector_runs WHERE connector_id = %s AND status IN ('queued', 'running')"
        " ORDER BY id DESC LIMIT 1", (connector_id,)).fetchone()


def enqueue_run(conn: psycopg.Connection[DictRow], connector_id: int, *, trigger: str) -> tuple[dict, str, bool]:
    """The connector's queued or running run, or a new one with its sync job:
    ``(run, batch_id, created)``. Call in a transaction (the connector row is locked)."""
    from tether.store import jobs

    get(conn, connector_id, lock=True)
    run = active_run(conn, connector_id)
    if run is not None:
        job = jobs.get_job(conn, int(run["job_id"])) if run["job_id"] else None
        if job is not None and job["status"] in ("queued", "running"):
            return run, job["batch_id"], False
        conn.execute("UPDATE connector_runs SET status = 'failed', finished_at = now(),"
                     " error = '{\"code\": \"worker_lost\", \"message\": \"its job ended without finishing\"}'"
                     " WHERE id = %s", (run["id"],))
    run = one(conn.execute("INSERT INTO connector_runs (connector_id, trigger) VALUES (%s, %s) RETURNING *",
                           (connector_id, trigger)))
    batch = jobs.enqueue(conn, SYNC_JOB, [{"connector_id": connector_id, "run_id": int(run["id"])}])
    job_id = int(one(conn.execute("SELECT id FROM jobs WHERE batch_id = %s", (batch,)))["id"])
    conn.execute("UPDATE connector_runs SET job_id = %s WHERE id = %s", (job_id, run["id"]))
    conn.execute("UPDATE connectors SET status = 'queued', updated_at = now() WHERE id = %s", (connector_id,))
    run["job_id"] = job_id
    return run, batch, True


def due_connectors(conn: psycopg.Connection[DictRow]) -> list[int]:
    """Claim the scheduled connectors whose time has come (their next run moves one interval
    on, so two workers never both claim one); call in a transaction."""
    rows = conn.execute(
        "UPDATE connectors SET next_run_at = now() + make_interval(secs => interval_s)"
        " WHERE id IN (SELECT id FROM connectors WHERE enabled AND interval_s IS NOT NULL"
        "  AND next_run_at <= now() ORDER BY next_run_at FOR UPDATE SKIP LOCKED) RETURNING id").fetchall()
    return [int(r["id"]) for r in rows]


def get_run(conn: psycopg.Connection[DictRow], run_id: int) -> dict:
    row = conn.execute("SELECT * FROM connector_runs WHERE id = %s", (run_id,)).fetchone()
    if row is None:
        raise NotFound(f"connector run {run_id} not found")
    return row


def recent_runs(conn: psycopg.Connection[DictRow], connector_id: int, limit: int = 10) -> list[dict]:
    return conn.execute("SELECT * FROM connector_runs WHERE connector_id = %s ORDER BY id DESC LIMIT %s",
                        (connector_id, limit)).fetchall()


def start_run(conn: psycopg.Connection[DictRow], run_id: int) -> None:
    conn.execute("UPDATE connector_runs SET status = 'running', started_at = coalesce(started_at, now())"
                 " WHERE id = %s", (run_id,))


def count(conn: psycopg.Connection[DictRow], run_id: int | None, **inc: int) -> None:
    """Add to a run's counters (in the transaction of the effect they count)."""
    if run_id is None or not inc:
        return
    bad = set(inc) - set(_RUN_COUNTERS)
    if bad:
        raise ValueError(f"unknown run counters {sorted(bad)}")
    sets = ", ".join(f"{k} = {k} + %({k})s" for k in inc)
    conn.execute(f"UPDATE connector_runs SET {sets} WHERE id = %(id)s", {**inc, "id": run_id})


def set_listed(conn: psycopg.Connection[DictRow], run_id: int, *, listed: int, unchanged: int,
               deferred: int) -> None:
    """What this attempt of the run found (set, not added: a resumed run recounts them)."""
    conn.execute("UPDATE connector_runs SET listed = %s, unchanged = %s, deferred = %s WHERE id = %s",
                 (listed, unchanged, deferred, run_id))


def finish_run(conn: psycopg.Connection[DictRow], run_id: int, status: str, error: dict | None = None) -> None:
    conn.execute("UPDATE connector_runs SET status = %s, error = %s, finished_at = now() WHERE id = %s",
                 (status, Jsonb(error) if error else None, run_id))


# item states --------------------------------------------------------------------------------------
def item_states(conn: psycopg.Connection[DictRow], connector_id: int) -> dict[str, dict]:
    rows = conn.execute("SELECT * FROM connector_items WHERE connector_id = %s", (connector_id,)).fetchall()
    return {r["external_id"]: r for r in rows}


def item_state(conn: psycopg.Connection[DictRow], connector_id: int, external_id: str, *,
               lock: bool = False) -> dict | None:
    return conn.execute(
        "SELECT * FROM connector_items WHERE connector_id = %s AND external_id = %s"
        + (" FOR UPDATE" if lock else ""), (connector_id, external_id)).fetchone()


def items(conn: psycopg.Connection[DictRow], connector_id: int, *, failed_only: bool = False,
          limit: int = 100) -> list[dict]:
    return conn.execute(
        "SELECT external_id, version, document_id, status, attempts, next_attempt_at, error, updated_at"
        " FROM connector_items WHERE connector_id = %s" + (" AND status = 'failed'" if failed_only else "")
        + " ORDER BY external_id LIMIT %s", (connector_id, limit)).fetchall()


def save_item(conn: psycopg.Connection[DictRow], connector_id: int, external_id: str, *, version: str | None,
              document_id: int | None, status: str = "ok", attempts: int = 0, retry_after_s: float | None = None,
              error: dict | None = None, ref: dict[str, Any] | None = None, run_id: int | None = None) -> None:
    conn.execute(
        "INSERT INTO connector_items (connector_id, external_id, version, document_id, status, attempts,"
        " next_attempt_at, error, ref, run_id, updated_at) VALUES (%(c)s, %(e)s, %(v)s, %(d)s, %(s)s, %(a)s,"
        " CASE WHEN %(r)s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %(r)s) END,"
        " %(err)s, %(ref)s, %(run)s, now())"
        " ON CONFLICT (connector_id, external_id) DO UPDATE SET version = EXCLUDED.version,"
        " document_id = EXCLUDED.document_id, status = EXCLUDED.status, attempts = EXCLUDED.attempts,"
        " next_attempt_at = EXCLUDED.next_attempt_at, error = EXCLUDED.error, ref = EXCLUDED.ref,"
        " run_id = EXCLUDED.run_id, updated_at = now()",
        {"c": connector_id, "e": external_id, "v": version, "d": document_id, "s": status, "a": attempts,
         "r": retry_after_s, "err": Jsonb(error) if error else None, "ref": Jsonb(ref) if ref else None,
         "run": run_id})


def retry_now(conn: psycopg.Connection[DictRow], connector_id: int, external_id: str) -> None:
    """A failed item that is backing off becomes due now (it was pushed again)."""
    conn.execute("UPDATE connector_items SET next_attempt_at = now() WHERE connector_id = %s AND external_id = %s"
                 " AND status = 'failed' AND next_attempt_at IS NOT NULL", (connector_id, external_id))


def drop_item(conn: psycopg.Connection[DictRow], connector_id: int, external_id: str) -> None:
    conn.execute("DELETE FROM connector_items WHERE connector_id = %s AND external_id = %s",
                 (connector_id, external_id))



def db_now(conn: psycopg.Connection[DictRow]) -> Any:
    return one(conn.execute("SELECT now() AS now"))["now"]
