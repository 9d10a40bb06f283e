"""Tether's hybrid retrieval beside LlamaIndex's and Haystack's default hybrid pipelines,
on the same BEIR dev set, with the same embedding model.

    python bench/peers.py [--dataset DIR|NAME] [--limit-queries N] [--limit-docs N]
                          [--systems tether,llamaindex,haystack] [--tether-json FILE]
                          [--share-doc-embeddings] [--seed 13]

What each system runs (top 100, metrics on document ids with tether.evaluate.metrics):

- tether: ``index_dataset`` into a scratch database (Tether's own chunker: 200-token chunks, 40
  overlap; chunk hits collapse to their document, best chunk wins), then ``retrieve(mode="hybrid")``
  per query. With ``--tether-json FILE`` (``tether eval retrieval --json``) its "hybrid" figures are
  read instead; note that file's latencies EXCLUDE query embedding (run_queries embeds all queries
  up front), and it covers the full corpus.
- llamaindex: in-memory ``VectorStoreIndex`` retriever + ``BM25Retriever`` (bm25s, English
  stopwords + Snowball stemmer) fused by ``QueryFusionRetriever(mode="reciprocal_rerank",
  num_queries=1, similarity_top_k=100)`` (use_async left at its default True); ``Settings.llm =
  None``, ``Settings.embed_model`` = Tether's ONNX model wrapped as a ``BaseEmbedding``.
- haystack: ``InMemoryDocumentStore`` (defaults: BM25L, dot product) written through a custom
  document-embedder component; query pipeline = custom text embedder -> InMemoryEmbeddingRetriever
  and InMemoryBM25Retriever -> ``DocumentJoiner(join_mode="reciprocal_rank_fusion")``, top_k 100.

Units: each BEIR document (title + "\\n\\n" + text, as Tether's eval builds it) is ONE
LlamaIndex node / Haystack document (no splitter), so the peers see whole documents (the model
truncates at 256 tokens); Tether chunks with its default chunker, as it does in production.

Latency: wall time per query of the whole retrieval call, INCLUDING embedding the query, for all
three in-process systems; one untimed warm-up query per system first. "index s" is the wall time
to build each system's index, "embed s" the part of it spent inside the (shared) embedding model.
Models are loaded once before any timing. Everything runs offline (HF_HUB_OFFLINE=1, Haystack
telemetry off, LlamaIndex's tokenizer set to the bundled one so tiktoken never downloads).
"""

from __future__ import annotations

import os

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

from _common import ROOT, final_json, print_table  # noqa: E402
from peers_adapters import TimedEmbedder, haystack_components, llamaindex_embedding  # noqa: E402

SYSTEMS = ("tether", "llamaindex", "haystack")
K = 100
DATA = ROOT.parent / "shared" / "data" / "retrieval"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def resolve_dataset(arg: str) -> Path:
    p = Path(arg)
    if p.is_dir():
        return p
    if (DATA / arg).is_dir():
        return DATA / arg
    raise SystemExit(f"no BEIR data set at {arg} (nor {DATA / arg})")


def subset(ds, limit_queries: int, limit_docs: int, seed: int):
    """First N queries (sorted ids, as `tether eval retrieval --limit-queries`); all their judged
    documents plus a seeded random sample of the others, up to ``limit_docs`` in all."""
    from tether.evaluate.beir import BeirDataset

    qids = sorted(ds.queries)
    if limit_queries:
        qids = qids[:limit_queries]
    queries = {q: ds.queries[q] for q in qids}
    qrels = {q: ds.qrels[q] for q in qids}
    corpus = ds.corpus
    if limit_docs and limit_docs < len(corpus):
        judged = {d for q in qids for d in qrels[q]}
        if len(judged) > limit_docs:
            log(f"note: the kept queries judge {len(judged)} documents (> --limit-docs {limit_docs}); "
                "keeping all of them")
        others = sorted(d for d in corpus if d not in judged)
        extra = random.Random(seed).sample(others, max(0, limit_docs - len(judged)))
        keep = judged | set(extra)
        corpus = {d: v for d, v in corpus.items() if d in keep}  # corpus order preserved
    return BeirDataset(ds.name, corpus, queries, qrels)


def score(ds, rankings: dict[str, list[str]], latencies: list[float]) -> dict:
    from tether.evaluate.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k

    qids = sorted(ds.queries)
    n = len(qids)
    return {
        "ndcg@10": round(sum(ndcg_at_k(rankings[q], ds.qrels[q], 10) for q in qids) / n, 4),
        "recall@100": round(sum(recall_at_k(rankings[q], ds.qrels[q], 100) for q in qids) / n, 4),
        "mrr@10": round(sum(mrr_at_k(rankings[q], ds.qrels[q], 10) for q in qids) / n, 4),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
    }


def run_loop(ds, search: Callable[[str], list[str]], label: str) -> tuple[dict[str, list[str]], list[float]]:
    qids = sorted(ds.queries)
    search(ds.queries[qids[0]])  # warm-up, untimed
    rankings, lat = {}, []
    for i, q in enumerate(qids, 1):
        t = time.perf_counter()
        docs = search(ds.queries[q])
        lat.append((time.perf_counter() - t) * 1000)
        rankings[q] = docs
        if i % 50 == 0:
            log(f"  {label}: {i}/{len(qids)} queries")
    return rankings, lat


def dedup(ids) -> list[str]:
    return list(dict.fromkeys(ids))


# --- the three systems ------------------------------------------------------------------------

def run_tether(ds, emb: TimedEmbedder) -> dict:
    from tether.evaluate.retrieval import chunk_to_doc, index_dataset
    from tether.retrieve.retriever import retrieve
    from tether.settings import load_settings
    from tether.store.db import Database, scratch_database

    s = load_settings()
    with scratch_database(s, prefix="tether_peers") as url, Database(url, min_size=1, max_size=2).open() as db:
        t0 = time.perf_counter()
        counts = index_dataset(db, emb, s, ds)
        index_s = time.perf_counter() - t0
        embed_s = emb.seconds
        log(f"  tether: indexed {counts['documents']} docs as {counts['chunks']} chunks in {index_s:.1f}s")
        c2d = chunk_to_doc(db)
        with db.connection() as conn:
            def search(query: str) -> list[str]:
                res = retrieve(conn, emb, query, acl_tokens=None, settings=s.retrieve, k=K, mode="hybrid")
                return dedup(c2d[p.chunk_id] for p in res.passages)

            rankings, lat = run_loop(ds, search, "tether")
    return {"rankings": rankings, "latencies": lat, "index_s": index_s, "embed_s": embed_s,
            "units": counts["chunks"], "unit": "chunks (Tether chunker)"}


def run_llamaindex(ds, emb: TimedEmbedder) -> dict:
    from llama_index.core import Settings as LISettings
    from llama_index.core import VectorStoreIndex
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    tok = emb.inner._count_tok  # the bundled tokenizer: nothing fetches tiktoken
    LISettings.tokenizer = lambda text: tok.encode(text, add_special_tokens=False).ids
    LISettings.llm = None  # MockLLM; num_queries=1 never asks it anything
    LISettings.embed_model = llamaindex_embedding(emb)

    t0 = time.perf_counter()
    nodes = [TextNode(id_=did, text=ds.doc_text(did)) for did in ds.corpus]
    index = VectorStoreIndex(nodes)  # in-memory SimpleVectorStore, embeds via Settings.embed_model
    bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=K)
    retriever = QueryFusionRetriever(
        [index.as_retriever(similarity_top_k=K), bm25],
        mode="reciprocal_rerank", num_queries=1, similarity_top_k=K,
    )
    index_s = time.perf_counter() - t0
    embed_s = emb.seconds
    log(f"  llamaindex: indexed {len(nodes)} nodes in {index_s:.1f}s")

    def search(query: str) -> list[str]:
        return dedup(n.node.node_id for n in retriever.retrieve(query))

    rankings, lat = run_loop(ds, search, "llamaindex")
    return {"rankings": rankings, "latencies": lat, "index_s": index_s, "embed_s": embed_s,
            "units": len(nodes), "unit": "nodes (1 per doc)"}


def run_haystack(ds, emb: TimedEmbedder) -> dict:
    from haystack import Document, Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    text_embedder, doc_embedder = haystack_components(emb)
    t0 = time.perf_counter()
    store = InMemoryDocumentStore()
    indexing = Pipeline()
    indexing.add_component("embedder", doc_embedder)
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.connect("embedder.documents", "writer.documents")
    docs = [Document(id=did, content=ds.doc_text(did)) for did in ds.corpus]
    indexing.run({"embedder": {"documents": docs}})
    index_s = time.perf_counter() - t0
    embed_s = emb.seconds
    log(f"  haystack: indexed {store.count_documents()} documents in {index_s:.1f}s")

    query = Pipeline()
    query.add_component("text_embedder", text_embedder)
    query.add_component("embedding_retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=K))
    query.add_component("bm25_retriever", InMemoryBM25Retriever(document_store=store, top_k=K))
    query.add_component("document_joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=K))
    query.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
    query.connect("bm25_retriever", "document_joiner")
    query.connect("embedding_retriever", "document_joiner")

    def search(q: str) -> list[str]:
        out = query.run({"text_embedder": {"text": q}, "bm25_retriever": {"query": q}})
        return dedup(d.id for d in out["document_joiner"]["documents"])

    rankings, lat = run_loop(ds, search, "haystack")
    return {"rankings": rankings, "latencies": lat, "index_s": index_s, "embed_s": embed_s,
            "units": len(docs), "unit": "documents (1 per doc)"}


def tether_from_json(path: Path, ds) -> dict:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    h = doc["modes"]["hybrid"]
    if doc.get("queries") != len(ds.queries) or doc.get("documents") != len(ds.corpus):
        log(f"warning: {path} covers {doc.get('queries')} queries / {doc.get('documents')} docs; "
            f"this run has {len(ds.queries)} / {len(ds.corpus)}: figures are not like for like")
    return {"figures": {k: h[k] for k in ("ndcg@10", "recall@100", "mrr@10", "p50_ms", "p95_ms")},
            "index_s": doc.get("index_seconds"), "embed_s": None, "units": doc.get("chunks"),
            "unit": "chunks (Tether chunker)", "source": str(path),
            "latency_note": "from tether eval retrieval --json: excludes query embedding"}


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="scifact-dev", help="BEIR folder, or a name under shared/data/retrieval")
    ap.add_argument("--limit-queries", type=int, default=0, help="first N queries by id (0: all)")
    ap.add_argument("--limit-docs", type=int, default=0,
                    help="judged docs of the kept queries plus a random sample, N in all (0: all)")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--tether-json", type=Path, default=None,
                    help="take Tether's figures from `tether eval retrieval --json` output instead of running it")
    ap.add_argument("--share-doc-embeddings", action="store_true",
                    help="the peers index identical texts: embed them once (the second peer's embed s is then ~0)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad:
        raise SystemExit(f"unknown systems {bad}; choose from {','.join(SYSTEMS)}")

    from tether.embed.onnx_minilm import OnnxEmbedder
    from tether.evaluate.beir import BeirDataset
    from tether.settings import EmbedSettings

    ds = subset(BeirDataset.load(resolve_dataset(args.dataset)), args.limit_queries, args.limit_docs, args.seed)
    log(f"{ds.name}: {len(ds.queries)} queries, {len(ds.corpus)} docs")
    model = OnnxEmbedder(EmbedSettings())
    model.warm_up()
    model.embed(["warm-up"])
    cache: dict | None = {} if args.share_doc_embeddings else None

    results: dict[str, dict] = {}
    for name in systems:
        log(f"{name} ...")
        if name == "tether" and args.tether_json:
            results[name] = tether_from_json(args.tether_json, ds)
            continue
        emb = TimedEmbedder(model, doc_cache=None if name == "tether" else cache)
        r = {"tether": run_tether, "llamaindex": run_llamaindex, "haystack": run_haystack}[name](ds, emb)
        r["figures"] = score(ds, r["rankings"], r["latencies"])
        r["doc_vectors_reused"] = emb.cache_hits
        r["source"] = "in-process"
        r["latency_note"] = "includes query embedding"
        results[name] = r

    rows = []
    for name, r in results.items():
        f = r["figures"]
        rows.append([name, r["units"], f"{f['ndcg@10']:.4f}", f"{f['recall@100']:.4f}", f"{f['mrr@10']:.4f}",
                     f"{f['p50_ms']:.1f}", f"{f['p95_ms']:.1f}",
                     "-" if r["index_s"] is None else f"{r['index_s']:.1f}",
                     "-" if r["embed_s"] is None
                     else f"{r['embed_s']:.1f}" + ("*" if r.get("doc_vectors_reused") else "")])
    print_table(f"{ds.name}: {len(ds.queries)} queries, {len(ds.corpus)} docs, hybrid top-{K} "
                f"(latency includes query embedding"
                f"{'; tether from ' + str(args.tether_json) + ', whose latency does not' if args.tether_json else ''})",
                ["system", "units", "nDCG@10", "Recall@100", "MRR@10", "p50 ms", "p95 ms", "index s", "embed s"], rows)
    if any(r.get("doc_vectors_reused") for r in results.values()):
        print("* reused document vectors embedded by an earlier peer (--share-doc-embeddings): "
              "its index s excludes that embedding")
        print()
    final_json({
        "benchmark": "peers",
        "dataset": ds.name,
        "queries": len(ds.queries),
        "documents": len(ds.corpus),
        "limit_docs": args.limit_docs,
        "seed": args.seed,
        "top_k": K,
        "share_doc_embeddings": args.share_doc_embeddings,
        "embedding_model": model.name,
        "systems": {n: {**r["figures"], "index_s": None if r["index_s"] is None else round(r["index_s"], 1),
                        "embed_s": None if r["embed_s"] is None else round(r["embed_s"], 1),
                        "units": r["units"], "unit": r["unit"], "source": r["source"],
                        "doc_vectors_reused": r.get("doc_vectors_reused", 0),
                        "latency": r["latency_note"]} for n, r in results.items()},
        "versions": {d: version(d) for d in ("tether", "llama-index-core", "llama-index-retrievers-bm25",
                                               "haystack-ai", "bm25s", "PyStemmer", "onnxruntime")},
    })


if __name__ == "__main__":
    main()
