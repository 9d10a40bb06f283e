"""Retrieval latency at 100k chunks: BM25 + dense (HNSW) + fusion + hydration, no rerank,
for a principal who may read everything and for one who may read 10% of the chunks.

Text comes from bench/bm25.py's Zipfian generator; vectors are clustered random unit vectors
(embedding 100k chunks with the bundled model would take most of an hour on 2 cores; HNSW
cost depends on N, dimension and the filter, not on where the vectors came from). Query
vectors are perturbed chunk vectors, so the dense search has true near neighbours.

    python bench/retrieval.py [--chunks 100000] [--queries 200] [--data-dir DIR]
                              [--keyword-backend sql|pg_textsearch] [--sequential]

The same run times a raw pgvector top-10 (``ORDER BY embedding <=> q LIMIT 10``, no filter, default
``hnsw.ef_search``) and prints ``raw_dense_p50_ms`` and each principal's latency as a ratio of it.
BM25 and dense search run concurrently on two connections unless ``--sequential``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import bm25 as bm25_bench  # noqa: E402  (the generator)
import numpy as np
import psycopg
from _common import final_json, print_table

DIM = 384


class _FixedEmbedder:
    """Hands out precomputed query vectors (the retriever's embedder seam)."""

    name, dimension = "bench-vectors", DIM

    def embed(self, texts):  # pragma: no cover - never called: query_vec is passed in
        raise AssertionError("query vectors are precomputed")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def add_vectors(conn: psycopg.Connection, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE embedding IS NULL ORDER BY id")]
    centers = rng.normal(size=(500, DIM)).astype(np.float32)
    t0 = time.perf_counter()
    for s in range(0, len(ids), 5000):
        part = ids[s : s + 5000]
        v = centers[rng.integers(0, 500, len(part))] + 0.7 * rng.normal(size=(len(part), DIM)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        with conn.cursor() as cur, cur.copy("COPY tmp_vec (id, v) FROM STDIN") as cp:
            for cid, row in zip(part, v):
                cp.write_row((cid, "[" + ",".join(f"{x:.5f}" for x in row) + "]"))
    if ids:
        conn.execute("UPDATE chunks c SET embedding = t.v::vector FROM tmp_vec t WHERE t.id = c.id")
    conn.commit()
    print(f"  vectors written in {time.perf_counter() - t0:.0f}s; building HNSW ...", flush=True)
    t0 = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute(f"CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw ON chunks USING hnsw "
                 f"((embedding::vector({DIM})) vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
    conn.execute("INSERT INTO index_meta VALUES ('embed_model', 'bench-vectors'), ('embed_dim', %s)"
                 " ON CONFLICT DO NOTHING", (str(DIM),))
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE chunks")
    conn.autocommit = False
    print(f"  HNSW built in {time.perf_counter() - t0:.0f}s", flush=True)


def raw_dense(uri: str, qvecs: list[np.ndarray]) -> dict[str, float]:
    """A raw pgvector top-10 per query vector: no filter, no Tether code, default ef_search."""
    from tether.evaluate.metrics import percentile

    lat = []
    with psycopg.connect(uri, autocommit=True) as conn:
        sql = f"SELECT id FROM chunks ORDER BY embedding::vector({DIM}) <=> %s::vector({DIM}) LIMIT 10"
        texts = ["[" + ",".join(f"{x:.7g}" for x in v) + "]" for v in qvecs]
        for t in texts[:10]:
            conn.execute(sql, (t,)).fetchall()
        for t in texts:
            t0 = time.perf_counter()
            conn.execute(sql, (t,)).fetchall()
            lat.append((time.perf_counter() - t0) * 1000)
    return {"raw_dense_p50_ms": round(percentile(lat, 50), 2), "raw_dense_p95_ms": round(percentile(lat, 95), 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data-dir", type=Path, default=None, help="keep/reuse the database here")
    ap.add_argument("--keyword-backend", choices=["sql", "pg_textsearch"], default="sql")
    ap.add_argument("--sequential", action="store_true", help="one connection: BM25, then dense")
    args = ap.parse_args()

    import tempfile

    from tether.evaluate.metrics import percentile
    from tether.retrieve.retriever import retrieve
    from tether.settings import RetrieveSettings
    from tether.store import embedded
    from tether.store.migrations import apply_migrations

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="tether-bench-ret-"))
    uri = embedded.start(data_dir, keep_running=args.data_dir is not None)
    if args.keyword_backend == "pg_textsearch":
        from tether.store.extensions import ensure_pg_textsearch

        ensure_pg_textsearch(uri, data_dir)
    with psycopg.connect(uri, autocommit=True) as conn:
        apply_migrations(conn)
        n = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    with psycopg.connect(uri) as conn:
        if n < args.chunks:
            conn.autocommit = True  # build() commits per batch and ends with VACUUM ANALYZE
            bm25_bench.build(conn, args.chunks - n, args.seed)
            conn.autocommit = False
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS tmp_vec (id bigint, v text)")
        add_vectors(conn, args.seed)
        if args.keyword_backend == "pg_textsearch":
            from tether.store.extensions import ensure_bm25_index

            t0 = time.perf_counter()
            built = ensure_bm25_index(conn, k1=1.2, b=0.75)
            conn.commit()
            if built:
                print(f"  pg_textsearch index built in {time.perf_counter() - t0:.0f}s", flush=True)
        queries = bm25_bench.make_queries(conn, args.queries, args.seed)
        conn.commit()
        rng = np.random.default_rng(args.seed + 1)
        qids = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY random() LIMIT %s", (args.queries,))]
        qvecs = []
        for cid in qids:
            v = np.array(conn.execute("SELECT embedding FROM chunks WHERE id = %s", (cid,)).fetchone()[0]
                         .strip("[]").split(","), dtype=np.float32)
            v = v + 0.3 * rng.normal(size=DIM).astype(np.float32) / np.sqrt(DIM)
            qvecs.append(v / np.linalg.norm(v))
        conn.commit()
        from pgvector.psycopg import register_vector
        from psycopg.rows import dict_row

    settings = RetrieveSettings(keyword_backend=args.keyword_backend, concurrent_searches=not args.sequential)
    emb = _FixedEmbedder()
    rows, figures = [], {"chunks": args.chunks, "queries": args.queries, "keyword_backend": args.keyword_backend,
                         "concurrent": not args.sequential}
    raw = raw_dense(uri, qvecs)
    figures.update(raw)
    with psycopg.connect(uri, row_factory=dict_row) as conn, psycopg.connect(uri, row_factory=dict_row) as side:
        register_vector(conn)
        conn.commit()
        register_vector(side)
        side.commit()
        pair = None if args.sequential else side
        for label, tokens in (("all chunks visible", [f"g:{i}" for i in range(10)]), ("10% visible", ["g:3"])):
            for q, v in list(zip(queries, qvecs))[:10]:  # warm the caches
                retrieve(conn, emb, q, acl_tokens=tokens, settings=settings, k=10, query_vec=v, side=pair)
            lat, parts = [], {"bm25": [], "dense": [], "fusion": [], "hydrate": []}
            for q, v in zip(queries, qvecs):
                t0 = time.perf_counter()
                res = retrieve(conn, emb, q, acl_tokens=tokens, settings=settings, k=10, query_vec=v, side=pair)
                lat.append((time.perf_counter() - t0) * 1000)
                for k in parts:
                    parts[k].append(res.timings_ms.get(k, 0.0))
            f = {"p50_ms": round(percentile(lat, 50), 2), "p95_ms": round(percentile(lat, 95), 2),
                 **{f"{k}_p50_ms": round(percentile(x, 50), 2) for k, x in parts.items()}}
            f["x_raw_p50"] = round(f["p50_ms"] / raw["raw_dense_p50_ms"], 2)
            f["x_raw_p95"] = round(f["p95_ms"] / raw["raw_dense_p95_ms"], 2)
            f["bar_met"] = (f["p50_ms"] <= 30 and f["p95_ms"] <= 80) or (f["x_raw_p50"] <= 8 and f["x_raw_p95"] <= 20)
            figures["filtered_10pct" if tokens == ["g:3"] else "unfiltered"] = f
            rows.append([label, f["p50_ms"], f["p95_ms"], f["bm25_p50_ms"], f["dense_p50_ms"], f["hydrate_p50_ms"],
                         f"{f['x_raw_p50']}x / {f['x_raw_p95']}x", f["bar_met"]])
    if args.data_dir is None:
        embedded.stop(data_dir)
    mode = "sequential" if args.sequential else "concurrent"
    print_table(f"Retrieval at {args.chunks:,} chunks (bm25 [{args.keyword_backend}] + dense, {mode}; fusion,"
                f" hydrate; top 10, no rerank); raw pgvector top-10 p50 {raw['raw_dense_p50_ms']} ms"
                f" / p95 {raw['raw_dense_p95_ms']} ms",
                ["principal", "p50 ms", "p95 ms", "bm25 p50", "dense p50", "hydrate p50", "x raw p50/p95", "bar"],
                rows)
    figures["bar"] = {"p50_ms": 30, "p95_ms": 80, "x_raw_p50": 8, "x_raw_p95": 20}
    final_json(figures)


if __name__ == "__main__":
    main()
