"""Benchmark BM25 keyword search in PostgreSQL on a synthetic Zipfian corpus.

Builds N chunks (default 100000) of 100-200 words drawn from a Zipf-Mandelbrot vocabulary, indexes
them with ``keyword.index_chunks`` (no embeddings), then runs queries unfiltered and under an ACL
filter admitting 10% of chunks. Prints p50/p95 latency and overlap@10/@100 with the exact
full-aggregation ranking, and as its last line one JSON object with the figures.

    .venv/bin/python bench/bm25.py [--chunks 100000] [--queries 200] [--data-dir DIR]

It starts its own embedded PostgreSQL in a temp dir (or ``--data-dir``, reused when already
built), unless ``TETHER_DATABASE_URL`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg

from tether.retrieve import keyword
from tether.store import embedded
from tether.store.migrations import apply_migrations

K1, B = 1.2, 0.75
SYLL = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "su", "do", "fa", "gu", "hi", "jo", "bi"]


def word(r: int) -> str:
    """A letters-only synthetic word for rank r (stable, stemmer-friendly)."""
    out = []
    r += 1
    while r:
        r, d = divmod(r, len(SYLL))
        out.append(SYLL[d])
    return "".join(out) + "x"


def build(conn: psycopg.Connection, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vocab_size = 200_000
    ranks = np.arange(vocab_size)
    p = 1.0 / (ranks + 20.0)  # Zipf-Mandelbrot: head like real text without stopwords
    p /= p.sum()
    vocab = [word(int(r)) for r in ranks]
    conn.execute("INSERT INTO collections (name) VALUES ('bench') ON CONFLICT DO NOTHING")
    coll = conn.execute("SELECT id FROM collections WHERE name = 'bench'").fetchone()[0]
    conn.commit()
    batch = 1000
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        m = min(batch, n - start)
        lens = rng.integers(100, 201, size=m)
        draws = rng.choice(vocab_size, size=int(lens.sum()), p=p)
        texts, off = [], 0
        for ln in lens:
            texts.append(" ".join(vocab[i] for i in draws[off : off + ln]))
            off += ln
        terms = [keyword.analyze(t) for t in texts]
        with conn.transaction():
            doc = conn.execute(
                "INSERT INTO documents (collection_id, source_uri, format, content_hash, acl, body)"
                " VALUES (%s, %s, 'txt', 'x', '{public}', '') RETURNING id",
                (coll, f"bench://{start}"),
            ).fetchone()[0]
            rows = conn.execute(
                "INSERT INTO chunks (document_id, collection_id, ordinal, text, char_start, char_end,"
                " token_count, acl, classification, source_uri, doc_date, bm25_len)"
                " SELECT %s, %s, o, t, 0, length(t), l, ARRAY['g:' || ((%s + o) %% 10)], 'internal',"
                "  %s, now(), l FROM unnest(%s::text[], %s::int[]) WITH ORDINALITY AS u(t, l, o)"
                " ORDER BY o RETURNING id, ordinal",
                (doc, coll, start - 1, f"bench://{start}", texts, [len(t) for t in terms]),
            ).fetchall()
            ids = [r[0] for r in sorted(rows, key=lambda r: r[1])]
            keyword.index_chunks(conn, ids, terms, k1=K1, b=B)
        if (start // batch) % 10 == 9:
            el = time.perf_counter() - t0
            print(f"  indexed {start + m} chunks in {el:.0f}s", file=sys.stderr, flush=True)
    conn.execute("VACUUM ANALYZE")


def make_queries(conn: psycopg.Connection, nq: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    conn.execute("SELECT setseed(%s)", (1.0 / (seed + 1),))  # same query chunks every run
    ids = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY random() LIMIT %s", (nq,))]
    out = []
    for cid in ids:
        text = conn.execute("SELECT text FROM chunks WHERE id = %s", (cid,)).fetchone()[0]
        words = text.split()
        out.append(" ".join(rng.sample(words, rng.randint(5, 12))))
    return out


def overlap(got: list[tuple[int, float]], ref: list[tuple[int, float]], n: int) -> float:
    """Fraction of the reference top-n found in ours (a tie at the cut counts as found)."""
    if not ref[:n]:
        return 1.0
    cut = ref[: n][-1][1]
    ours = {c for c, _ in got[:n]}
    hits = sum(1 for c, s in ref[:n] if c in ours or abs(s - cut) <= 1e-9 * max(1.0, cut))
    return hits / len(ref[:n])


def run(conn: psycopg.Connection, queries: list[str], acl: list[str] | None) -> dict[str, float]:
    for q in queries[:10]:  # warm-up
        keyword.search(conn, q, acl_tokens=acl, k=100)
    times, o10, o100 = [], [], []
    for q in queries:
        t = time.perf_counter()
        got = keyword.search(conn, q, acl_tokens=acl, k=100)
        times.append((time.perf_counter() - t) * 1000)
        ref = keyword.exact_search(conn, q, acl_tokens=acl, k=100)
        o10.append(overlap(got, ref, 10))
        o100.append(overlap(got, ref, 100))
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "max_ms": round(times[-1], 2),
        "overlap10": round(statistics.fmean(o10), 4),
        "overlap100": round(statistics.fmean(o100), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data-dir", type=Path, default=None, help="keep/reuse the database here")
    args = ap.parse_args()
    url = os.environ.get("TETHER_DATABASE_URL")
    tmp = None
    if not url:
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="tether-bm25-"))
        tmp = None if args.data_dir else data_dir
        url = embedded.start(data_dir, keep_running=args.data_dir is not None)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn)
        with psycopg.connect(url) as conn:
            n = conn.execute("SELECT n_chunks FROM bm25_stats").fetchone()[0]
            conn.commit()
            if n != args.chunks:
                if n:
                    sys.exit(f"database holds {n} chunks, not {args.chunks}; use another --data-dir")
                t = time.perf_counter()
                conn.autocommit = True
                build(conn, args.chunks, args.seed)
                conn.autocommit = False
                print(f"built {args.chunks} chunks in {time.perf_counter() - t:.0f}s", file=sys.stderr)
            conn.autocommit = True
            npost = conn.execute("SELECT count(*) FROM bm25_postings").fetchone()[0]
            queries = make_queries(conn, args.queries, args.seed)
            res = {"chunks": args.chunks, "postings": npost, "queries": len(queries)}
            res["unfiltered"] = run(conn, queries, None)
            res["acl10"] = run(conn, queries, ["g:3"])
        print(f"{'case':<12}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'ovl@10':>9}{'ovl@100':>9}")
        for case in ("unfiltered", "acl10"):
            r = res[case]
            print(f"{case:<12}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['max_ms']:>9}{r['overlap10']:>9}{r['overlap100']:>9}")
        print(json.dumps(res))
    finally:
        if tmp is not None:
            embedded.stop(tmp)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
