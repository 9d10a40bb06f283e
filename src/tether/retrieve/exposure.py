"""What a retrieval may show of its scores, per viewer: closing the score side channel.

Why this module exists: BM25 scores are computed with corpus-wide statistics (the idf of a term
counts *every* chunk containing it, the average length every chunk). A raw score therefore
depends on documents the viewer cannot read: with two private uploads as controls, a member can
solve for the total chunk count and then for how many unreadable chunks contain any word they
guess. The ranking itself stays on the global statistics (exact top-k over the impact index needs
them, and they are what the retrieval-quality bars were measured with); what *leaves the server*
for anyone but an administrator is normalised per request here:

- ``score`` (the fused score) and every corpus-dependent entry of ``scores`` (``bm25``, fused
  or reranker scores) become ``1 / rank`` within this response: a function of the position only;
- ``scores["dense"]`` stays: a cosine between the query's and the chunk's own vectors depends on
  no other document;
- stage timings are dropped (how long the keyword search took depends on posting-list lengths,
  i.e. on every chunk).

``expose`` is applied by the engine's search facade and by the trace's ``hits`` attribute (the raw
hits go to ``admin.hits``, which only administrators see). Residual guarantees are stated in the
README's security section.
"""

from __future__ import annotations

from dataclasses import replace

from tether.types import Passage

__all__ = ["CORPUS_FREE", "expose", "rank_normalised"]

#: Score names whose values depend only on the query and the chunk itself.
CORPUS_FREE = frozenset({"dense"})


def rank_normalised(values: list[float]) -> list[float]:
    """``1 / rank`` of each value (higher is better; ties share the better rank)."""
    ordered = sorted(values, reverse=True)
    first: dict[float, int] = {}
    for i, v in enumerate(ordered, start=1):
        first.setdefault(v, i)
    return [1.0 / first[v] for v in values]


def expose(passages: list[Passage], *, admin: bool) -> list[Passage]:
    """The passages as ``admin`` or not may see them (copies; the input is not changed).

    Administrators see raw scores. Anyone else sees ``score = 1 / position`` (the order is the
    response's order) and, per score name, ``1 / rank`` among the passages carrying it, except
    corpus-free scores (``CORPUS_FREE``), which pass unchanged."""
    if admin:
        return list(passages)
    names = sorted({n for p in passages for n in p.scores if n not in CORPUS_FREE})
    ranked: dict[str, dict[int, float]] = {}
    for name in names:
        carrying = [i for i, p in enumerate(passages) if name in p.scores]
        norm = rank_normalised([passages[i].scores[name] for i in carrying])
        ranked[name] = dict(zip(carrying, norm))
    out = []
    for i, p in enumerate(passages):
        scores = {n: (ranked[n][i] if n in ranked else v) for n, v in p.scores.items()}
        out.append(replace(p, score=1.0 / (i + 1), scores=scores))
    return out
