"""BM25 keyword search computed inside PostgreSQL, with the permission filter in the same SQL.

Why this module exists: Tether needs real BM25 (Lucene idf, k1/b length normalisation), exact
under inserts, updates and deletes, and filtered by ACL inside the query. The index is an
impact table ``bm25_postings(term_id, chunk_id, tf, weight)`` with a btree on
``(term_id, weight DESC)``; ``df``, ``n_chunks`` and ``total_len`` are kept exact by triggers
(see ``0001_core.sql``). Stored weights use the average length current when they were written, so
they only serve as *upper bounds*; every returned score is recomputed exactly from ``tf`` and the
chunk's ``bm25_len`` with the current average length and idf.

Search (``search``):

1. small queries (total postings of the query terms <= ``EXACT_POSTINGS``), very selective
   filters, or stored weights unusable as bounds: full aggregation with the filter (exact);
2. otherwise MaxScore over the impact index (``keyword_topk.maxscore_topk``): the postings of
   the essential (rarer) terms are summed per chunk into an upper bound from the stored weights
   without touching chunks; chunks are verified against the filter by primary key in decreasing
   bound and scored exactly, the common (non-essential) terms by one primary-key probe per
   candidate. The ranking is returned only when the bound proves it exact (two attempts; else
   full aggregation), so top-k is always exact.

Drift factor: a weight written with average length ``A_w`` is at least ``tfc(now) * A_w/A_now``,
so ``exact <= weight * max(1, A_now / A_min)`` where ``A_min`` is the smallest average length
any stored weight was written with. ``index_chunks`` records it (``index_meta``,
key ``bm25.weights``), ``reweight`` resets it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, tuple_row

from tether.retrieve.analyzer import analyze, analyze_query
from tether.retrieve.filters import SearchFilter, where_clause
from tether.retrieve.keyword_topk import TermInfo, maxscore_topk

__all__ = ["analyze", "exact_search", "index_chunks", "reweight", "search", "stats"]

META_KEY = "bm25.weights"
EXACT_POSTINGS = 6000  # below this many postings a full aggregation is cheaper than pruning


def _cur(conn: psycopg.Connection[DictRow]) -> psycopg.Cursor:
    return conn.cursor(row_factory=tuple_row)


# Planner settings for the search statements, restored afterwards so they never leak into the
# caller's other statements. JIT compilation costs 50-200 ms on statements whose cost estimate is
# high (full aggregations) and saves nothing on these sub-100 ms statements.
_SEARCH_SETTINGS = {"jit": "off", "work_mem": "64MB"}  # work_mem: aggregation stays in memory
# For the pruned statement only (its lateral subqueries are fenced with OFFSET 0 / LIMIT, so they
# stay per-row probes): row estimates for its CTEs are blind (average list lengths and a generic
# estimate of ``acl && tokens``, worst of all in the generic plan of a prepared statement), and
# when they say "1 row" PostgreSQL joins CTEs of thousands of rows by nested loop -- measured
# 2-6 s instead of 0.1 s for an all-visible principal with ten ACL tokens.
_PRUNED_SETTINGS = {"enable_nestloop": "off"}


@contextmanager
def _planner(conn: psycopg.Connection[DictRow], settings: dict[str, str]) -> Iterator[None]:
    """Apply ``settings`` for the enclosed statements (inside a transaction), then restore them."""
    names = list(settings)
    cur = _cur(conn)
    row = cur.execute(
        "SELECT " + ", ".join(f"current_setting('{n}')" for n in names) + ", "
        + ", ".join(f"set_config('{n}', %s, true)" for n in names),
        [settings[n] for n in names],
    ).fetchone()
    assert row is not None
    try:
        yield
    finally:
        if conn.info.transaction_status == TransactionStatus.INTRANS:
            cur.execute(
                "SELECT " + ", ".join(f"set_config('{n}', %s, true)" for n in names),
                list(row[: len(names)]),
            )


@contextmanager
def _snapshot(conn: psycopg.Connection[DictRow]) -> Iterator[None]:
    """One consistent snapshot for the statements of a search (when the caller has none open)."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        with _planner(conn, _SEARCH_SETTINGS):
            yield
        return
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with _planner(conn, _SEARCH_SETTINGS):
            yield


def tfc(tf: float, length: float, avgdl: float, k1: float, b: float) -> float:
    """BM25 term-frequency component as Lucene (and ``bm25s`` "lucene") score it.

    Stored weights are ``(k1 + 1) * tfc`` (the classic form documented in ``0001_core.sql``);
    the constant factor does not change rankings, and scores then equal Lucene's.
    """
    return tf / (tf + k1 * ((1.0 - b) + (b / avgdl) * length))


def stats(conn: psycopg.Connection[DictRow]) -> tuple[int, int]:
    """``(n_chunks, total_len)`` as maintained by the triggers."""
    row = _cur(conn).execute("SELECT n_chunks, total_len FROM bm25_stats WHERE id = 1").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _record_weights_meta(cur: psycopg.Cursor, avgdl: float, k1: float, b: float, reset: bool) -> None:
    row = cur.execute("SELECT value FROM index_meta WHERE key = %s", (META_KEY,)).fetchone()
    meta = json.loads(row[0]) if row else None
    if not reset and meta and meta.get("k1") == k1 and meta.get("b") == b:
        if meta.get("avgdl_min", 0.0) <= avgdl:
            return
    elif not reset and meta:  # weights written with other parameters: bounds are unusable
        avgdl = 0.0
    value = json.dumps({"avgdl_min": avgdl, "k1": k1, "b": b})
    cur.execute(
        "INSERT INTO index_meta (key, value) VALUES (%s, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (META_KEY, value),
    )


def index_chunks(
    conn: psycopg.Connection[DictRow], chunk_ids: list[int], terms: list[list[str]], *, k1: float, b: float
) -> None:
    """Write the postings of freshly inserted chunks (call inside the ingest transaction).

    The chunks rows must already exist with ``bm25_len = len(terms[i])``; the triggers have then
    counted them in ``bm25_stats``, so the average length read here includes them.
    """
    if len(chunk_ids) != len(terms):
        raise ValueError("chunk_ids and terms differ in length")
    counts = [Counter(t) for t in terms]
    vocab = sorted(set().union(*counts)) if counts else []
    if not vocab:
        return
    cur = _cur(conn)
    # Insert missing terms in sorted order so concurrent writers never deadlock on them.
    cur.execute(
        "INSERT INTO bm25_terms (term) SELECT t FROM unnest(%s::text[]) AS t ORDER BY t"
        " ON CONFLICT (term) DO NOTHING",
        (vocab,),
    )
    ids: dict[str, int] = dict(cur.execute("SELECT term, id FROM bm25_terms WHERE term = ANY(%s)", (vocab,)).fetchall())
    if len(ids) != len(vocab):
        raise RuntimeError("bm25_terms is missing terms just inserted")
    n, total = stats(conn)
    avgdl = total / n if n and total else 1.0
    with cur.copy("COPY bm25_postings (term_id, chunk_id, tf, weight) FROM STDIN") as copy:
        for cid, cnt, toks in zip(chunk_ids, counts, terms):
            length = len(toks)
            for term, tf in cnt.items():
                copy.write_row((ids[term], cid, tf, (k1 + 1.0) * tfc(tf, length, avgdl, k1, b)))
    _record_weights_meta(cur, avgdl, k1, b, reset=False)


def reweight(conn: psycopg.Connection[DictRow], *, k1: float, b: float) -> int:
    """Rewrite every stored weight with the current average length; return rows changed."""
    cur = _cur(conn)
    # Holding the stats row blocks concurrent ingest (its chunk trigger updates that row).
    row = cur.execute("SELECT n_chunks, total_len FROM bm25_stats WHERE id = 1 FOR UPDATE").fetchone()
    assert row is not None
    n, total = int(row[0]), int(row[1])
    avgdl = total / n if n and total else 1.0
    cur.execute(
        "UPDATE bm25_postings p SET weight = w.nw FROM ("
        " SELECT p2.term_id, p2.chunk_id,"
        "  (p2.tf * %(k1p1)s / (p2.tf + %(k1)s * (%(omb)s + %(bk)s * c.bm25_len)))::real AS nw"
        " FROM bm25_postings p2 JOIN chunks c ON c.id = p2.chunk_id) w"
        " WHERE p.term_id = w.term_id AND p.chunk_id = w.chunk_id AND p.weight <> w.nw",
        {"k1p1": k1 + 1.0, "k1": k1, "omb": 1.0 - b, "bk": b / avgdl},
    )
    changed = cur.rowcount
    _record_weights_meta(cur, avgdl, k1, b, reset=True)
    return changed


def _query_terms(
    conn: psycopg.Connection[DictRow], query: str, k1: float, b: float
) -> tuple[list[TermInfo], float, float | None]:
    """Query terms present in the index (with multiplicity and idf), avgdl, and drift factor.
    The query is read in every language (``analyze_query``): only the terms of the languages
    the index holds are found, and a chunk matches those of its own language only."""
    qcount = Counter(analyze_query(query))
    if not qcount:
        return [], 1.0, None
    rows = _cur(conn).execute(
        "SELECT s.n_chunks, s.total_len, m.value, t.id, t.term, t.df,"
        " (SELECT p.weight FROM bm25_postings p WHERE p.term_id = t.id"
        "   ORDER BY p.weight DESC LIMIT 1)"
        " FROM bm25_stats s LEFT JOIN index_meta m ON m.key = %s"
        " LEFT JOIN bm25_terms t ON t.term = ANY(%s) AND t.df > 0 WHERE s.id = 1 ORDER BY t.id",
        (META_KEY, list(qcount)),
    ).fetchall()
    n, total, meta_raw = int(rows[0][0]), int(rows[0][1]), rows[0][2]
    if n <= 0:
        return [], 1.0, None
    avgdl = total / n if total else 1.0
    out = []
    for _, _, _, tid, term, df, maxw in rows:
        if tid is None or maxw is None:
            continue
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        out.append(TermInfo(tid, qcount[term] * idf, int(df), float(maxw)))
    drift: float | None = None
    meta = json.loads(meta_raw) if meta_raw else None
    if meta and meta.get("k1") == k1 and meta.get("b") == b and meta.get("avgdl_min", 0.0) > 0:
        drift = max(1.0, avgdl / float(meta["avgdl_min"])) * (1.0 + 1e-6)
    return out, avgdl, drift


def _aggregate(
    conn: psycopg.Connection[DictRow],
    terms: list[TermInfo],
    avgdl: float,
    acl_tokens: list[str] | None,
    flt: SearchFilter | None,
    k: int,
    k1: float,
    b: float,
) -> list[tuple[int, float]]:
    where, params = where_clause(acl_tokens, flt, "c")
    params.update(
        tids=[t.term_id for t in terms], ws=[t.qweight for t in terms], k=k,
        k1=k1, omb=1.0 - b, bk=b / avgdl,
    )  # fmt: skip
    sql = (
        "SELECT p.chunk_id, sum(q.w * (p.tf / (p.tf + %(k1)s * (%(omb)s + %(bk)s * c.bm25_len)))) AS s"
        " FROM unnest(%(tids)s::int[], %(ws)s::float8[]) AS q(tid, w)"
        " JOIN bm25_postings p ON p.term_id = q.tid JOIN chunks c ON c.id = p.chunk_id"
        f" WHERE {where} GROUP BY p.chunk_id ORDER BY s DESC, p.chunk_id LIMIT %(k)s"
    )
    return [(int(c), float(s)) for c, s in _cur(conn).execute(sql, params).fetchall()]


def exact_search(
    conn: psycopg.Connection[DictRow],
    query: str,
    *,
    acl_tokens: list[str] | None,
    flt: SearchFilter | None = None,
    k: int = 100,
    k1: float = 1.2,
    b: float = 0.75,
) -> list[tuple[int, float]]:
    """Reference BM25 top-k by full aggregation of every posting of the query terms."""
    with _snapshot(conn):
        terms, avgdl, _ = _query_terms(conn, query, k1, b)
        if not terms or k <= 0:
            return []
        return _aggregate(conn, terms, avgdl, acl_tokens, flt, k, k1, b)


def search(
    conn: psycopg.Connection[DictRow],
    query: str,
    *,
    acl_tokens: list[str] | None,
    flt: SearchFilter | None = None,
    k: int = 100,
    k1: float = 1.2,
    b: float = 0.75,
) -> list[tuple[int, float]]:
    """Exact BM25 top-k ``(chunk_id, score)``, best first, inside the permission filter."""
    with _snapshot(conn):
        return _search(conn, query, acl_tokens, flt, k, k1, b)


def _search(
    conn: psycopg.Connection[DictRow],
    query: str,
    acl_tokens: list[str] | None,
    flt: SearchFilter | None,
    k: int,
    k1: float,
    b: float,
) -> list[tuple[int, float]]:
    terms, avgdl, drift = _query_terms(conn, query, k1, b)
    if not terms or k <= 0:
        return []
    if drift is None or sum(t.df for t in terms) <= EXACT_POSTINGS:
        return _aggregate(conn, terms, avgdl, acl_tokens, flt, k, k1, b)
    where, params = where_clause(acl_tokens, flt, "c")
    # exact tfc <= stored weight * drift / (k1 + 1) for every stored posting
    scale = drift / (k1 + 1.0)
    n_chunks = stats(conn)[0]
    with _planner(conn, _PRUNED_SETTINGS):
        out = maxscore_topk(_cur(conn), terms, where, params, avgdl, scale, n_chunks, k=k, k1=k1, b=b)
    if out is None:
        return _aggregate(conn, terms, avgdl, acl_tokens, flt, k, k1, b)
    return out
