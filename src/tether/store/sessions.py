"""Browser sessions for the web UI: a random id in an HttpOnly cookie maps to a principal here.

Only a SHA-256 hash of the id is stored, so a database dump cannot be replayed as cookies.
A session is tied to the API key it was opened with: revoking the key ends the session. A
single sign-on session has no key; deactivating its user ends it (and every other) at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import timedelta

import psycopg
from psycopg.rows import DictRow

from tether.errors import Unauthenticated
from tether.store.api_keys import key_id
from tether.store.principals import get_principal
from tether.types import Principal


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def open_session(conn: psycopg.Connection[DictRow], api_key: str, principal: Principal, *, ttl_s: int) -> str:
    """A new session id for ``principal`` (who authenticated with ``api_key``)."""
    sid = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO sessions (id_hash, principal_id, api_key_id, expires_at)"
        " VALUES (%s, %s, %s, now() + %s)",
        (_hash(sid), principal.id, key_id(conn, api_key), timedelta(seconds=ttl_s)),
    )
    conn.execute("DELETE FROM sessions WHERE expires_at < now()")
    return sid


def open_sso_session(conn: psycopg.Connection[DictRow], principal: Principal, *, ttl_s: int) -> str:
    """A new session id for ``principal`` signed in through the identity provider (no API key:
    the session lives until it expires, the user signs out or is deactivated)."""
    sid = secrets.token_urlsafe(32)
    conn.execute("INSERT INTO sessions (id_hash, principal_id, expires_at) VALUES (%s, %s, now() + %s)",
                 (_hash(sid), principal.id, timedelta(seconds=ttl_s)))
    conn.execute("DELETE FROM sessions WHERE expires_at < now()")
    return sid


def session_principal(conn: psycopg.Connection[DictRow], sid: str) -> Principal:
    """The principal of a live session whose API key is still valid, or :class:`Unauthenticated`."""
    row = conn.execute(
        "SELECT p.name, s.api_key_id FROM sessions s JOIN principals p ON p.id = s.principal_id"
        " LEFT JOIN api_keys k ON k.id = s.api_key_id"
        " WHERE s.id_hash = %s AND s.expires_at > now() AND p.active"
        " AND (s.api_key_id IS NULL OR (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())))",
        (_hash(sid),),
    ).fetchone()
    if row is None:
        raise Unauthenticated("session expired or signed out; sign in again")
    return dataclasses.replace(get_principal(conn, row["name"]), api_key_id=row["api_key_id"])


def close_session(conn: psycopg.Connection[DictRow], sid: str) -> None:
    conn.execute("DELETE FROM sessions WHERE id_hash = %s", (_hash(sid),))
