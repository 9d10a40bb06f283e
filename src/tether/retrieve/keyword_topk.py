"""Exact BM25 top-k over the impact index without reading whole posting lists.

Why a separate module: this is the pruning algorithm (a threshold / MaxScore-style bound over
``bm25_postings (term_id, weight DESC)``), kept apart from indexing so it can be reasoned about
and tested on its own. ``keyword.search`` decides when to use it; the proof sketch is in the
``keyword`` module docstring. Every score returned is exact; the stored weights only bound.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import psycopg

INITIAL_DEPTH = 128  # postings per term in the first round (times k/100, at least k)
GROWTH = 4  # depth multiplier for a term that still holds the bound above theta
MAX_ROUNDS = 8


@dataclass(frozen=True)
class TermInfo:
    term_id: int
    qweight: float  # query multiplicity * idf
    df: int
    max_weight: float  # largest stored weight of the term


@dataclass
class _List:
    depth: int
    rows: dict[int, int]  # chunk_id -> tf
    cut: float  # no unread passing posting has a stored weight above this; 0 = exhausted


_FETCH = (
    "SELECT q.i, x.chunk_id, x.tf, x.weight, x.len"
    " FROM unnest(%(tids)s::int[], %(lims)s::int[]) WITH ORDINALITY AS q(tid, lim, i)"
    " CROSS JOIN LATERAL (SELECT p.chunk_id, p.tf, p.weight, c.bm25_len AS len"
    "  FROM bm25_postings p JOIN chunks c ON c.id = p.chunk_id"
    "  WHERE p.term_id = q.tid AND {where} ORDER BY p.weight DESC LIMIT q.lim) AS x"
)
_LOOKUP = (
    "SELECT term_id, chunk_id, tf FROM bm25_postings"
    " WHERE term_id = ANY(%(tids)s::int[]) AND chunk_id = ANY(%(cids)s::bigint[])"
)


def threshold_topk(
    cur: psycopg.Cursor,
    terms: list[TermInfo],
    where: str,
    params: dict[str, object],
    avgdl: float,
    drift: float,
    *,
    k: int,
    k1: float,
    b: float,
) -> list[tuple[int, float]] | None:
    """Exact top-k ``(chunk_id, score)`` for ``terms`` among chunks matching ``where``.

    ``None`` when the bound did not converge within ``MAX_ROUNDS`` (aggregate instead).
    """
    fetch_sql = _FETCH.format(where=where)
    start = max(k, INITIAL_DEPTH * max(1, k // 100))
    lists = [_List(depth=min(start, t.df), rows={}, cut=t.max_weight) for t in terms]
    lens: dict[int, int] = {}
    k1p1, omb, bk = k1 + 1.0, 1.0 - b, b / avgdl
    todo = list(range(len(terms)))
    known: dict[int, float] = {}
    theta = 0.0
    for _ in range(MAX_ROUNDS):
        p = dict(params, tids=[terms[i].term_id for i in todo], lims=[lists[i].depth for i in todo])
        got: dict[int, list[tuple[int, int, float]]] = {i: [] for i in todo}
        for qi, cid, tf, w, ln in cur.execute(fetch_sql, p):
            got[todo[qi - 1]].append((cid, tf, w))
            lens[cid] = ln
        for i, rows in got.items():
            lst = lists[i]
            lst.rows = {cid: tf for cid, tf, _ in rows}
            lst.cut = 0.0 if len(rows) < lst.depth else rows[-1][2]
        known = {}
        for t, lst in zip(terms, lists):
            qw = t.qweight
            for cid, tf in lst.rows.items():
                known[cid] = known.get(cid, 0.0) + qw * tf * k1p1 / (tf + k1 * (omb + bk * lens[cid]))
        theta = heapq.nlargest(k, known.values())[-1] if len(known) >= k else 0.0
        contrib = [drift * t.qweight * lst.cut for t, lst in zip(terms, lists)]
        unseen = sum(contrib)
        if unseen < theta or unseen == 0.0:
            break
        top = max(contrib)
        todo = [i for i, c in enumerate(contrib) if c > 0.0 and c >= 0.25 * top]
        for i in todo:
            lists[i].depth = min(lists[i].depth * GROWTH, terms[i].df)
    else:
        return None
    return _complete(cur, terms, lists, lens, known, theta, drift, k, k1p1, k1, omb, bk)


def _complete(
    cur: psycopg.Cursor,
    terms: list[TermInfo],
    lists: list[_List],
    lens: dict[int, int],
    known: dict[int, float],
    theta: float,
    drift: float,
    k: int,
    k1p1: float,
    k1: float,
    omb: float,
    bk: float,
) -> list[tuple[int, float]]:
    """Score exactly every candidate whose upper bound reaches ``theta``; return the top k."""
    active = [i for i, lst in enumerate(lists) if lst.cut > 0.0]
    bound = {i: drift * terms[i].qweight * lists[i].cut for i in active}
    total = sum(bound.values())
    needy: list[int] = []
    final: dict[int, float] = {}
    for cid, s in known.items():
        missing = total - sum(bound[i] for i in active if cid in lists[i].rows)
        if missing <= 0.0:
            final[cid] = s
        elif s + missing >= theta:
            needy.append(cid)
    if needy:
        tid_index = {terms[i].term_id: i for i in active}
        p = {"tids": list(tid_index), "cids": needy}
        extra: dict[int, float] = dict.fromkeys(needy, 0.0)
        for tid, cid, tf in cur.execute(_LOOKUP, p):
            i = tid_index[tid]
            if cid in lists[i].rows or cid not in extra:
                continue
            extra[cid] += terms[i].qweight * tf * k1p1 / (tf + k1 * (omb + bk * lens[cid]))
        for cid, add in extra.items():
            final[cid] = known[cid] + add
    best = heapq.nsmallest(k, final.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(cid, s) for cid, s in best]
