"""BM25 top-k over the impact index without reading whole posting lists.

Why a separate module: this is the pruning algorithm (a threshold / MaxScore-style bound over
``bm25_postings (term_id, weight DESC)``), kept apart from indexing so it can be reasoned about
and tested on its own. ``keyword.search`` decides when to use it; the proof sketch is in the
``keyword`` module docstring. Every score returned is exact; the stored weights only bound. The
ranking is provably exact when the bound closes within ``MAX_ROUNDS``; ``bench/bm25.py``
measures how often it does not.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import psycopg

INITIAL_DEPTH = 256  # postings read per term in the first round (at least 2k)
GROWTH = 4  # multiplier for a list depth or the verified pool that holds the bound up
MAX_ROUNDS = 3  # rounds before settling for the candidates at hand (see threshold_topk)
MAX_DEPTH = 4096  # postings read per term and round at most
MAX_POOL = 20000  # candidates checked against the filter per round at most


@dataclass(frozen=True)
class TermInfo:
    term_id: int
    qweight: float  # query multiplicity * idf
    df: int
    max_weight: float  # largest stored weight of the term


# One round, all in SQL: read the ``lim`` best postings of each term from the impact index (an
# index-only scan, no join), derive each term's cut, rank the chunks seen by their upper bound
# ``U + sum(qw * (weight - cut))``, check the best ``pool + 1`` against the filter (the only chunk
# look-ups) and score their seen terms exactly. Rows with chunk_id NULL carry the per-term cuts.
_ROUND = """
WITH q AS (SELECT * FROM unnest(%(tids)s::int[], %(qws)s::float8[], %(lims)s::int[], %(dfs)s::int[])
           WITH ORDINALITY AS q(tid, qw, lim, df, i)),
h AS MATERIALIZED (SELECT q.i::int AS i, q.qw, x.chunk_id, x.tf, x.weight FROM q CROSS JOIN LATERAL (
        SELECT p.chunk_id, p.tf, p.weight FROM bm25_postings p WHERE p.term_id = q.tid
        ORDER BY p.weight DESC LIMIT q.lim) AS x),
cut AS MATERIALIZED (SELECT q.i::int AS i, CASE WHEN count(h.i) < q.lim OR q.lim >= q.df THEN 0
        ELSE min(h.weight) END AS c FROM q LEFT JOIN h ON h.i = q.i GROUP BY q.i, q.lim, q.df),
top AS (SELECT h.chunk_id, sum(h.qw * (h.weight - cut.c)) AS gain FROM h JOIN cut ON cut.i = h.i
        GROUP BY h.chunk_id ORDER BY gain DESC LIMIT %(pool)s + 1),
pool AS (SELECT t.chunk_id, t.gain, c.bm25_len AS len FROM top t
         LEFT JOIN chunks c ON c.id = t.chunk_id AND {where})
SELECT pool.chunk_id, pool.gain, sum(h.qw * h.tf / (h.tf + %(k1)s * (%(omb)s + %(bk)s * pool.len))),
       bit_or(1::bigint << (h.i - 1)), pool.len
  FROM pool JOIN h ON h.chunk_id = pool.chunk_id GROUP BY pool.chunk_id, pool.gain, pool.len
UNION ALL SELECT NULL, cut.c, NULL, cut.i, NULL FROM cut
"""
# One primary-key probe per (term, chunk) pair (the planner would otherwise scan whole lists).
_LOOKUP = (
    "SELECT q.t, q.c, x.tf FROM unnest(%(tids)s::int[], %(cids)s::bigint[]) AS q(t, c)"
    " CROSS JOIN LATERAL (SELECT p.tf FROM bm25_postings p"
    "  WHERE p.term_id = q.t AND p.chunk_id = q.c) AS x"
)


def threshold_topk(
    cur: psycopg.Cursor,
    terms: list[TermInfo],
    where: str,
    params: dict[str, object],
    avgdl: float,
    scale: float,
    *,
    k: int,
    k1: float,
    b: float,
    max_rounds: int | None = None,
) -> list[tuple[int, float]] | None:
    """Top-k ``(chunk_id, score)`` for ``terms`` among chunks matching ``where``.

    ``scale`` bounds exact from stored: ``tfc <= scale * weight`` for every posting. When the
    bound proves the top k within ``max_rounds`` the ranking is exact; otherwise the best
    candidates read so far are scored exactly and returned (scores exact, a chunk outside every
    term's best postings can be missed: ``bench/bm25.py`` measures how often). ``None`` when few
    visible chunks hold the terms (a filtered aggregation is cheaper then).
    """
    sql = _ROUND.format(where=where)
    omb, bk = 1.0 - b, b / avgdl
    lims = [min(t.df, max(INITIAL_DEPTH, 2 * k)) for t in terms]
    pool = 2 * k
    qws = [t.qweight for t in terms]
    max_rounds = max_rounds or MAX_ROUNDS
    for rnd in range(1, max_rounds + 1):
        p = dict(params, tids=[t.term_id for t in terms], qws=qws, lims=list(lims),
                 dfs=[t.df for t in terms], pool=pool, k1=k1, omb=omb, bk=bk)  # fmt: skip
        cuts = [0.0] * len(terms)
        rows: list[tuple[float, int, float | None, int, int | None]] = []
        for cid, gain, s, mask, ln in cur.execute(sql, p):
            if cid is None:
                cuts[mask - 1] = float(gain)
            else:
                rows.append((float(gain), cid, s, mask, ln))
        rows.sort(key=lambda r: -r[0])
        unseen = sum(qw * c for qw, c in zip(qws, cuts))
        out_bound = unseen + (rows[pool][0] if len(rows) > pool else 0.0)
        seen = {cid: (s, mask) for _g, cid, s, mask, ln in rows[:pool] if ln is not None}
        lens = {cid: ln for _g, cid, _s, _m, ln in rows[:pool] if ln is not None}
        theta = heapq.nlargest(k, (v[0] for v in seen.values()))[-1] if len(seen) >= k else 0.0
        done = scale * out_bound < theta or (out_bound == 0.0 and len(rows) <= pool)
        if done or (rnd == max_rounds and len(seen) >= k):
            return _complete(cur, terms, cuts, seen, lens, theta, scale, k, k1, omb, bk)
        # Grow what holds the bound up: the lists (unseen mass) and/or the verified pool.
        pass_rate = len(seen) / min(pool, max(len(rows), 1))
        if pass_rate * sum(t.df for t in terms) < 4 * k:
            return None  # few visible chunks hold the terms: a filtered aggregation is cheaper
        if pass_rate < 0.5:  # under a filter: verify enough chunks to find ~2k visible ones
            pool = max(pool, min(MAX_POOL, int(2 * k / pass_rate)))
        if scale * unseen < theta:  # only the chunks just outside the pool hold it up
            pool = min(MAX_POOL, pool * GROWTH)
        if scale * unseen >= theta:
            top = max(qw * c for qw, c in zip(qws, cuts))
            for i, t in enumerate(terms):
                if cuts[i] > 0.0 and qws[i] * cuts[i] >= 0.25 * top:
                    lims[i] = min(t.df, lims[i] * GROWTH, MAX_DEPTH)
    return None


def _complete(
    cur: psycopg.Cursor,
    terms: list[TermInfo],
    cuts: list[float],
    seen: dict[int, tuple[float, int]],
    lens: dict[int, int],
    theta: float,
    scale: float,
    k: int,
    k1: float,
    omb: float,
    bk: float,
) -> list[tuple[int, float]]:
    """Score exactly every candidate whose upper bound reaches ``theta``; return the top k."""
    bound = [scale * t.qweight * c for t, c in zip(terms, cuts)]
    total = sum(bound)
    final: dict[int, float] = {}
    pairs: list[tuple[int, int]] = []
    for cid, (s, mask) in seen.items():
        todo = [i for i, bd in enumerate(bound) if bd > 0.0 and not mask >> i & 1]
        missing = sum(bound[i] for i in todo)
        if missing <= 0.0 or s + missing >= theta:
            final[cid] = s
            pairs += [(i, cid) for i in todo] if missing > 0.0 else []
    if pairs:
        tid_index = {t.term_id: n for n, t in enumerate(terms)}
        p = {"tids": [terms[i].term_id for i, _ in pairs], "cids": [c for _, c in pairs]}
        for tid, cid, tf in cur.execute(_LOOKUP, p):
            qw = terms[tid_index[tid]].qweight
            final[cid] += qw * tf / (tf + k1 * (omb + bk * lens[cid]))
    best = heapq.nsmallest(k, final.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(cid, s) for cid, s in best]
