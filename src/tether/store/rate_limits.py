"""Rate limits per API key, counted in PostgreSQL so every API process shares them.

One atomic upsert per request increments the caller's count for the current minute; the
caller is refused when the count passes the limit. Old windows are swept now and then.
Failed authentications are counted in the same table (keys ``authfail:ip:...`` and
``authfail:key:...``) with :func:`add` and checked, before each attempt, with :func:`refuse_over`.
"""

from __future__ import annotations

import random

import psycopg
from psycopg.rows import DictRow

from tether.errors import RateLimited
from tether.store.rows import one


def hit(conn: psycopg.Connection[DictRow], key: str, limit_per_minute: int) -> int:
    """Count one request for ``key``; raise :class:`RateLimited` over the limit. Returns the count."""
    row = one(conn.execute(
        "INSERT INTO rate_windows (key, window_start, hits) VALUES (%s, date_trunc('minute', now()), 1)"
        " ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_windows.hits + 1"
        " RETURNING hits, ceil(extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now()))"
        " AS retry_after",
        (key,),
    ))
    if random.random() < 0.01:
        conn.execute("DELETE FROM rate_windows WHERE window_start < now() - interval '10 minutes'")
    hits = int(row["hits"])
    if hits > limit_per_minute:
        retry = max(int(row["retry_after"]), 1)
        raise RateLimited(f"rate limit of {limit_per_minute} requests per minute reached; retry in {retry} s",
                          limit=limit_per_minute, retry_after=retry)
    return hits


def add(conn: psycopg.Connection[DictRow], keys: list[str]) -> None:
    """Count one event for each of ``keys`` in the current minute (no limit checked)."""
    for key in keys:
        conn.execute(
            "INSERT INTO rate_windows (key, window_start, hits) VALUES (%s, date_trunc('minute', now()), 1)"
            " ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_windows.hits + 1", (key,))


def refuse_over(conn: psycopg.Connection[DictRow], keys: list[str], limit: int, what: str) -> None:
    """:class:`RateLimited` when any of ``keys`` has reached ``limit`` this minute (nothing is counted)."""
    row = conn.execute(
        "SELECT max(hits) AS hits, ceil(extract(epoch FROM date_trunc('minute', now()) + interval '1 minute'"
        " - now())) AS retry_after FROM rate_windows"
        " WHERE key = ANY(%s) AND window_start = date_trunc('minute', now())",
        (keys,)).fetchone()
    if row is not None and row["hits"] is not None and int(row["hits"]) >= limit:
        retry = max(int(row["retry_after"]), 1)
        raise RateLimited(f"{what}; retry in {retry} s", limit=limit, retry_after=retry)
