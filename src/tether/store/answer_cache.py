"""The answer cache's SQL (tables of migration 0010): entries, per-token change rows, counters.

The policy (what is cached, for whom, and the three walls that keep entries inside permissions)
is :mod:`tether.cache.answers`; this module only reads and writes the rows, so the cache's SQL
lives in ``store/`` with the rest.
"""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from tether.store.rows import one

#: Counter rows (spread so concurrent requests rarely wait on the same one).
SHARDS = 8

#: Every source document (same version and ``updated_at``) and chunk (not quarantined) of an
#: entry is still readable by ``%(tokens)s``: evaluated in the statement that fetches the entry.
VALID = (
    "(SELECT count(*) FROM unnest(c.doc_ids, c.doc_versions, c.doc_stamps) AS w(id, version, stamp)"
    "   JOIN documents d ON d.id = w.id AND d.version = w.version AND d.updated_at = w.stamp"
    "  WHERE d.acl && %(tokens)s::text[]) = cardinality(c.doc_ids)"
    " AND (SELECT count(*) FROM chunks k WHERE k.id = ANY(c.chunk_ids) AND k.acl && %(tokens)s::text[]"
    "      AND NOT k.quarantined) = cardinality(c.chunk_ids)"
)
_COLS = ("c.id, c.model, c.answer, c.passages, c.confidence, c.cost_usd, c.latency_ms, c.created_at,"
         f" {VALID} AS valid")


def tables_exist(conn: psycopg.Connection[DictRow]) -> bool:
    row = one(conn.execute("SELECT to_regclass('answer_cache') IS NOT NULL"
                           " AND to_regclass('answer_cache_changes') IS NOT NULL AS ok"))
    return bool(row["ok"])


def token_versions(conn: psycopg.Connection[DictRow], tokens: list[str]) -> list[dict]:
    """Per token: whether it is effective (not a personal token no document names), its version
    (the sum of its change rows) and how many rows make it up."""
    return conn.execute(
        "SELECT t.token,"
        " (left(t.token, 2) <> 'u:' OR EXISTS (SELECT 1 FROM documents d WHERE d.acl @> ARRAY[t.token])) AS effective,"
        " coalesce(s.total, 0) AS version, coalesce(s.n_rows, 0) AS n_rows"
        " FROM unnest(%s::text[]) AS t(token)"
        " LEFT JOIN LATERAL (SELECT sum(c.n) AS total, count(*) AS n_rows FROM answer_cache_changes c"
        "                    WHERE c.token = t.token) s ON true",
        (sorted(set(tokens)),),
    ).fetchall()


def exact_entries(conn: psycopg.Connection[DictRow], tokens: list[str], key_hash: str) -> list[dict]:
    """The live entry of ``key_hash`` (0 or 1 rows), with ``valid`` for ``tokens``."""
    return conn.execute(
        f"SELECT {_COLS}, true AS exact, 1.0::float8 AS similarity FROM answer_cache c"
        " WHERE c.key_hash = %(key)s AND c.expires_at > now()", {"tokens": tokens, "key": key_hash}).fetchall()


def near_entries(conn: psycopg.Connection[DictRow], tokens: list[str], *, key_hash: str, scope_hash: str,
                 signature: str, vector: np.ndarray, n: int, threshold: float, asker_id: int) -> list[dict]:
    """The ``n`` closest live entries of the scope with the same question signature, at or above
    ``threshold`` cosine similarity (best first), each with ``valid`` for ``tokens``; only
    entries ``asker_id`` stored (a paraphrase hit must not show another user's question)."""
    return conn.execute(
        f"SELECT {_COLS}, false AS exact, c.similarity FROM ("
        "  SELECT e.*, 1 - (e.embedding <=> %(vec)s::vector) AS similarity FROM answer_cache e"
        "   WHERE e.scope_hash = %(scope)s AND e.question_sig = %(sig)s AND e.embedding IS NOT NULL"
        "     AND e.expires_at > now() AND e.key_hash <> %(key)s AND e.asker_id = %(asker)s"
        "   ORDER BY e.embedding <=> %(vec)s::vector LIMIT %(n)s) c"
        " WHERE c.similarity >= %(threshold)s ORDER BY c.similarity DESC",
        {"tokens": tokens, "key": key_hash, "scope": scope_hash, "sig": signature, "vec": vector, "n": n,
         "threshold": float(threshold), "asker": asker_id}).fetchall()


def repeatable_read(conn: psycopg.Connection[DictRow]) -> None:
    """The current transaction sees one snapshot (versions and documents read together)."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def readable_documents(conn: psycopg.Connection[DictRow], doc_ids: list[int], tokens: list[str]) -> list[dict]:
    return conn.execute(
        "SELECT id, version, updated_at FROM documents WHERE id = ANY(%s) AND acl && %s::text[] ORDER BY id",
        (doc_ids, tokens)).fetchall()


def upsert(conn: psycopg.Connection[DictRow], *, key: str, scope: str, perm: str, version: str, signature: str,
           vector: np.ndarray | None, model: str, answer: dict, passages: list[dict], doc_ids: list[int],
           doc_versions: list[int], doc_stamps: list[Any], chunk_ids: list[int], confidence: float,
           cost_usd: float, latency_ms: float, ttl_s: float, asker_id: int | None = None) -> None:
    conn.execute(
        "INSERT INTO answer_cache (key_hash, scope_hash, perm_key, index_version, question_sig, embedding,"
        " model, answer, passages, doc_ids, doc_versions, doc_stamps, chunk_ids, confidence, cost_usd,"
        " latency_ms, expires_at, asker_id)"
        " VALUES (%(key)s, %(scope)s, %(perm)s, %(ver)s, %(sig)s, %(vec)s, %(model)s, %(answer)s, %(passages)s,"
        "  %(doc_ids)s, %(versions)s, %(stamps)s, %(chunks)s, %(conf)s, %(cost)s, %(lat)s,"
        "  now() + make_interval(secs => %(ttl)s), %(asker)s)"
        " ON CONFLICT (key_hash) DO UPDATE SET scope_hash = EXCLUDED.scope_hash, perm_key = EXCLUDED.perm_key,"
        "  index_version = EXCLUDED.index_version, question_sig = EXCLUDED.question_sig,"
        "  embedding = EXCLUDED.embedding, model = EXCLUDED.model, answer = EXCLUDED.answer,"
        "  passages = EXCLUDED.passages, doc_ids = EXCLUDED.doc_ids, doc_versions = EXCLUDED.doc_versions,"
        "  doc_stamps = EXCLUDED.doc_stamps, chunk_ids = EXCLUDED.chunk_ids, confidence = EXCLUDED.confidence,"
        "  cost_usd = EXCLUDED.cost_usd, latency_ms = EXCLUDED.latency_ms, hits = 0, created_at = now(),"
        "  expires_at = EXCLUDED.expires_at, last_hit_at = NULL, asker_id = EXCLUDED.asker_id",
        {"key": key, "scope": scope, "perm": perm, "ver": version, "sig": signature, "vec": vector, "model": model,
         "answer": _jsonb(answer), "passages": _jsonb(passages), "doc_ids": doc_ids, "versions": doc_versions,
         "stamps": doc_stamps, "chunks": chunk_ids, "conf": float(confidence), "cost": float(cost_usd),
         "lat": float(latency_ms), "ttl": float(ttl_s), "asker": asker_id},
    )


def evict(conn: psycopg.Connection[DictRow], max_entries: int) -> int:
    """Delete expired entries and the oldest beyond ``max_entries``; returns how many."""
    n = conn.execute("DELETE FROM answer_cache WHERE expires_at <= now()").rowcount
    n += conn.execute("DELETE FROM answer_cache WHERE id IN (SELECT id FROM answer_cache"
                      " ORDER BY created_at DESC OFFSET %s)", (int(max_entries),)).rowcount
    return n


def mark_hit(conn: psycopg.Connection[DictRow], entry_id: int) -> None:
    conn.execute("UPDATE answer_cache SET hits = hits + 1, last_hit_at = now() WHERE id = %s", (entry_id,))


def delete_entries(conn: psycopg.Connection[DictRow], ids: list[int]) -> int:
    return conn.execute("DELETE FROM answer_cache WHERE id = ANY(%s)", (ids,)).rowcount


def count(conn: psycopg.Connection[DictRow], **deltas: float) -> None:
    """Add to the counters (hits_exact, hits_semantic, misses, stores, invalidated, evicted,
    saved_usd, saved_ms) on a random shard."""
    deltas = {k: v for k, v in deltas.items() if v}
    if not deltas:
        return
    cols = ", ".join(deltas)
    vals = ", ".join(f"%({k})s" for k in deltas)
    sets = ", ".join(f"{k} = answer_cache_counters.{k} + EXCLUDED.{k}" for k in deltas)
    conn.execute(f"INSERT INTO answer_cache_counters (shard, {cols}) VALUES (%(shard)s, {vals})"
                 f" ON CONFLICT (shard) DO UPDATE SET {sets}", {"shard": random.randrange(SHARDS), **deltas})


def compact_changes(conn: psycopg.Connection[DictRow], token: str) -> None:
    """Fold a token's change rows into one with the same sum (concurrent inserts and compactions
    are safe: each row is deleted, and its ``n`` re-added, exactly once)."""
    conn.execute(
        "WITH gone AS (DELETE FROM answer_cache_changes WHERE token = %(t)s RETURNING n)"
        " INSERT INTO answer_cache_changes (token, n) SELECT %(t)s, sum(n) FROM gone HAVING count(*) > 0",
        {"t": token})


def stats(conn: psycopg.Connection[DictRow]) -> dict[str, Any]:
    """Entries, hits, misses, hit rate and what the hits saved."""
    c = one(conn.execute(
        "SELECT coalesce(sum(hits_exact), 0) AS hits_exact, coalesce(sum(hits_semantic), 0) AS hits_semantic,"
        " coalesce(sum(misses), 0) AS misses, coalesce(sum(stores), 0) AS stores,"
        " coalesce(sum(invalidated), 0) AS invalidated, coalesce(sum(evicted), 0) AS evicted,"
        " coalesce(sum(saved_usd), 0) AS saved_usd, coalesce(sum(saved_ms), 0) AS saved_ms"
        " FROM answer_cache_counters"))
    e = one(conn.execute(
        "SELECT count(*) FILTER (WHERE expires_at > now()) AS entries, count(*) FILTER (WHERE expires_at <= now())"
        " AS expired, count(DISTINCT perm_key) AS permission_keys, min(created_at) AS oldest FROM answer_cache"
    ))
    hits = int(c["hits_exact"]) + int(c["hits_semantic"])
    lookups = hits + int(c["misses"])
    return {
        "entries": int(e["entries"]), "expired": int(e["expired"]), "permission_keys": int(e["permission_keys"]),
        "oldest": e["oldest"], "hits": hits, "hits_exact": int(c["hits_exact"]),
        "hits_semantic": int(c["hits_semantic"]), "misses": int(c["misses"]), "lookups": lookups,
        "hit_rate": round(hits / lookups, 4) if lookups else 0.0, "stores": int(c["stores"]),
        "invalidated": int(c["invalidated"]), "evicted": int(c["evicted"]),
        "saved_usd": round(float(c["saved_usd"]), 8), "saved_ms": round(float(c["saved_ms"]), 1),
    }


def clear(conn: psycopg.Connection[DictRow], *, reset_stats: bool = False) -> int:
    """Delete every entry (and the counters with ``reset_stats``); returns the entries deleted."""
    n = conn.execute("DELETE FROM answer_cache").rowcount
    if reset_stats:
        conn.execute("DELETE FROM answer_cache_counters")
    return n


def _plain(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _jsonb(obj: object) -> Jsonb:
    return Jsonb(obj, dumps=lambda o: json.dumps(o, default=_plain))
