"""Permission-leakage probes, standalone: the generator of ``tests/security`` against a fresh
embedded database with the demo corpus.

    .venv/bin/python bench/leakage.py [--seed 20260] [--scale 1.0] [--no-api] [--data-dir DIR]

Starts a private embedded PostgreSQL in a temp dir (or ``--data-dir``; ``TETHER_DATABASE_URL``
points it at a server instead, which must hold an empty database), ingests ``demo/`` with its
manifest, runs every probe through the engine (search, ask, ask_stream, cache check,
list_documents, get_document) and, unless ``--no-api``, through a real uvicorn server on
127.0.0.1 (bodies, headers, SSE events, error bodies). Prints a table per surface, any leaks,
and as its last line one JSON object ``{"probes", "checks", "leaks", ...}``. Exit status 1 on
any leak.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tether.engine import Tether  # noqa: E402
from tether.settings import Settings  # noqa: E402

from tests.security.probes import Checker, generate, load_world, setup_demo  # noqa: E402
from tests.security.runner import Budget, Timings, positive_control, run_api, run_engine  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=20260)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the number of asks/streams/API calls")
    ap.add_argument("--no-api", action="store_true", help="engine only (no HTTP server)")
    ap.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL data dir (default: a temp dir)")
    args = ap.parse_args()

    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="tether-leakage-")
        data_dir = Path(tmp) / "data"
    budget = Budget()
    for f in ("asks", "streams", "cache_pairs", "api_asks", "api_streams", "api_chats", "api_searches"):
        setattr(budget, f, max(1, round(getattr(budget, f) * args.scale)))

    t_start = time.perf_counter()
    timings = Timings()
    engine = Tether(Settings(data_dir=data_dir), keep_db_running=False)
    try:
        with engine.db.connection() as conn:
            n = conn.execute("SELECT count(*) AS n FROM documents").fetchone()["n"]
        if n:
            raise SystemExit(f"the database already holds {n} documents; use an empty one (or another --data-dir)")
        t0 = time.perf_counter()
        setup_demo(engine)
        timings.add("ingest_demo", t0)
        world = load_world(engine)
        probes = generate(world, args.seed)
        control = positive_control(engine, world)
        control_ok = all(all(v for k, v in r.items() if k != "document") for r in control.values())

        chk = Checker(world)
        facts = run_engine(engine, world, probes, chk, budget, args.seed, timings)
        api_note = "skipped (--no-api)"
        if not args.no_api:
            try:
                from tether.store import api_keys

                from tests.api.server import LiveServer
            except ImportError as exc:
                api_note = f"unavailable: {exc}"
            else:
                keys = {}
                with engine.db.transaction() as conn:
                    for who in world.tokens:
                        keys[who] = api_keys.create_key(conn, who, name="leakage-bench")["key"]
                with LiveServer(engine) as server:
                    facts["api"] = run_api(server.url, keys, world, probes, chk, budget, args.seed, timings)
                api_note = "probed"
    finally:
        engine.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"{'surface':32} {'probes':>8} {'checks':>9} {'leaks':>6}")
    for surface, s in sorted(chk.by_surface.items()):
        print(f"{surface:32} {s['probes']:>8} {s['checks']:>9} {s['leaks']:>6}")
    print(f"{'TOTAL':32} {chk.probes:>8} {chk.checks:>9} {len(chk.leaks):>6}")
    kinds = {}
    for p in probes:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    print(f"\ngenerated probes: {len(probes)} {kinds}; seed {args.seed}; HTTP API: {api_note}")
    print(f"positive control (authorised readers reach the canary documents): {'ok' if control_ok else 'FAILED'}")
    print(f"timings (s): {timings.seconds}")
    if facts.get("api", {}).get("admin_document_api_statuses"):
        print("note: the documents API lets administrators read every document (statuses "
              f"{facts['api']['admin_document_api_statuses']}); ask/search apply ACLs to admins too")
    if chk.leaks:
        print("\nLEAKS:")
        print(chk.report(limit=200))
    result = {"probes": chk.probes, "checks": chk.checks, "leaks": len(chk.leaks), "generated": len(probes),
              "api": api_note, "positive_control": control_ok, "seed": args.seed,
              "seconds": round(time.perf_counter() - t_start, 1)}
    print(json.dumps(result))
    return 1 if chk.leaks or not control_ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
