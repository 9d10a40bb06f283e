"""API keys: only a SHA-256 hash is stored; the key is shown once at creation.

A key looks like ``tth_<8-char prefix>_<32-char secret>``; the prefix identifies it in
listings and audit logs without revealing it. Keys can expire and be revoked; a revoked or
expired key stops working on the next request, and so does every key of a deactivated user.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import datetime

import psycopg
from psycopg.rows import DictRow

from tether.errors import InvalidInput, NotFound, Unauthenticated
from tether.store.principals import _user_id, get_principal
from tether.store.rows import one
from tether.types import Principal


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


#: Upload quotas a key may carry (``store/quotas.py``); None: the ``[ingest] key_max_*`` default.
LIMITS = ("max_documents", "max_bytes", "max_chunks_per_document", "max_active_jobs")


def create_key(conn: psycopg.Connection[DictRow], user: str, *, name: str = "",
               expires_at: datetime | None = None, limits: dict[str, int | None] | None = None) -> dict:
    """A new key for ``user``, with its own upload ``limits`` (keys of ``LIMITS``) if given."""
    uid = _user_id(conn, user)
    given = {k: v for k, v in (limits or {}).items() if v is not None}
    if set(given) - set(LIMITS) or any(not isinstance(v, int) or v < 0 for v in given.values()):
        raise InvalidInput(f"key limits are non-negative integers named {', '.join(LIMITS)}")
    prefix = secrets.token_hex(4)
    key = f"tth_{prefix}_{secrets.token_urlsafe(24)}"
    row = one(conn.execute(
        "INSERT INTO api_keys (principal_id, name, prefix, key_hash, expires_at, max_documents, max_bytes,"
        " max_chunks_per_document, max_active_jobs) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id, created_at",
        (uid, name, prefix, _hash(key), expires_at, *(given.get(k) for k in LIMITS)),
    ))
    return {"id": int(row["id"]), "key": key, "prefix": prefix, "user": user, "name": name,
            "created_at": row["created_at"], "expires_at": expires_at, **{k: given.get(k) for k in LIMITS}}


def authenticate(conn: psycopg.Connection[DictRow], key: str) -> Principal:
    """The principal of a valid key, or :class:`Unauthenticated` (one message for every failure)."""
    if not key or not key.startswith("tth_"):
        raise Unauthenticated("invalid or expired API key")
    row = conn.execute(
        "SELECT p.name, k.id FROM api_keys k JOIN principals p ON p.id = k.principal_id"
        " WHERE k.key_hash = %s AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())"
        " AND p.active",  # a deactivated user's keys stop at once (migration 0015)
        (_hash(key),),
    ).fetchone()
    if row is None:
        raise Unauthenticated("invalid or expired API key")
    return dataclasses.replace(get_principal(conn, row["name"]), api_key_id=int(row["id"]))


def key_id(conn: psycopg.Connection[DictRow], key: str) -> int | None:
    row = conn.execute("SELECT id FROM api_keys WHERE key_hash = %s", (_hash(key),)).fetchone()
    return int(row["id"]) if row else None


def revoke(conn: psycopg.Connection[DictRow], key_id_or_prefix: str) -> None:
    col = "id" if key_id_or_prefix.isdigit() else "prefix"
    n = conn.execute(
        f"UPDATE api_keys SET revoked_at = now() WHERE {col} = %s AND revoked_at IS NULL",
        (int(key_id_or_prefix) if col == "id" else key_id_or_prefix,),
    ).rowcount
    if n == 0:
        raise NotFound(f"no active API key {key_id_or_prefix!r}")


def list_keys(conn: psycopg.Connection[DictRow], user: str | None = None) -> list[dict]:
    sql = ("SELECT k.id, k.prefix, k.name, p.name AS user, k.created_at, k.expires_at, k.revoked_at,"
           " k.max_documents, k.max_bytes, k.max_chunks_per_document, k.max_active_jobs"
           " FROM api_keys k JOIN principals p ON p.id = k.principal_id")
    params: list[object] = []
    if user:
        sql += " WHERE p.name = %s"
        params.append(user)
    return conn.execute(sql + " ORDER BY k.id", params).fetchall()
