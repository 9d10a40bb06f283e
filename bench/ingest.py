"""Ingestion throughput: the demo corpus and an N-document synthetic corpus through the real
job pipeline (files -> jobs -> worker -> PostgreSQL), with peak memory and database size.

    python bench/ingest.py [--synthetic 10000] [--workers 1] [--no-scan]
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from _common import ROOT, bench_database, final_json, print_table

WORDS = ("policy employee leave contract liability invoice customer support pricing retention server "
         "incident security password laptop travel expense approval budget renewal notice period "
         "termination data region backup restore latency quota limit tier plan annual monthly").split()


def synth_corpus(folder: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        paras = []
        for _ in range(rng.randint(2, 5)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(25, 60))]
            paras.append(" ".join(words).capitalize() + f". Figure {rng.randint(1, 999)} applies.")
        (folder / f"doc_{i:05d}.md").write_text(f"# Document {i}\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")


def run(t, requests, workers: int) -> tuple[float, int, int]:
    import threading

    batch = t.enqueue_requests(requests)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=t.work, kwargs={"batch_id": batch.batch_id}) for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    secs = time.perf_counter() - t0
    report = t.batch_report(batch.batch_id)
    chunks = sum((r["result"] or {}).get("chunks", 0) for r in report if r["status"] == "done")
    failed = sum(1 for r in report if r["status"] == "failed")
    return secs, chunks, failed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-scan", action="store_true", help="Skip the ingest-time injection scan.")
    args = ap.parse_args()

    from tether.engine import Tether
    from tether.ingest.manifest import Manifest
    from tether.ingest.pipeline import IngestRequest

    rows, figures = [], {"workers": args.workers, "scan": not args.no_scan}
    with bench_database() as (settings, url):
        settings.scan_ingest = not args.no_scan
        with Tether(settings) as t:
            t.embedder.embed(["warm up"])
            manifest = Manifest.load(ROOT / "demo" / "manifest.json")
            with t.db.transaction() as conn:
                manifest.apply_principals(conn)
            secs, chunks, failed = run(t, manifest.requests(), args.workers)
            n = len(manifest.documents)
            rows.append(["demo", n, chunks, f"{secs:.1f}", f"{n / secs:.2f}", f"{chunks / secs:.1f}", failed])
            figures["demo"] = {"documents": n, "chunks": chunks, "seconds": round(secs, 2),
                               "docs_per_s": round(n / secs, 3), "chunks_per_s": round(chunks / secs, 2)}
            if args.synthetic:
                with tempfile.TemporaryDirectory() as tmp:
                    synth_corpus(Path(tmp), args.synthetic)
                    reqs = [IngestRequest(path=str(p), collection="synthetic", acl=["public"])
                            for p in sorted(Path(tmp).glob("*.md"))]
                    secs, chunks, failed = run(t, reqs, args.workers)
                n = args.synthetic
                rows.append(["synthetic", n, chunks, f"{secs:.1f}", f"{n / secs:.2f}", f"{chunks / secs:.1f}", failed])
                figures["synthetic"] = {"documents": n, "chunks": chunks, "seconds": round(secs, 2),
                                        "docs_per_s": round(n / secs, 3), "chunks_per_s": round(chunks / secs, 2)}
            with t.db.connection() as conn:
                size = conn.execute("SELECT pg_database_size(current_database()) AS b").fetchone()["b"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.update({"peak_rss_mb": round(peak_mb, 1), "db_size_mb": round(size / 2**20, 1)})
    print_table("Ingestion (job pipeline, bundled MiniLM int8, 2 cores)",
                ["corpus", "docs", "chunks", "seconds", "docs/s", "chunks/s", "failed"], rows)
    print(f"peak RSS {peak_mb:.0f} MB, database size {size / 2**20:.1f} MB")
    final_json(figures)


if __name__ == "__main__":
    main()
