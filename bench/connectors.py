"""Connector sync throughput: an S3 bucket of N small objects (moto's S3 server on 127.0.0.1).

First sync (items/s) against the raw ingest rate of the same texts as files through the job
pipeline (target >= 90%), then an incremental sync after 1% of the objects changed and 1% were
deleted (target: <= 5% of the first sync's time).

    python bench/connectors.py [--objects 10000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from _common import bench_database, final_json, print_table

WORDS = ("policy employee leave contract liability invoice customer support pricing retention server "
         "incident security password laptop travel expense approval budget renewal notice period").split()


def texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"# Object {i}\n\n" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 80))) + ".\n"
            for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10000)
    args = ap.parse_args()

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from tether.engine import Tether
    from tether.ingest.pipeline import IngestRequest
    from tether.types import Principal

    system = Principal.system()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                      aws_secret_access_key="bench")
    s3.create_bucket(Bucket="bench")
    corpus = texts(args.objects)
    for i, body in enumerate(corpus):
        s3.put_object(Bucket="bench", Key=f"docs/obj_{i:05d}.md", Body=body.encode())
    figures: dict = {"objects": args.objects}
    try:
        with bench_database() as (settings, _), \
                Tether(settings, secrets={"B_ID": "bench", "B_KEY": "bench"}) as t:
            t.embedder.embed(["warm up"])
            with tempfile.TemporaryDirectory() as tmp:  # warm up (models of the ingest scan), untimed
                (Path(tmp) / "warm.md").write_text(corpus[0])
                t.work(batch_id=t.enqueue_requests([IngestRequest(path=str(Path(tmp) / "warm.md"),
                                                                  collection="warm", acl=["public"])]).batch_id)
            with tempfile.TemporaryDirectory() as tmp:  # the raw rate: same texts as files, ingest jobs
                for i, body in enumerate(corpus):
                    (Path(tmp) / f"obj_{i:05d}.md").write_text(body)
                batch = t.enqueue_requests([IngestRequest(path=str(p), collection="raw", acl=["public"])
                                            for p in sorted(Path(tmp).glob("*.md"))])
                t0 = time.perf_counter()
                t.work(batch_id=batch.batch_id)
                raw_s = time.perf_counter() - t0
            t.connectors.add(system, "bench", "s3", collection="s3", config={
                "bucket": "bench", "endpoint_url": url, "access_key_id_env": "B_ID",
                "secret_access_key_env": "B_KEY", "acl": ["public"]})

            def sync() -> tuple[float, dict]:
                started = t.connectors.sync(system, "bench")
                t0 = time.perf_counter()
                t.work(batch_id=started["batch_id"])
                return time.perf_counter() - t0, t.connectors.run(system, started["run_id"])

            first_s, first = sync()
            for i in range(0, args.objects, 100):  # 1% changed, another 1% deleted
                s3.put_object(Bucket="bench", Key=f"docs/obj_{i:05d}.md", Body=(corpus[i] + "Changed.\n").encode())
            for i in range(50, args.objects, 100):
                s3.delete_object(Bucket="bench", Key=f"docs/obj_{i:05d}.md")
            incr_s, incr = sync()
    finally:
        server.stop()
    n = args.objects
    figures.update({
        "raw_ingest": {"seconds": round(raw_s, 2), "items_per_s": round(n / raw_s, 2)},
        "first_sync": {"seconds": round(first_s, 2), "items_per_s": round(n / first_s, 2),
                       "added": first["added"], "failed": first["failed"]},
        "first_vs_raw": round((n / first_s) / (n / raw_s), 3),
        "incremental": {"seconds": round(incr_s, 2), "updated": incr["updated"], "deleted": incr["deleted"],
                        "unchanged": incr["unchanged"]},
        "incremental_vs_first": round(incr_s / first_s, 4),
    })
    print_table(f"S3 connector, {n} objects (moto on 127.0.0.1, bundled MiniLM int8, 2 cores)",
                ["run", "seconds", "items/s", "added", "updated", "deleted", "unchanged"],
                [["raw ingest jobs", f"{raw_s:.1f}", f"{n / raw_s:.1f}", n, "", "", ""],
                 ["first sync", f"{first_s:.1f}", f"{n / first_s:.1f}", first["added"], "", "", ""],
                 ["incremental", f"{incr_s:.1f}", "", "", incr["updated"], incr["deleted"], incr["unchanged"]]])
    print(f"first sync / raw ingest rate: {figures['first_vs_raw']:.2f} (target >= 0.90); "
          f"incremental / first: {figures['incremental_vs_first']:.3f} (target <= 0.05)")
    final_json(figures)


if __name__ == "__main__":
    main()
