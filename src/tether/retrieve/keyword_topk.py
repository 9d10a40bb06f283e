"""BM25 top-k over the impact table with MaxScore pruning, in one SQL statement per attempt.

Why a separate module: this is the pruning algorithm, kept apart from indexing so it can be
reasoned about and tested on its own. ``keyword.search`` decides when to use it. Every score
returned is exact (recomputed from ``tf`` and the chunk's ``bm25_len``); stored weights only bound.

Cost model (measured at 100k chunks): reading a posting from the index ~0.1 us, summing it in a
hash aggregate ~0.5 us, looking a chunk up by primary key ~3 us. So the statement never joins
chunks per posting; it looks up only the few chunks that can still reach the top k. Its lateral
subqueries are fenced (``OFFSET 0`` / ``LIMIT``) so they stay per-row probes, and ``keyword``
runs it with nested loops disabled: the CTEs' row estimates are blind, and a nested-loop join of
two CTEs of thousands of rows (chosen on an estimate of one row) measured 2-6 s.

Algorithm (MaxScore partition + upper-bound ordering):

- terms are split into *essential* ones (all rare and mid-frequency terms) and *non-essential*
  ones (the most common terms, whose summed bound ``B_N = sum scale * qw * max_weight`` is small);
- the postings of the essential terms are read from the impact index (index-only) and summed per
  chunk into an upper bound ``ub = sum qw * weight`` (``scale * ub`` bounds the exact score of
  those terms) -- no chunk look-up;
- chunks are visited in decreasing ``ub``; each is looked up by primary key with the permission
  filter (``where``) applied there, until ``lim`` visible chunks are found; those are scored
  exactly on the essential terms from the postings already read. ``th``, the larger of the
  caller's ``theta`` and the k-th best essential-only score, bounds the final k-th score from
  below (a full score is never less than its essential part), so only chunks with
  ``essential + B_N >= th`` get the non-essential terms by one primary-key probe per (term,
  chunk); the others are returned unscored (``None``): they cannot reach the top k. (Measured:
  this skips most probes of the second attempt, each ~5 us.)
- a visible chunk not returned scores at most ``scale * ub_last + B_N`` (it is in an essential list
  after the last one visited) or ``B_N`` (it is in none). When that is below ``theta``, the k-th
  best exact score, the ranking is exact. See ``maxscore_topk`` for the two attempts; when neither
  proves the ranking it returns ``None`` and the caller aggregates in full.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import psycopg

MAX_POOL = 20000  # chunks verified at most in the second attempt (else: full aggregation)
SEED_POSTINGS = 4000  # postings read by the first attempt (the rarest terms)
SEED_TRIES = 2  # first attempts (a filter can hide most seed candidates: then a larger seed)
NONESSENTIAL_SHARE = 0.6  # B_N at most this share of theta0 in the second attempt
NONESSENTIAL_MIN_DF = 0.02  # only terms in at least this share of chunks are left out


@dataclass(frozen=True)
class TermInfo:
    term_id: int
    qweight: float  # query multiplicity * idf
    df: int
    max_weight: float  # largest stored weight of the term (an upper bound)


_SQL = """
WITH q AS (SELECT * FROM unnest(%(tids)s::int[], %(qws)s::float8[], %(ess)s::bool[])
           AS q(tid, qw, ess)),
h AS MATERIALIZED (SELECT q.qw, x.chunk_id, x.tf, x.weight FROM q CROSS JOIN LATERAL (
        SELECT p.chunk_id, p.tf, p.weight FROM bm25_postings p WHERE p.term_id = q.tid OFFSET 0) AS x
        WHERE q.ess),
u AS (SELECT h.chunk_id, sum(h.qw * h.weight) AS ub FROM h GROUP BY h.chunk_id
      HAVING sum(h.qw * h.weight) >= %(min_ub)s ORDER BY ub DESC, h.chunk_id),
v AS MATERIALIZED (SELECT u.chunk_id, u.ub, c.len FROM u CROSS JOIN LATERAL (
        SELECT c.bm25_len AS len FROM chunks c WHERE c.id = u.chunk_id AND {where} OFFSET 0) AS c
      ORDER BY u.ub DESC, u.chunk_id LIMIT %(lim)s),
e AS MATERIALIZED (SELECT v.chunk_id, v.len,
        sum(h.qw * (h.tf / (h.tf + %(k1)s * (%(omb)s + %(bk)s * v.len)))) AS s
      FROM v JOIN h ON h.chunk_id = v.chunk_id GROUP BY v.chunk_id, v.len),
t AS (SELECT greatest(%(theta)s::float8,
        coalesce((SELECT e.s FROM e ORDER BY e.s DESC OFFSET %(k)s - 1 LIMIT 1), 0.0)) AS th),
r AS MATERIALIZED (SELECT e.chunk_id, e.len, e.s FROM e CROSS JOIN t
      WHERE e.s + %(b_n)s >= t.th * (1.0 - 1e-9)),
n AS (SELECT r.chunk_id, sum(q.qw * (x.tf / (x.tf + %(k1)s * (%(omb)s + %(bk)s * r.len)))) AS s
      FROM r CROSS JOIN q CROSS JOIN LATERAL (SELECT p.tf FROM bm25_postings p
        WHERE p.term_id = q.tid AND p.chunk_id = r.chunk_id LIMIT 1) AS x
      WHERE NOT q.ess GROUP BY r.chunk_id)
SELECT v.chunk_id, v.ub, r.s + coalesce(n.s, 0.0) FROM v LEFT JOIN r ON r.chunk_id = v.chunk_id
  LEFT JOIN n ON n.chunk_id = v.chunk_id
"""


def _essential(terms: list[TermInfo], scale: float, n_chunks: int, budget: float) -> list[bool]:
    """MaxScore partition: leave out the most common terms while their summed bound <= budget."""
    ess = [True] * len(terms)
    spent = 0.0
    for i in sorted(range(len(terms)), key=lambda i: -terms[i].df):
        bound = scale * terms[i].qweight * terms[i].max_weight
        if terms[i].df < NONESSENTIAL_MIN_DF * n_chunks or spent + bound > budget or sum(ess) == 1:
            break
        ess[i] = False
        spent += bound
    return ess


def maxscore_topk(
    cur: psycopg.Cursor,
    terms: list[TermInfo],
    where: str,
    params: dict[str, object],
    avgdl: float,
    scale: float,
    n_chunks: int,
    *,
    k: int,
    k1: float,
    b: float,
) -> list[tuple[int, float]] | None:
    """Exact top-k ``(chunk_id, score)`` for ``terms`` among chunks matching ``where``.

    ``scale`` bounds exact from stored: ``tfc <= scale * weight`` for every posting (``weight``
    already holds the ``k1 + 1`` factor, ``scale`` removes it). ``None`` when the bound did not
    close (the caller then aggregates in full, also exact).

    Attempt 1 reads only the rarest lists (``SEED_POSTINGS``), probes the other terms, and
    verifies the ``2k`` best visible chunks by bound. If that does not prove the ranking, its
    k-th exact score ``theta0`` is a lower bound of the final ``theta``; attempt 2 re-partitions
    with ``B_N <= NONESSENTIAL_SHARE * theta0`` and verifies every visible chunk whose bound
    reaches ``theta0`` (at most ``MAX_POOL``): any other chunk scores below ``theta0``.
    """
    sql = _SQL.format(where=where)
    base = dict(params, tids=[t.term_id for t in terms], qws=[t.qweight for t in terms],
                k1=k1, omb=1.0 - b, bk=b / avgdl, k=k)  # fmt: skip
    lim = 2 * k
    seed, min_terms = SEED_POSTINGS, 1
    for _ in range(SEED_TRIES):  # attempt 1: read only the rarest lists, probe the other terms
        ess, acc = _seed(terms, seed, min_terms)
        b_n = _bound(terms, ess, scale)
        rows = _run(cur, sql, dict(base, ess=ess, lim=lim, min_ub=0.0, theta=0.0, b_n=b_n))
        best = heapq.nsmallest(k, ((-s, c) for c, _ub, s in rows if s is not None))
        hit_limit = len(rows) >= lim
        if len(best) >= k:
            theta = -best[-1][0]
            out = (scale * min(ub for _c, ub, _s in rows) if hit_limit else 0.0) + b_n
            if out < theta:
                return [(c, -ns) for ns, c in best]
            break
        if b_n == 0.0:  # every list read and every visible candidate verified: fewer than k
            return [(c, -ns) for ns, c in best]
        # a filter hid most candidates: seed with enough postings to find ~2k visible chunks
        seed = acc * min(64, max(4, 2 * k // max(1, len(best))))
        min_terms = sum(ess) + 1
    else:
        return None
    # Attempt 2: theta0 = theta bounds the final k-th score from below.
    ess = _essential(terms, scale, n_chunks, NONESSENTIAL_SHARE * theta)
    b_n = _bound(terms, ess, scale)
    min_ub = max(0.0, (theta - b_n) / scale) * (1.0 - 1e-9)
    rows = _run(cur, sql, dict(base, ess=ess, lim=MAX_POOL, min_ub=min_ub, theta=theta, b_n=b_n))
    if len(rows) >= MAX_POOL:
        return None
    # every visible chunk with scale * ub + B_N >= theta0 was verified, and B_N < theta0
    best = heapq.nsmallest(k, ((-s, c) for c, _ub, s in rows if s is not None))
    return [(c, -ns) for ns, c in best]


def _seed(terms: list[TermInfo], postings: int, min_terms: int) -> tuple[list[bool], int]:
    """The rarest terms, about ``postings`` postings in all (at least ``min_terms`` terms)."""
    ess, acc = [False] * len(terms), 0
    for n, i in enumerate(sorted(range(len(terms)), key=lambda i: terms[i].df)):
        if n >= min_terms and acc + terms[i].df > postings:
            break
        ess[i], acc = True, acc + terms[i].df
    return ess, acc


def _bound(terms: list[TermInfo], ess: list[bool], scale: float) -> float:
    return sum(scale * t.qweight * t.max_weight for t, e in zip(terms, ess) if not e)


def _run(cur: psycopg.Cursor, sql: str, p: dict[str, object]) -> list[tuple[int, float, float | None]]:
    """``(chunk_id, ub, exact score)`` for every verified chunk; the score is ``None`` where the
    chunk was proved below the k-th best (its essential score + ``b_n`` < ``theta``)."""
    return [(int(c), float(ub), None if s is None else float(s)) for c, ub, s in cur.execute(sql, p)]
