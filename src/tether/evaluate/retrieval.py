"""`tether eval retrieval`: BEIR-format evaluation of every retrieval mode side by side.

The corpus is indexed into a scratch database (never the production one), each query is run
through bm25, dense, hybrid and hybrid+rerank, chunk hits are collapsed to documents (best
chunk wins), and nDCG@10, Recall@100, MRR@10 and latency p50/p95 are reported per mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tether.embed.base import Embedder, embed_queries
from tether.evaluate.beir import BeirDataset
from tether.evaluate.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k
from tether.ingest.bulk import TextItem, index_texts
from tether.retrieve.retriever import retrieve
from tether.settings import Settings
from tether.store.db import Database

MODES = ("bm25", "dense", "hybrid", "hybrid+rerank")


@dataclass
class ModeResult:
    ndcg10: float
    recall100: float
    mrr10: float
    p50_ms: float
    p95_ms: float
    per_query: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"ndcg@10": round(self.ndcg10, 4), "recall@100": round(self.recall100, 4),
                "mrr@10": round(self.mrr10, 4), "p50_ms": round(self.p50_ms, 2), "p95_ms": round(self.p95_ms, 2)}


def index_dataset(db: Database, embedder: Embedder, settings: Settings, ds: BeirDataset,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    items = [TextItem(uri=f"beir://{did}", title=d["title"], text=ds.doc_text(did)) for did, d in ds.corpus.items()]
    return index_texts(db, embedder, settings, items, collection=f"eval-{ds.name}", progress=progress)


def chunk_to_doc(db: Database) -> dict[int, str]:
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT c.id, d.source_uri FROM chunks c JOIN documents d ON d.id = c.document_id").fetchall()
    return {int(r["id"]): r["source_uri"].removeprefix("beir://") for r in rows}


def run_queries(
    db: Database, embedder: Embedder, settings: Settings, ds: BeirDataset, modes: tuple[str, ...] = MODES,
    *, reranker=None, progress: Callable[[int], None] | None = None,
) -> dict[str, ModeResult]:
    c2d = chunk_to_doc(db)
    qids = sorted(ds.queries)
    qvecs = dict(zip(qids, embed_queries(embedder, [ds.queries[q] for q in qids])))
    rankings: dict[str, dict[str, list[str]]] = {m: {} for m in modes}
    latencies: dict[str, list[float]] = {m: [] for m in modes}
    k = 100
    with db.connection() as conn:
        for n, qid in enumerate(qids, 1):
            query = ds.queries[qid]
            for mode in modes:
                t = time.perf_counter()
                base = "hybrid" if mode.startswith("hybrid") else mode
                res = retrieve(conn, embedder, query, acl_tokens=None, settings=settings.retrieve,
                               k=k, mode=base, query_vec=qvecs[qid])  # type: ignore[arg-type]
                passages = res.passages
                if mode == "hybrid+rerank" and reranker is not None:
                    passages = reranker.rerank(query, passages, top_n=settings.retrieve.rerank_top_n)
                latencies[mode].append((time.perf_counter() - t) * 1000)
                docs: list[str] = []
                seen = set()
                for p in passages:
                    d = c2d[p.chunk_id]
                    if d not in seen:
                        seen.add(d)
                        docs.append(d)
                rankings[mode][qid] = docs
            if progress:
                progress(n)
    out = {}
    for mode in modes:
        nd = {q: ndcg_at_k(rankings[mode][q], ds.qrels[q], 10) for q in qids}
        out[mode] = ModeResult(
            ndcg10=sum(nd.values()) / len(qids),
            recall100=sum(recall_at_k(rankings[mode][q], ds.qrels[q], 100) for q in qids) / len(qids),
            mrr10=sum(mrr_at_k(rankings[mode][q], ds.qrels[q], 10) for q in qids) / len(qids),
            p50_ms=percentile(latencies[mode], 50), p95_ms=percentile(latencies[mode], 95), per_query=nd,
        )
    return out
