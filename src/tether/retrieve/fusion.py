"""Fusing ranked lists: weighted reciprocal-rank fusion.

RRF needs no score calibration between retrievers, which is why it is the default; the
weights say how much each retriever's ranks count.
"""

from __future__ import annotations


def rrf(
    rankings: dict[str, list[tuple[int, float]]], *, weights: dict[str, float] | None = None, k: int = 60
) -> list[tuple[int, float]]:
    """Fuse ``{retriever: [(id, score) best first]}`` into [(id, fused score)] best first."""
    weights = weights or {}
    fused: dict[int, float] = {}
    for name, ranked in rankings.items():
        w = weights.get(name, 1.0)
        if w == 0:
            continue
        for rank, (doc_id, _score) in enumerate(ranked, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + w / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def _normalise(ranked: list[tuple[int, float]], method: str) -> dict:
    scores = [s for _, s in ranked]
    if not scores:
        return {}
    if method == "minmax":
        lo, hi = min(scores), max(scores)
        return {d: (s - lo) / (hi - lo) if hi > lo else 1.0 for d, s in ranked}
    if method in ("zscore", "dbsf"):
        n = len(scores)
        mean = sum(scores) / n
        sd = (sum((s - mean) ** 2 for s in scores) / n) ** 0.5 or 1.0
        if method == "zscore":
            return {d: (s - mean) / sd for d, s in ranked}
        # distribution-based score fusion: clip to mean +- 3 sd, then min-max within it
        lo, hi = mean - 3 * sd, mean + 3 * sd
        return {d: (min(max(s, lo), hi) - lo) / (hi - lo) for d, s in ranked}
    if method == "rankscore":  # min-max score blended with rank position
        lo, hi = min(scores), max(scores)
        n = len(ranked)
        return {d: 0.5 * ((s - lo) / (hi - lo) if hi > lo else 1.0) + 0.5 * (1 - i / n)
                for i, (d, s) in enumerate(ranked)}
    raise ValueError(f"unknown normalisation {method!r}; valid: minmax, zscore, dbsf, rankscore")


def fuse_scores(
    rankings: dict, *, method: str = "dbsf", weights: dict[str, float] | None = None,
) -> list[tuple]:
    """Score fusion: normalise each retriever's scores over its own candidates, then add them
    (weighted). Unlike RRF it keeps how *confident* each retriever is: a BM25 top hit far above
    the rest keeps its lead. A document missing from a list gets that list's lowest value."""
    weights = weights or {}
    norm = {name: _normalise(r, method) for name, r in rankings.items()}
    floor = {name: min(n.values()) if n else 0.0 for name, n in norm.items()}
    ids = {d for r in rankings.values() for d, _ in r}
    fused = {d: sum(weights.get(name, 1.0) * norm[name].get(d, floor[name]) for name in rankings) for d in ids}
    return sorted(fused.items(), key=lambda kv: (-kv[1], str(kv[0])))
