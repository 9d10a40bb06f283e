"""Versioned schema migrations, applied on start.

Migrations are an append-only list of SQL files in ``store/sql/`` named ``NNNN_name.sql``.
Never edit a released file; add a new one. Each file runs in its own transaction, under an
advisory lock so that several processes starting at once apply each migration exactly once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

log = logging.getLogger(__name__)

_LOCK_KEY = 0x7E7E_0001
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    out = []
    for entry in resources.files("tether.store").joinpath("sql").iterdir():
        m = _NAME.match(entry.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), entry.read_text()))
    out.sort(key=lambda m: m.version)
    versions = [m.version for m in out]
    if versions != list(range(1, len(out) + 1)):
        raise RuntimeError(f"migration versions must be 1..N without gaps, got {versions}")
    return out


def applied_versions(conn: psycopg.Connection[Any]) -> set[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
    return {r[0] if isinstance(r, tuple) else r["version"] for r in rows}


def apply_migrations(conn: psycopg.Connection[Any], *, target: int | None = None) -> list[int]:
    """Apply pending migrations up to ``target`` (default: all). Returns the versions applied."""
    done: list[int] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        have = applied_versions(conn)
        for mig in available():
            if target is not None and mig.version > target:
                break
            if mig.version in have:
                continue
            log.info("applying migration %04d_%s", mig.version, mig.name)
            with conn.transaction():
                conn.execute(mig.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (mig.version, mig.name),
                )
            done.append(mig.version)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done
