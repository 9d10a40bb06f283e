"""Upload quotas, per user and per API key: documents and bytes held, ingest jobs in flight,
chunks per document.

Why this module exists: one worker serves a whole server, so one member uploading without limit
(or many small files at once) starves everyone else's ingestion and fills the disk; and one
user's integration (a script with its own key) must not use up what the user's other keys and
their browser session are allowed. Uploads are checked when they are accepted:

- **per user** (non-administrators, ``[ingest] user_max_*``): documents the user owns plus their
  jobs still queued or running (each may add one), bytes they own plus the incoming file (bytes
  of files still queued are not counted: the jobs-in-flight limit bounds them), jobs in flight;
- **per key** (the key the request authenticated with, a session counting as the key it was
  opened with): the same three over the documents that key last wrote and the jobs it queued.
  A key's own limits (columns of ``api_keys``, migration 0019) bind whoever uses it,
  administrators included; where a key has none, ``[ingest] key_max_*`` applies to
  non-administrators' keys.

A limit of 0 is no limit. ``QuotaExceeded`` (429) names the quota, its scope (``user`` or
``api_key``) and its limit, never other users' figures. The chunk limit cannot be checked
before the document is cut, so ``chunk_limit`` gives the tightest one, which travels with the
job and refuses the document (``DocumentTooComplex``) before anything is embedded.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import DictRow

from tether.errors import QuotaExceeded
from tether.settings import IngestSettings
from tether.store.rows import one
from tether.types import Principal

__all__ = ["KEY_LIMITS", "check_quota", "chunk_limit", "key_limits", "key_usage", "usage"]

#: The limits a key can carry (``api_keys`` columns; ``[ingest] key_<name>`` their defaults).
KEY_LIMITS = ("max_documents", "max_bytes", "max_chunks_per_document", "max_active_jobs")


def usage(conn: psycopg.Connection[DictRow], principal: Principal) -> dict[str, int]:
    """``documents``, ``bytes`` owned by ``principal`` and their ingest ``jobs`` in flight."""
    held = one(conn.execute("SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS b FROM documents"
                            " WHERE owner_id = %s", (principal.id,)))
    jobs = one(conn.execute("SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running')"
                            " AND payload->>'owner' = %s", (principal.name,)))
    return {"documents": int(held["n"]), "bytes": int(held["b"]), "jobs": int(jobs["n"])}


def key_usage(conn: psycopg.Connection[DictRow], key_id: int) -> dict[str, int]:
    """``documents`` and ``bytes`` last written through API key ``key_id``, its ``jobs`` in flight."""
    held = one(conn.execute("SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS b FROM documents"
                            " WHERE api_key_id = %s", (key_id,)))
    jobs = one(conn.execute("SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running')"
                            " AND payload->>'api_key_id' = %s", (str(key_id),)))
    return {"documents": int(held["n"]), "bytes": int(held["b"]), "jobs": int(jobs["n"])}


def key_limits(conn: psycopg.Connection[DictRow], principal: Principal, limits: IngestSettings) -> dict[str, int]:
    """The quotas of the key ``principal`` authenticated with (none without a key), 0 meaning none."""
    if principal.api_key_id is None:
        return {}
    row = conn.execute("SELECT max_documents, max_bytes, max_chunks_per_document, max_active_jobs"
                       " FROM api_keys WHERE id = %s", (principal.api_key_id,)).fetchone()
    out = {}
    for name in KEY_LIMITS:
        own = row[name] if row is not None else None
        if own is not None:
            out[name] = int(own)
        elif not principal.is_admin:
            out[name] = int(getattr(limits, f"key_{name}"))
    return out


def chunk_limit(conn: psycopg.Connection[DictRow], principal: Principal, limits: IngestSettings) -> int | None:
    """The tightest per-user or per-key chunk limit for ``principal``'s next upload (None: only
    ``[ingest] max_chunks_per_document``, which binds everyone, applies)."""
    found = [key_limits(conn, principal, limits).get("max_chunks_per_document", 0)]
    if not principal.is_admin:
        found.append(limits.user_max_chunks_per_document)
    found = [n for n in found if n]
    return min(found) if found else None


def check_quota(conn: psycopg.Connection[DictRow], principal: Principal, limits: IngestSettings, *,
                incoming_bytes: int = 0) -> None:
    """QuotaExceeded when one more upload (of ``incoming_bytes``) would pass a limit of the user
    or of the API key the request came with."""
    if not principal.is_admin:
        _check("user", "you", usage(conn, principal), incoming_bytes, max_documents=limits.user_max_documents,
               max_bytes=limits.user_max_bytes, max_active_jobs=limits.user_max_active_jobs)
    if principal.api_key_id is not None:
        own = key_limits(conn, principal, limits)
        if any(own.get(n) for n in ("max_documents", "max_bytes", "max_active_jobs")):
            _check("api_key", "this API key", key_usage(conn, principal.api_key_id), incoming_bytes,
                   max_documents=own.get("max_documents", 0), max_bytes=own.get("max_bytes", 0),
                   max_active_jobs=own.get("max_active_jobs", 0))


def _check(scope: str, who: str, u: dict[str, int], incoming_bytes: int, *, max_documents: int,
           max_bytes: int, max_active_jobs: int) -> None:
    has = "you have" if who == "you" else f"{who} has"
    holds = "you hold" if who == "you" else f"{who} holds"
    if max_active_jobs and u["jobs"] >= max_active_jobs:
        raise QuotaExceeded(f"{has} {u['jobs']:,} uploads still being ingested; the limit is"
                            f" {max_active_jobs:,} at a time", quota="active_jobs", scope=scope,
                            limit=max_active_jobs, retry_after=30)
    if max_documents and u["documents"] + u["jobs"] >= max_documents:
        raise QuotaExceeded(f"{holds} {u['documents'] + u['jobs']:,} documents (with uploads in progress); the"
                            f" limit is {max_documents:,}", quota="documents", scope=scope, limit=max_documents)
    if max_bytes and u["bytes"] + incoming_bytes > max_bytes:
        mine = "your documents" if who == "you" else f"the documents of {who}"
        raise QuotaExceeded(f"this upload would bring {mine} to {u['bytes'] + incoming_bytes:,} bytes;"
                            f" the limit is {max_bytes:,}", quota="bytes", scope=scope, limit=max_bytes)
