"""A job queue in PostgreSQL shared by any number of workers on any number of machines.

Claiming uses ``FOR UPDATE SKIP LOCKED``. A running job whose worker died (its session's
backend is gone, or its heartbeat is older than the lease) is claimed again; a job's effects
and its ``done`` mark are committed in one transaction by the worker, so a job is never
half-done and never applied twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from tether.store.rows import one


@dataclass(frozen=True)
class Job:
    id: int
    batch_id: str
    kind: str
    payload: dict
    attempts: int


def new_batch_id() -> str:
    return uuid.uuid4().hex[:16]


def enqueue(conn: psycopg.Connection[DictRow], kind: str, payloads: list[dict], batch_id: str | None = None) -> str:
    batch_id = batch_id or new_batch_id()
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO jobs (batch_id, kind, payload) VALUES (%s, %s, %s)",
            [(batch_id, kind, Jsonb(p)) for p in payloads],
        )
    return batch_id


_ABANDONED = (
    "(j.status = 'running' AND (j.heartbeat_at < now() - make_interval(secs => %(lease)s)"
    " OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = j.worker_pid)))"
)


def fail_exhausted(conn: psycopg.Connection[DictRow], *, lease_s: float, max_attempts: int) -> int:
    """Mark abandoned jobs that already used every attempt as failed."""
    return conn.execute(
        "UPDATE jobs j SET status = 'failed', finished_at = now(),"
        " error = jsonb_build_object('code', 'worker_lost', 'message',"
        "  'the worker processing this job stopped ' || j.attempts || ' times')"
        f" WHERE {_ABANDONED} AND j.attempts >= %(max)s",
        {"lease": lease_s, "max": max_attempts},
    ).rowcount


def claim(
    conn: psycopg.Connection[DictRow], worker: str, *, lease_s: float, max_attempts: int,
    kinds: tuple[str, ...] | None = None, batch_id: str | None = None,
) -> Job | None:
    """Claim the oldest runnable job; commits so the claim is visible to others."""
    with conn.transaction():
        fail_exhausted(conn, lease_s=lease_s, max_attempts=max_attempts)
        extra = ""
        params: dict[str, object] = {"lease": lease_s, "max": max_attempts, "worker": worker}
        if kinds:
            extra += " AND j.kind = ANY(%(kinds)s)"
            params["kinds"] = list(kinds)
        if batch_id:
            extra += " AND j.batch_id = %(batch)s"
            params["batch"] = batch_id
        row = conn.execute(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = %(worker)s,"
            " worker_pid = pg_backend_pid(), heartbeat_at = now(), started_at = coalesce(started_at, now())"
            " WHERE id = (SELECT j.id FROM jobs j WHERE"
            f" (j.status = 'queued' OR ({_ABANDONED} AND j.attempts < %(max)s)){extra}"
            " ORDER BY j.id FOR UPDATE SKIP LOCKED LIMIT 1)"
            " RETURNING id, batch_id, kind, payload, attempts",
            params,
        ).fetchone()
    if row is None:
        return None
    return Job(int(row["id"]), row["batch_id"], row["kind"], row["payload"], int(row["attempts"]))


def heartbeat(conn: psycopg.Connection[Any], job_id: int, attempts: int) -> None:
    conn.execute(
        "UPDATE jobs SET heartbeat_at = now() WHERE id = %s AND attempts = %s AND status = 'running'",
        (job_id, attempts),
    )


def complete(conn: psycopg.Connection[DictRow], job: Job, result: dict) -> bool:
    """Mark done; call inside the transaction that applied the job's effects."""
    return conn.execute(
        "UPDATE jobs SET status = 'done', result = %s, error = NULL, finished_at = now()"
        " WHERE id = %s AND attempts = %s AND status = 'running'",
        (Jsonb(result), job.id, job.attempts),
    ).rowcount == 1


def fail(conn: psycopg.Connection[DictRow], job: Job, error: dict, *, retry: bool) -> None:
    conn.execute(
        "UPDATE jobs SET status = %s, error = %s, finished_at = CASE WHEN %s THEN NULL ELSE now() END,"
        " worker_pid = NULL WHERE id = %s AND attempts = %s",
        ("queued" if retry else "failed", Jsonb(error), retry, job.id, job.attempts),
    )


def batch_status(conn: psycopg.Connection[DictRow], batch_id: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) AS n FROM jobs WHERE batch_id = %s GROUP BY status", (batch_id,)
    ).fetchall()
    out = {"queued": 0, "running": 0, "done": 0, "failed": 0}
    out.update({r["status"]: int(r["n"]) for r in rows})
    out["total"] = sum(out[s] for s in ("queued", "running", "done", "failed"))
    return out


def batch_jobs(conn: psycopg.Connection[DictRow], batch_id: str) -> list[dict]:
    return conn.execute(
        "SELECT id, kind, payload, status, attempts, result, error FROM jobs WHERE batch_id = %s ORDER BY id",
        (batch_id,),
    ).fetchall()


def get_job(conn: psycopg.Connection[DictRow], job_id: int) -> dict | None:
    return conn.execute("SELECT * FROM jobs WHERE id = %s", (job_id,)).fetchone()


def queue_depth(conn: psycopg.Connection[DictRow]) -> int:
    return int(one(conn.execute("SELECT count(*) AS n FROM jobs WHERE status IN ('queued','running')"))["n"])


def active_by_kind(conn: psycopg.Connection[DictRow]) -> list[dict]:
    """Jobs queued or running, counted per (kind, status): the queue depth metrics."""
    return conn.execute(
        "SELECT kind, status, count(*) AS n FROM jobs WHERE status IN ('queued', 'running')"
        " GROUP BY kind, status").fetchall()


def ingest_outcomes(conn: psycopg.Connection[DictRow]) -> list[dict]:
    """Finished ingest jobs per outcome (failed, or the result's status) with their chunks."""
    return conn.execute(
        "SELECT CASE WHEN status = 'failed' THEN 'failed' ELSE coalesce(result->>'status', 'done') END"
        " AS outcome, count(*) AS n, coalesce(sum((result->>'chunks')::bigint), 0) AS chunks"
        " FROM jobs WHERE kind = 'ingest_file' AND status IN ('done', 'failed') GROUP BY 1").fetchall()
