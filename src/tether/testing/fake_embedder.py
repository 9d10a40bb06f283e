"""``FakeEmbedder``: a deterministic, dependency-free :class:`~tether.embed.base.Embedder` for tests.

Why hashed bag of words: texts that share words get similar vectors (so retrieval, grounding
and the answer cache behave sensibly in a test), the same text always gets the same vector in
any batch, and nothing is loaded or downloaded. The fake OpenAI server's ``/v1/embeddings``
uses :func:`hashed_vector` too, so both fakes agree.

    embedder = FakeEmbedder(dimension=384)
    vecs = embedder.embed(["annual leave", "leave policy"])   # unit rows, float32
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from tether.errors import TetherError

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def hashed_vector(text: str, dimension: int) -> np.ndarray:
    """A unit float32 vector: one count per lower-cased word in a hashed bucket. A text with no
    word (``""``, punctuation) gets a fixed bucket of its own, so no vector is ever zero."""
    vec = np.zeros(dimension, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vec[int.from_bytes(digest[:4], "little") % dimension] += 1.0
    if not vec.any():
        vec[0] = 1.0
    return vec / np.linalg.norm(vec)


class FakeEmbedder:
    """Hashed bag-of-words vectors of ``dimension``; ``count_tokens`` counts words and punctuation.

    ``error``: raised by every ``embed`` call (e.g. ``ProviderError("down", status=503)``), to
    test how callers handle a failing embedder. ``calls`` records each batch it was given.
    """

    cache_size = 0

    def __init__(self, dimension: int = 384, *, name: str = "fake-embedder",
                 error: TetherError | None = None) -> None:
        if dimension < 1:
            raise ValueError(f"dimension must be positive, got {dimension}")
        self.name = name
        self.dimension = dimension
        self.error = error
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if self.error is not None:
            raise self.error
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = hashed_vector(text, self.dimension)
        return out

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))
