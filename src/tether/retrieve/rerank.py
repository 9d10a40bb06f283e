"""Rerankers: reorder the fused candidates with a stronger (slower) relevance signal.

``Reranker`` is the protocol. Kinds:
- ``FeatureReranker`` (default): no extra model. Combines the bundled embedder's cosine (from the
  stored chunk vectors), the exact BM25 score and query-term coverage, each normalised within
  the candidate set, into one score.
- ``CrossEncoderReranker``: an ONNX cross-encoder loaded from a local folder
  (``model.onnx`` + ``tokenizer.json``), scoring (query, passage) pairs.
- ``HttpReranker``: a ``/rerank`` endpoint in the shape TEI, Jina and Cohere servers use.
Optional MMR diversity runs after any of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
import numpy as np

from tether._http import post_json
from tether.errors import ConfigError, ProviderError
from tether.retrieve.keyword import analyze
from tether.settings import RetrieveSettings
from tether.types import Passage


@runtime_checkable
class Reranker(Protocol):
    """Reorders retrieved passages by relevance to the query.

    Contract (``tests/contracts/test_reranker_contract.py`` checks every kind here and
    ``tether.testing.FakeReranker``):

    - ``rerank`` returns the same passage objects, each exactly once: a reordering, never a
      filter. Only the first ``top_n`` are reordered (best first); the rest follow unchanged.
    - Each passage of a reordered head gets its relevance in ``scores["rerank"]`` and ``score``,
      non-increasing down the head (a head of fewer than two may be returned untouched). Text,
      ids and offsets are never changed.
    - With nothing else to tell them apart (equal retrieval scores), a passage that shares the
      query's terms ranks above one that shares none; the same input always gives the same
      order (ties keep their input order).
    - An empty list, ``top_n`` of 0 or 1, or a single passage is not an error: the input order
      comes back.
    - Failures raise typed errors: ``ProviderError`` (HTTP status in ``details["status"]``),
      ``ProviderTimeout``; a model folder that cannot be loaded is a ``ConfigError``.
    """

    #: The kind, shown in traces (``features``, ``cross-encoder``, ``http``).
    name: str

    def rerank(self, query: str, passages: list[Passage], *, top_n: int) -> list[Passage]:
        """Reorder the first ``top_n`` passages (best first); the rest keep their order after them."""
        ...


def _minmax(xs: list[float]) -> list[float]:
    lo, hi = min(xs), max(xs)
    return [0.0 if hi - lo < 1e-12 else (x - lo) / (hi - lo) for x in xs]


def _apply(passages: list[Passage], top_n: int, scores: list[float], name: str) -> list[Passage]:
    head, tail = passages[:top_n], passages[top_n:]
    for p, s in zip(head, scores):
        p.scores[name] = float(s)
        p.score = float(s)
    order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
    return [head[i] for i in order] + tail


class FeatureReranker:
    """Default reranker: normalised dense cosine + BM25 + query-term coverage."""

    name = "features"

    def __init__(self, w_dense: float = 0.5, w_bm25: float = 0.35, w_cover: float = 0.15) -> None:
        self.w = (w_dense, w_bm25, w_cover)

    def rerank(self, query: str, passages: list[Passage], *, top_n: int) -> list[Passage]:
        head = passages[:top_n]
        if len(head) < 2:
            return passages
        q_terms = set(analyze(query))
        dense = [p.scores.get("dense", 0.0) for p in head]
        bm25 = [p.scores.get("bm25", 0.0) for p in head]
        cover = [len(q_terms & set(analyze(p.text))) / max(len(q_terms), 1) for p in head]
        d, b = _minmax(dense), _minmax(bm25)
        scores = [self.w[0] * d[i] + self.w[1] * b[i] + self.w[2] * cover[i] for i in range(len(head))]
        return _apply(passages, top_n, scores, "rerank")


class CrossEncoderReranker:
    """An ONNX cross-encoder from a local folder holding ``model.onnx`` and ``tokenizer.json``."""

    name = "cross-encoder"

    def __init__(self, path: str, *, max_tokens: int = 512, batch_size: int = 16) -> None:
        folder = Path(path)
        if not (folder / "model.onnx").is_file() or not (folder / "tokenizer.json").is_file():
            raise ConfigError(f"cross-encoder folder {folder} must contain model.onnx and tokenizer.json")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(max_length=max_tokens)
        self.tok.enable_padding()
        self.batch_size = batch_size

    def scores(self, query: str, texts: list[str]) -> list[float]:
        out: list[float] = []
        for s in range(0, len(texts), self.batch_size):
            encs = self.tok.encode_batch([(query, t) for t in texts[s : s + self.batch_size]])
            feed = {
                "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
            }
            (logits,) = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[:1]
            logits = np.asarray(logits).reshape(len(encs), -1)
            out += [float(r[-1]) for r in logits]  # last column = "relevant" logit
        return out

    def rerank(self, query: str, passages: list[Passage], *, top_n: int) -> list[Passage]:
        head = passages[:top_n]
        if not head:
            return passages
        return _apply(passages, top_n, self.scores(query, [p.text for p in head]), "rerank")


class HttpReranker:
    """POST ``{url}`` with ``{"query", "documents"/"texts", "top_n"}``; accepts the response
    shapes of Cohere/Jina (``{"results": [{"index", "relevance_score"}]}``) and TEI
    (``[{"index", "score"}]``)."""

    name = "http"

    def __init__(self, url: str, *, api_key: str | None = None, model: str | None = None,
                 timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self.url = url
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(timeout=timeout_s)

    def scores(self, query: str, texts: list[str]) -> list[float]:
        body: dict[str, object] = {"query": query, "documents": texts, "texts": texts, "top_n": len(texts),
                                   "return_documents": False}
        if self.model:
            body["model"] = self.model
        data = post_json(self.client, self.url, body, self.headers, "reranker")
        try:
            items: Any = data["results"] if isinstance(data, dict) else data
            scores = [math.nan] * len(texts)
            for it in items:
                scores[int(it["index"])] = float(it.get("relevance_score", it.get("score")))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ProviderError(f"reranker at {self.url} returned an unexpected body") from exc
        if any(math.isnan(s) for s in scores):
            raise ProviderError(f"reranker at {self.url} did not score every document")
        return scores

    def rerank(self, query: str, passages: list[Passage], *, top_n: int) -> list[Passage]:
        head = passages[:top_n]
        if not head:
            return passages
        return _apply(passages, top_n, self.scores(query, [p.text for p in head]), "rerank")


def mmr(passages: list[Passage], vectors: np.ndarray, query_vec: np.ndarray, *, lam: float, k: int) -> list[Passage]:
    """Maximal marginal relevance over passages with their (normalised) vectors."""
    if not passages:
        return passages
    rel = vectors @ query_vec
    chosen: list[int] = []
    rest = list(range(len(passages)))
    while rest and len(chosen) < k:
        sim = (vectors[rest] @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(rest))
        scores = lam * rel[rest] - (1 - lam) * sim
        pick = rest[int(np.argmax(scores))]
        chosen.append(pick)
        rest.remove(pick)
    return [passages[i] for i in chosen] + [passages[i] for i in rest]


def make_reranker(settings: RetrieveSettings, embedder=None,
                  secrets: Mapping[str, str] | None = None) -> Reranker | None:
    """``secrets`` is the environment, read at the edge; only ``rerank_api_key_env`` is used."""
    kind = settings.reranker
    if kind == "none":
        return None
    if kind == "default":
        return FeatureReranker()
    if kind == "cross-encoder":
        return CrossEncoderReranker(settings.rerank_model_path)
    if kind == "http":
        return HttpReranker(settings.rerank_url, api_key=(secrets or {}).get(settings.rerank_api_key_env))
    raise ConfigError(f"unknown reranker {kind!r}; valid: default, cross-encoder, http, none")
