"""Per-user upload quotas: documents and bytes held, ingest jobs in flight.

Why this module exists: one worker serves a whole server, so one member uploading without limit
(or many small files at once) starves everyone else's ingestion and fills the disk. Uploads by
non-administrators are checked against ``[ingest]`` limits when they are accepted: documents the
user owns plus their jobs still queued or running (each may add one), bytes they own plus the
incoming file (bytes of files still queued are not counted: the jobs-in-flight limit bounds
them), and jobs in flight. A limit of 0 is no limit. ``QuotaExceeded`` (429) names the
quota and its limit, never other users' figures.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import DictRow

from tether.errors import QuotaExceeded
from tether.settings import IngestSettings
from tether.store.rows import one
from tether.types import Principal

__all__ = ["check_quota", "usage"]


def usage(conn: psycopg.Connection[DictRow], principal: Principal) -> dict[str, int]:
    """``documents``, ``bytes`` owned by ``principal`` and their ingest ``jobs`` in flight."""
    held = one(conn.execute("SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS b FROM documents"
                            " WHERE owner_id = %s", (principal.id,)))
    jobs = one(conn.execute("SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running')"
                            " AND payload->>'owner' = %s", (principal.name,)))
    return {"documents": int(held["n"]), "bytes": int(held["b"]), "jobs": int(jobs["n"])}


def check_quota(conn: psycopg.Connection[DictRow], principal: Principal, limits: IngestSettings, *,
                incoming_bytes: int = 0) -> None:
    """QuotaExceeded when one more upload (of ``incoming_bytes``) would pass a limit."""
    if principal.is_admin:
        return
    u = usage(conn, principal)
    if limits.user_max_active_jobs and u["jobs"] >= limits.user_max_active_jobs:
        raise QuotaExceeded(f"you have {u['jobs']:,} uploads still being ingested; the limit is"
                            f" {limits.user_max_active_jobs:,} at a time", quota="active_jobs",
                            limit=limits.user_max_active_jobs, retry_after=30)
    if limits.user_max_documents and u["documents"] + u["jobs"] >= limits.user_max_documents:
        raise QuotaExceeded(f"you hold {u['documents'] + u['jobs']:,} documents (with uploads in progress); the"
                            f" limit is {limits.user_max_documents:,}", quota="documents",
                            limit=limits.user_max_documents)
    if limits.user_max_bytes and u["bytes"] + incoming_bytes > limits.user_max_bytes:
        raise QuotaExceeded(f"this upload would bring your documents to {u['bytes'] + incoming_bytes:,} bytes;"
                            f" the limit is {limits.user_max_bytes:,}", quota="bytes", limit=limits.user_max_bytes)
