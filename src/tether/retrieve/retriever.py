"""Hybrid retrieval: BM25 and dense search (both inside the permission filter), fused.

Returns passages with every retriever's score and a record of timings, so the trace can show
what each stage contributed.

Concurrency: given a second connection (``side``, e.g. ``Database.spare()``), a hybrid retrieval
runs the dense search on it in a worker thread while BM25 runs on ``conn``. The side transaction
imports ``conn``'s snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``), so both
searches read exactly the same rows as the sequential path; the side enters the same RLS reader
role and the permission filter stays inside its query.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow

from tether.embed.base import Embedder, embed_queries, index_embedder
from tether.retrieve import dense, keyword, keyword_pgts
from tether.retrieve.filters import SearchFilter, where_clause
from tether.retrieve.fusion import fuse_scores, rrf
from tether.settings import RetrieveSettings
from tether.store.rls import enter_reader
from tether.types import Passage

Mode = Literal["bm25", "dense", "hybrid"]
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")
_workers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="tether-dense")


@dataclass
class Retrieval:
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=dict)
    rls: bool = False
    concurrent: bool = False  # BM25 and dense ran at the same time (their timings overlap)


def retrieve(
    conn: psycopg.Connection[DictRow], embedder: Embedder, query: str, *, acl_tokens: list[str] | None,
    settings: RetrieveSettings, flt: SearchFilter | None = None, k: int | None = None,
    mode: Mode = "hybrid", query_vec=None, side: psycopg.Connection[DictRow] | None = None,
) -> Retrieval:
    """Top ``k`` passages for ``query`` inside ``acl_tokens``' permissions. ``side``: an idle
    second connection for the dense search of a hybrid retrieval (see the module docstring);
    ignored unless ``settings.concurrent_searches``."""
    k = k or settings.top_k
    fresh = conn.info.transaction_status == TransactionStatus.IDLE
    if side is not None and (mode != "hybrid" or not settings.concurrent_searches or not fresh
                             or side.info.transaction_status != TransactionStatus.IDLE):
        side = None  # (a caller's open transaction: its snapshot cannot be exported from a savepoint)
    if mode in ("dense", "hybrid") and query_vec is None:
        t = time.perf_counter()
        query_vec = embed_queries(embedder, [query])[0]
        embed_ms = (time.perf_counter() - t) * 1000
    else:
        embed_ms = 0.0
    with conn.transaction():
        if fresh:  # one snapshot for both searches and the hydration
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET LOCAL work_mem = '64MB'")
        rls = enter_reader(conn, acl_tokens) if acl_tokens is not None else False
        out = _retrieve(conn, embedder, query, acl_tokens, settings, flt, k, mode, query_vec, side)
    out.timings_ms["embed_query"] = embed_ms
    out.rls = rls
    return out


def _dense(conn, query_vec, embedder, acl_tokens, flt, n_cand, settings) -> tuple[list[tuple[int, float]], float]:
    t = time.perf_counter()
    ranking = dense.search(conn, query_vec, dimension=index_embedder(embedder).dimension, acl_tokens=acl_tokens,
                           flt=flt, k=n_cand, ef_search=settings.ef_search)
    return ranking, (time.perf_counter() - t) * 1000


def _dense_beside(side, snapshot: str, query_vec, embedder, acl_tokens, flt, n_cand, settings):
    """The dense search on ``side``, in ``snapshot`` and the same reader role as the caller's."""
    with side.transaction():
        side.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;"
                     f" SET TRANSACTION SNAPSHOT '{snapshot}'; SET LOCAL work_mem = '64MB'")
        if acl_tokens is not None:
            enter_reader(side, acl_tokens)
        return _dense(side, query_vec, embedder, acl_tokens, flt, n_cand, settings)


def _retrieve(conn, embedder, query, acl_tokens, settings, flt, k, mode, query_vec, side=None) -> Retrieval:
    n_cand = max(settings.candidates, k)
    timings: dict[str, float] = {}
    rankings: dict[str, list[tuple[int, float]]] = {}
    t_all = time.perf_counter()
    beside = None
    if side is not None:
        row = conn.execute("SELECT pg_export_snapshot() AS s").fetchone()
        snapshot = str(row["s"] if isinstance(row, dict) else row[0])
        if not _SNAPSHOT_ID.fullmatch(snapshot):
            raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
        beside = _workers.submit(_dense_beside, side, snapshot, query_vec, embedder, acl_tokens, flt,
                                 n_cand, settings)
    try:
        if mode in ("bm25", "hybrid"):
            t = time.perf_counter()
            if settings.keyword_backend == "pg_textsearch":
                rankings["bm25"] = keyword_pgts.search(conn, query, acl_tokens=acl_tokens, flt=flt, k=n_cand)
            else:
                rankings["bm25"] = keyword.search(
                    conn, query, acl_tokens=acl_tokens, flt=flt, k=n_cand, k1=settings.k1, b=settings.b
                )
            timings["bm25"] = (time.perf_counter() - t) * 1000
    except BaseException:
        if beside is not None:  # let it finish: ``side`` goes back to the caller afterwards
            beside.exception()
        raise
    if beside is not None:
        rankings["dense"], timings["dense"] = beside.result()
    elif mode in ("dense", "hybrid"):
        rankings["dense"], timings["dense"] = _dense(conn, query_vec, embedder, acl_tokens, flt, n_cand, settings)
    timings["searches"] = (time.perf_counter() - t_all) * 1000
    t = time.perf_counter()
    if mode == "hybrid":
        weights = {"bm25": settings.bm25_weight, "dense": settings.dense_weight}
        if settings.fusion == "rrf":
            fused = rrf(rankings, weights=weights, k=settings.rrf_k)
        else:
            fused = fuse_scores(rankings, method=settings.fusion, weights=weights)
    else:
        fused = rankings[mode]
    timings["fusion"] = (time.perf_counter() - t) * 1000
    top = fused[:k]
    t = time.perf_counter()
    passages = hydrate(conn, [cid for cid, _ in top], acl_tokens,
                       query_vec=query_vec if mode != "bm25" else None,
                       dimension=index_embedder(embedder).dimension)
    by_name = {name: dict(r) for name, r in rankings.items()}
    fused_score = dict(top)
    for p in passages:
        p.score = fused_score[p.chunk_id]
        p.scores.update({name: r[p.chunk_id] for name, r in by_name.items() if p.chunk_id in r})
    timings["hydrate"] = (time.perf_counter() - t) * 1000
    return Retrieval(passages, timings, {name: len(r) for name, r in rankings.items()}, concurrent=beside is not None)


def hydrate(conn: psycopg.Connection[DictRow], chunk_ids: list[int], acl_tokens: list[str] | None, *,
            query_vec=None, dimension: int = 384) -> list[Passage]:
    """Load passages for ids, in the given order, re-applying the permission filter.

    With ``query_vec``, each passage's dense cosine is computed from its stored vector (so a
    passage found only by BM25 still carries a dense score for reranking and confidence)."""
    if not chunk_ids:
        return []
    where, params = where_clause(acl_tokens, None, "c")
    params["ids"] = chunk_ids
    cos = "NULL::float8"
    if query_vec is not None:
        from tether.retrieve.dense import _vec

        params["q"] = _vec(query_vec)
        cos = f"1 - ((c.embedding::vector({int(dimension)})) <=> %(q)s::vector({int(dimension)}))"
    rows = conn.execute(
        f"SELECT {cos} AS cosine, c.id, c.document_id, c.ordinal, c.text, c.char_start, c.char_end, c.section_path,"
        " c.page, c.classification, d.title, d.source_uri, k.authoritative FROM chunks c"
        " JOIN documents d ON d.id = c.document_id JOIN collections k ON k.id = d.collection_id"
        f" WHERE c.id = ANY(%(ids)s) AND {where}",
        params,
    ).fetchall()
    by_id = {int(r["id"]): r for r in rows}
    out = []
    for cid in chunk_ids:
        r = by_id.get(cid)
        if r is None:
            continue
        out.append(Passage(
            chunk_id=cid, document_id=int(r["document_id"]), ordinal=int(r["ordinal"]), text=r["text"],
            char_start=int(r["char_start"]), char_end=int(r["char_end"]), title=r["title"],
            source_uri=r["source_uri"], section_path=tuple(r["section_path"] or ()), page=r["page"],
            classification=r["classification"], authoritative=bool(r["authoritative"]),
        ))
        if r["cosine"] is not None:
            out[-1].scores["dense"] = float(r["cosine"])
    return out
