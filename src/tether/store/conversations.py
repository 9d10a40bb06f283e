"""The SQL of conversations (migration 0013): threads, their turns, and the permission re-check
of what a turn derives from.

Every read and write of a thread names its owner (``principal_id``) in the statement itself, so a
thread id of another principal behaves exactly like one that does not exist. The policy (what is
redacted, how history is built) is :mod:`tether.services.conversations`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from tether.errors import NotFound
from tether.store.rls import enter_reader
from tether.store.rows import one

_THREAD = "id::text AS id, title, turn_count, created_at, updated_at"
_TURN = ("ordinal, question, standalone, rewrite, answer, document_ids, rewrite_doc_ids, trace_id, feedback,"
         " created_at")


def thread_id(value: str) -> uuid.UUID:
    """The thread id as a UUID; anything else is NotFound (the same error as a missing thread)."""
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"no conversation {str(value)[:64]!r}") from None


def create(conn: psycopg.Connection[DictRow], principal_id: int, title: str) -> dict:
    return one(conn.execute(f"INSERT INTO conversations (principal_id, title) VALUES (%s, %s) RETURNING {_THREAD}",
                            (principal_id, title)))


def get(conn: psycopg.Connection[DictRow], principal_id: int, cid: str, *, lock: bool = False) -> dict:
    """The thread if ``principal_id`` owns it; NotFound otherwise (missing or someone else's alike)."""
    row = conn.execute(f"SELECT {_THREAD} FROM conversations WHERE id = %s AND principal_id = %s"
                       + (" FOR UPDATE" if lock else ""), (thread_id(cid), principal_id)).fetchone()
    if row is None:
        raise NotFound(f"no conversation {str(cid)[:64]!r}")
    return row


def list_threads(conn: psycopg.Connection[DictRow], principal_id: int, limit: int = 100) -> list[dict]:
    return conn.execute(f"SELECT {_THREAD} FROM conversations WHERE principal_id = %s"
                        " ORDER BY updated_at DESC, id LIMIT %s", (principal_id, max(1, min(limit, 1000)))).fetchall()


def rename(conn: psycopg.Connection[DictRow], principal_id: int, cid: str, title: str) -> dict:
    row = conn.execute(f"UPDATE conversations SET title = %s, updated_at = now() WHERE id = %s AND principal_id = %s"
                       f" RETURNING {_THREAD}", (title, thread_id(cid), principal_id)).fetchone()
    if row is None:
        raise NotFound(f"no conversation {str(cid)[:64]!r}")
    return row


def delete(conn: psycopg.Connection[DictRow], principal_id: int, cid: str) -> dict:
    """Delete the thread, its turns (cascade) and the cached answers its turns produced or were
    served; returns ``{"turns", "cached_answers"}``. NotFound as :func:`get`."""
    tid = thread_id(cid)
    row = conn.execute("SELECT turn_count FROM conversations WHERE id = %s AND principal_id = %s FOR UPDATE",
                       (tid, principal_id)).fetchone()
    if row is None:
        raise NotFound(f"no conversation {str(cid)[:64]!r}")
    cached = _delete_cached(conn, [tid])
    conn.execute("DELETE FROM conversations WHERE id = %s", (tid,))
    return {"turns": int(row["turn_count"]), "cached_answers": cached}


def purge(conn: psycopg.Connection[DictRow], older_than_days: float) -> dict:
    """Delete threads not updated for ``older_than_days`` days (with their turns and cached answers)."""
    ids = [r["id"] for r in conn.execute(
        "SELECT id FROM conversations WHERE updated_at < now() - make_interval(secs => %s) FOR UPDATE",
        (float(older_than_days) * 86400,)).fetchall()]
    if not ids:
        return {"conversations": 0, "cached_answers": 0}
    cached = _delete_cached(conn, ids)
    conn.execute("DELETE FROM conversations WHERE id = ANY(%s)", (ids,))
    return {"conversations": len(ids), "cached_answers": cached}


def _delete_cached(conn: psycopg.Connection[DictRow], ids: list[Any]) -> int:
    return conn.execute(
        "DELETE FROM answer_cache WHERE key_hash IN (SELECT cache_key FROM conversation_turns"
        " WHERE conversation_id = ANY(%s) AND cache_key IS NOT NULL)", (ids,)).rowcount


def turns(conn: psycopg.Connection[DictRow], cid: str, *, last: int | None = None) -> list[dict]:
    """The thread's turns, oldest first (only the newest ``last`` when given). The caller has
    checked ownership (:func:`get`)."""
    tid = thread_id(cid)
    if last is None:
        return conn.execute(f"SELECT {_TURN} FROM conversation_turns WHERE conversation_id = %s ORDER BY ordinal",
                            (tid,)).fetchall()
    rows = conn.execute(f"SELECT {_TURN} FROM conversation_turns WHERE conversation_id = %s"
                        " ORDER BY ordinal DESC LIMIT %s", (tid, max(0, last))).fetchall()
    return rows[::-1]


def add_turn(conn: psycopg.Connection[DictRow], principal_id: int, cid: str, *, question: str, standalone: str,
             rewrite: dict, answer: dict, document_ids: Iterable[int], rewrite_doc_ids: Iterable[int],
             trace_id: str | None, cache_key: str | None, title: str = "") -> dict:
    """Append a turn (the thread locked, so concurrent turns get consecutive ordinals); the first
    turn names an untitled thread."""
    tid = get(conn, principal_id, cid, lock=True)["id"]
    row = one(conn.execute(
        "UPDATE conversations SET turn_count = turn_count + 1, updated_at = now(),"
        " title = CASE WHEN title = '' THEN %s ELSE title END WHERE id = %s RETURNING turn_count",
        (title, tid)))
    return one(conn.execute(
        "INSERT INTO conversation_turns (conversation_id, ordinal, question, standalone, rewrite, answer,"
        " document_ids, rewrite_doc_ids, trace_id, cache_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        f" RETURNING {_TURN}",
        (tid, row["turn_count"], question, standalone, _jsonb(rewrite), _jsonb(answer), sorted(set(document_ids)),
         sorted(set(rewrite_doc_ids)), trace_id, cache_key)))


def set_feedback(conn: psycopg.Connection[DictRow], cid: str, ordinal: int, rating: str) -> dict:
    row = conn.execute("UPDATE conversation_turns SET feedback = %s WHERE conversation_id = %s AND ordinal = %s"
                       " RETURNING trace_id, answer, question", (rating, thread_id(cid), ordinal)).fetchone()
    if row is None:
        raise NotFound(f"no turn {ordinal} in this conversation")
    return row


def readable(conn: psycopg.Connection[DictRow], doc_ids: Iterable[int], acl_tokens: list[str]) -> set[int]:
    """Which of ``doc_ids`` exist and are readable by ``acl_tokens`` now (as ``tether_reader``:
    row-level security under the explicit predicate). Call it on a connection outside any
    transaction: the reader role lasts until the transaction it opens ends."""
    ids = sorted({int(i) for i in doc_ids})
    if not ids:
        return set()
    with conn.transaction():
        enter_reader(conn, acl_tokens)
        rows = conn.execute("SELECT id FROM documents WHERE id = ANY(%s) AND acl && %s::text[]",
                            (ids, list(acl_tokens))).fetchall()
    return {int(r["id"]) for r in rows}


def _jsonb(obj: object) -> Jsonb:
    return Jsonb(obj, dumps=lambda o: json.dumps(o, default=str))
