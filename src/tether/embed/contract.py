"""The ``Embedder`` protocol: what every embedder (and the contract suite) agrees on. Apart from
the factory in :mod:`tether.embed.base`, so implementations can name it without importing the
factory that imports them."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension.

    Contract (checked by the contract suite for every implementation):

    - ``embed(texts)`` returns a float32 array of shape ``(len(texts), dimension)``, one row per
      text in input order; every row has unit L2 norm, whatever the text (an empty or
      punctuation-only text included); ``embed([])`` has shape ``(0, dimension)``.
    - The vector of a text does not depend on the batch it came in (a batch equals the texts
      embedded one by one, to float tolerance) and the same text always gets the same vector.
    - Texts longer than the model's window are truncated, never rejected.
    - ``count_tokens`` is 0 for ``""``, positive for text with a word in it, and monotone:
      appending text never lowers the count.
    - Failures raise typed errors from :mod:`tether.errors`: ``ProviderError`` (HTTP status in
      ``details["status"]``), ``ProviderTimeout``, ``ConfigError`` (a model that cannot be loaded).
    """

    #: Identifies the model; stored with the index, so a change of model triggers a re-embed.
    name: str
    #: Length of every vector (the index column's dimension).
    dimension: int
    #: How many recently embedded texts are memoised (0: none). When positive, embedding a text
    #: again soon after costs no model run (the answer cache relies on it to skip accounting).
    cache_size: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dimension), rows L2-normalised."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model would see for ``text`` (used to bound chunk sizes and budgets)."""
        ...
