"""Row-level security as a second wall under the application's own permission filter.

Inside a transaction, ``enter_reader(conn, tokens)`` switches to the ``tether_reader`` role and
publishes the principal's ACL tokens; the policies of migration 0002 then hide every chunk and
document row the principal may not read. The application filter stays in every query: RLS is
the wall behind it, not a replacement. Where the role could not be created (a managed server
without CREATEROLE), this is a no-op and the application filter alone applies.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

log = logging.getLogger(__name__)
_available: dict[str, bool] = {}


def available(conn: psycopg.Connection[Any]) -> bool:
    key = conn.info.dsn
    if key not in _available:
        row = conn.execute("SELECT pg_has_role(current_user, 'tether_reader', 'MEMBER') AS ok"
                           " WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tether_reader')").fetchone()
        _available[key] = bool(row and (row["ok"] if isinstance(row, dict) else row[0]))
        if not _available[key]:
            log.warning("role tether_reader is missing: row-level security is off for %s", key)
    return _available[key]


def enter_reader(conn: psycopg.Connection[Any], acl_tokens: list[str]) -> bool:
    """Call inside a transaction; lasts until it ends. Returns whether RLS is active."""
    if not available(conn):
        return False
    if any("," in t for t in acl_tokens):
        raise ValueError("ACL tokens must not contain commas")
    conn.execute("SELECT set_config('tether.acl', %s, true)", (",".join(acl_tokens),))
    conn.execute("SET LOCAL ROLE tether_reader")
    return True
