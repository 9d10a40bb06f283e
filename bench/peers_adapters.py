"""Tether's bundled embedder seen through LlamaIndex's and Haystack's interfaces (bench/peers.py).

Nothing here downloads a model or a tokenizer: every vector comes from Tether's
``OnnxEmbedder`` (all-MiniLM-L6-v2 int8 ONNX, mean pooling, L2-normalised, 256-token truncation).

:class:`TimedEmbedder` counts the seconds spent inside the model, so each system's index time
can be split into "embedding" and "everything else", and optionally memoises *document*
vectors so that two peers that index the very same texts embed them only once
(``--share-doc-embeddings``). Query vectors are never cached: query latency always includes
embedding the query.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np


class TimedEmbedder:
    """Wraps one loaded OnnxEmbedder; the Tether ``Embedder`` interface plus timing."""

    def __init__(self, inner: Any, doc_cache: dict[str, np.ndarray] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.doc_cache = doc_cache
        self.seconds = 0.0  # time spent in the model
        self.texts = 0  # texts actually embedded (cache hits excluded)
        self.cache_hits = 0  # document texts whose vector came from the shared cache

    # Tether's Embedder protocol (used by index_dataset / retrieve)
    def embed(self, texts: list[str]) -> np.ndarray:
        t = time.perf_counter()
        out = self.inner.embed(texts)
        self.seconds += time.perf_counter() - t
        self.texts += len(texts)
        return out

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def warm_up(self) -> None:
        self.inner.warm_up()

    def __getattr__(self, name: str) -> Any:  # anything else the engine may ask for
        return getattr(self.inner, name)

    # the two paths the peer wrappers use
    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed_docs(self, texts: list[str]) -> np.ndarray:
        if self.doc_cache is None:
            return self.embed(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self.doc_cache]
        self.cache_hits += len(texts) - len(missing)
        if missing:
            for t, v in zip(missing, self.embed(missing)):
                self.doc_cache[t] = v
        return np.stack([self.doc_cache[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)


# --- LlamaIndex -------------------------------------------------------------------------------

def llamaindex_embedding(embedder: TimedEmbedder, batch_size: int = 256):
    """A ``BaseEmbedding`` subclass instance over ``embedder``."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class TetherOnnxEmbedding(BaseEmbedding):
        _emb: Any = PrivateAttr()

        def __init__(self, emb: TimedEmbedder, **kw: Any) -> None:
            super().__init__(model_name=emb.name, **kw)
            self._emb = emb

        @classmethod
        def class_name(cls) -> str:
            return "TetherOnnxEmbedding"

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._emb.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._emb.embed_docs([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._emb.embed_docs(texts).tolist()

        async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._get_text_embeddings(texts)

    return TetherOnnxEmbedding(embedder, embed_batch_size=batch_size)


# --- Haystack ---------------------------------------------------------------------------------

def haystack_components(embedder: TimedEmbedder):
    """(TextEmbedder, DocumentEmbedder) Haystack custom components over ``embedder``."""
    from haystack import Document, component

    @component
    class TetherTextEmbedder:
        def __init__(self, emb: TimedEmbedder) -> None:
            self._emb = emb

        @component.output_types(embedding=list[float])
        def run(self, text: str) -> dict[str, Any]:
            return {"embedding": self._emb.embed_query(text).tolist()}

    @component
    class TetherDocumentEmbedder:
        def __init__(self, emb: TimedEmbedder) -> None:
            self._emb = emb

        @component.output_types(documents=list[Document])
        def run(self, documents: list[Document]) -> dict[str, Any]:
            vecs = self._emb.embed_docs([d.content or "" for d in documents])
            return {"documents": [replace(d, embedding=v.tolist()) for d, v in zip(documents, vecs)]}

    return TetherTextEmbedder(embedder), TetherDocumentEmbedder(embedder)
