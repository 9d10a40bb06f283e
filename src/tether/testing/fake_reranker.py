"""``FakeReranker``: a deterministic :class:`~tether.retrieve.rerank.Reranker` for tests.

Why: a test of retrieval or the answer path can predict its order exactly (the share of the
query's words a passage contains, ties in input order) and make it fail on cue with a typed
error. The fake OpenAI server's ``/v1/rerank`` scores with :func:`overlap_score` too.

    FakeReranker().rerank("annual leave", passages, top_n=10)
"""

from __future__ import annotations

import re

from tether.errors import TetherError
from tether.types import Passage

_WORD = re.compile(r"\w+")


def overlap_score(query: str, text: str) -> float:
    """Share of the query's distinct lower-cased words that occur in ``text`` (0 for no words)."""
    q = set(_WORD.findall(query.lower()))
    if not q:
        return 0.0
    return len(q & set(_WORD.findall(text.lower()))) / len(q)


class FakeReranker:
    """Orders the head by :func:`overlap_score`; ``error`` is raised by every call instead.
    ``calls`` records ``(query, chunk ids, top_n)`` of each call."""

    def __init__(self, *, name: str = "fake", error: TetherError | None = None) -> None:
        self.name = name
        self.error = error
        self.calls: list[tuple[str, list[int], int]] = []

    def rerank(self, query: str, passages: list[Passage], *, top_n: int) -> list[Passage]:
        self.calls.append((query, [p.chunk_id for p in passages], top_n))
        if self.error is not None:
            raise self.error
        head, tail = passages[: max(top_n, 0)], passages[max(top_n, 0):]
        scores = [overlap_score(query, p.text) for p in head]
        for p, s in zip(head, scores):
            p.scores["rerank"] = s
            p.score = s
        order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
        return [head[i] for i in order] + tail
