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
