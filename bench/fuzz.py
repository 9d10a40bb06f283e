"""The fuzzing suite's long run: >= 20,000 requests generated from the OpenAPI schema.

    .venv/bin/python bench/fuzz.py [--requests 20000] [--seed 17] [--data-dir DIR]

Starts a private embedded PostgreSQL in a temp dir (or ``--data-dir``; an empty database),
ingests the demo's restricted (canary) documents, serves the app on 127.0.0.1 and sends
generated requests (``tests/security/fuzzing.py``: valid and invalid inputs for every route,
as an administrator, a member, an outsider and a bad key) round-robin over the routes. Prints a
table (requests and unexpected results per route, then per status), any failures, and as its
last line one JSON object ``{"requests", "failures", "server_errors", "leaks", ...}``. Exit
status 1 on any failure (a 5xx, an error body not in the documented shape, or a leak).
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

import httpx  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tether.engine import Tether  # noqa: E402
from tether.settings import Settings  # noqa: E402

from tests.api.server import LiveServer  # noqa: E402
from tests.security.fuzzing import ADMIN_SKIP, ROLES, Generator, Result, check, operations, prepare, send  # noqa: E402


def _fuzz(op, role, gen, examples, seed_, client, keys, secrets, result, failures_by_route):
    """A hypothesis test sending ``examples`` generated requests to ``op`` as ``role``; a
    failure is counted (not raised, so hypothesis does not stop to shrink it)."""

    @seed(seed_)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(req=gen.request(op))
    def one(req: dict) -> None:
        try:
            failed = bool(check(op, role, send(client, op, role, req, keys), secrets, result))
        except httpx.HTTPError as exc:  # a dropped connection is a failure too
            result.requests += 1
            result.by_route[op.name] += 1
            result.add(f"{role} {op.name} {req['path']}: connection error {type(exc).__name__}: {exc}")
            failed = True
        if failed:
            failures_by_route[op.name] = failures_by_route.get(op.name, 0) + 1

    return one


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL data dir (default: a temp dir)")
    args = ap.parse_args()
    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="tether-fuzz-")
        data_dir = Path(tmp) / "data"
    result, failures_by_route = Result(), {}
    t0 = time.perf_counter()
    engine = Tether(Settings(data_dir=data_dir), keep_db_running=False)
    try:
        keys, secrets = prepare(engine)
        api = engine.settings.api.model_copy(update={"auth_failures_per_minute": 0, "rate_limit_per_minute": 0})
        with LiveServer(engine, api) as server, httpx.Client(base_url=server.url, timeout=120) as client:
            spec = client.get("/openapi.json", headers={"Authorization": f"Bearer {keys['admin']}"}).json()
            ops = operations(spec)
            gen = Generator(spec)
            pairs = [(op, role) for op in ops for role in ROLES
                     if not (role == "admin" and ADMIN_SKIP.match(op.name))]
            per_op = -(-args.requests // len(pairs))
            for i, (op, role) in enumerate(pairs, 1):
                _fuzz(op, role, gen, per_op, args.seed + i, client, keys, secrets[role], result, failures_by_route)()
                print(f"[{i}/{len(pairs)}] {result.requests:,} requests, {sum(failures_by_route.values())}"
                      f" failures, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        engine.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'route':44} {'requests':>9} {'failures':>9}")
    for name, n in sorted(result.by_route.items()):
        print(f"{name:44} {n:>9} {failures_by_route.get(name, 0):>9}")
    print(f"\nstatus codes: {dict(sorted(result.by_status.items()))}")
    for line in result.failures[:50]:
        print("FAIL", line)
    server_errors = sum(n for code, n in result.by_status.items() if code >= 500)
    leaks = sum(1 for f in result.failures if ": leaked " in f)
    print(json.dumps({"requests": result.requests, "failures": sum(failures_by_route.values()),
                      "server_errors": server_errors, "leaks": leaks, "routes": len(result.by_route),
                      "seconds": round(time.perf_counter() - t0, 1)}))
    return 1 if failures_by_route else 0


if __name__ == "__main__":
    raise SystemExit(main())
