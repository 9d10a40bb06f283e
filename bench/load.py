"""Concurrent load against a running Tether server: N simulated users asking, searching, uploading.

    python bench/load.py --start [--users 20] [--duration 60] [--server-workers 1] [--no-warmup]
    python bench/load.py --url http://127.0.0.1:8080 --key ana=tth_... --key eve=tth_... [--users 20]

Each simulated user is a closed loop (one request at a time, ``--think`` seconds between requests,
default none) signed in as one of the given keys, and picks a request at random: an ask (~60%),
a search (~30%) or a small generated Markdown upload to a scratch collection with ``acl
user:<self>`` (~10%; 202 is the expected status). Questions come from ``demo/questions.md``.
``--start`` runs ``tether serve --demo`` itself on 127.0.0.1 with a private data directory and
embedded database, reads the printed demo keys, and stops everything at the end. Only loopback
servers are accepted (this is a benchmark, not a load-testing tool for other people's hosts).
Each user has its own HTTP client and connection (a shared client pool made users wait for each
other's connections inside the benchmark: up to 30 s "server" latency the server never saw).

Before the timed load one user asks every question once (``--no-warmup`` skips it): the first
ask of a question computes sentence embeddings, classifier scores and PII analyses that the
server keeps; a server that has been up a while has them. The warm-up's own latencies are
printed (and in the JSON) so the cold cost stays visible. Uploads during the load still bring
new text (their sentences are retrieved and quoted), so the timed phase is not all cache hits.

Reported: throughput (completed requests/s) per kind, p50/p95/p99 latency per kind and overall
(successful requests), errors by kind and status (any non-2xx, a request not complete within
``--timeout`` seconds, connection errors), the load average at start and end, and, with
``--start``, the server's CPU use. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from _common import ROOT, final_json, print_table

KINDS = ("ask", "search", "upload")
FALLBACK_QUESTIONS = [
    "How many days of annual leave do employees get?",
    "What is the daily meal limit when travelling on company business?",
    "How many days a week am I expected to work from the office?",
    "What is the home office allowance?",
    "What is the minimum password length for employee accounts?",
    "What are the API rate limits for the Business tier?",
    "How long is a password reset link valid?",
    "What is the liability cap in the Halden Logistics contract?",
    "What are the RPO and RTO for the main database?",
    "Who must approve an expense claim of EUR 5,000?",
]
WORDS = ("policy employee leave contract invoice customer support pricing retention server incident "
         "security laptop travel expense approval budget renewal notice backup restore latency quota").split()
_KEY_LINE = re.compile(r"^\s*([a-z0-9_.-]+)\s+(\w+)\s+(tth_\S+)\s*$")


# ---------------------------------------------------------------- inputs


def load_questions(path: Path = ROOT / "demo" / "questions.md") -> list[str]:
    """The demo questions (``### Qn. text``), without trailing notes like ``(injection guard)``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return list(FALLBACK_QUESTIONS)
    out = []
    for m in re.finditer(r"^###\s+Q\d+\.\s+(.+?)\s*$", text, re.MULTILINE):
        q = re.sub(r"\s*\([^)]*\)\s*$", "", m.group(1)).strip()
        if q:
            out.append(q)
    return out or list(FALLBACK_QUESTIONS)


def check_loopback(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise SystemExit(f"refusing to load {url!r}: only loopback servers (127.0.0.0/8, ::1, localhost) are allowed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- a server of our own


@contextmanager
def started_server(workers: int, graceful: int = 10, log_path: Path | None = None):
    """``tether serve --demo`` on 127.0.0.1 with a private data dir: yields (url, {user: key}, pid)."""
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="tether-load-"))
    data_dir = tmp / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}  # defaults only
    env.update(TETHER_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               COLUMNS="200")
    tether = Path(sys.executable).with_name("tether")
    log = open(log_path or tmp / "server.log", "w+", encoding="utf-8")  # noqa: SIM115 - the server's stderr for its lifetime
    proc = subprocess.Popen([str(tether), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers), "--graceful", str(graceful)],
                            cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    keys: dict[str, str] = {}
    url = f"http://127.0.0.1:{port}"

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = _KEY_LINE.match(line)
            if m:
                keys[m.group(1)] = m.group(3)
            log.write(line)

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    try:
        t0 = time.time()
        print(f"starting tether serve --demo on {url} (data dir {data_dir}) ...", file=sys.stderr)
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise SystemExit(f"tether serve exited with {proc.returncode}:\n{log.read()[-4000:]}")
            if time.time() - t0 > 600:
                raise SystemExit("tether serve did not become ready in 600 s")
            try:
                if keys and httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        print(f"server ready after {time.time() - t0:.0f} s with {len(keys)} demo keys", file=sys.stderr)
        yield url, dict(keys), proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=graceful + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=5)
        log.close()
        from tether.store import embedded

        try:
            embedded.stop(data_dir)
        except Exception as exc:  # noqa: BLE001 - report, keep cleaning up
            print(f"could not stop the embedded PostgreSQL in {data_dir}: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def server_side_asks(url: str, admin_key: str | None, since: float = 0.0) -> dict | None:
    """p50/p95 of the asks' own durations from their traces (admins read every trace) started
    at or after ``since`` (epoch seconds): how much of the client's latency the engine spent,
    the rest being queueing in front of it."""
    if not admin_key:
        return None
    import httpx

    try:
        r = httpx.get(url + "/v1/traces?limit=500", headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
        from datetime import datetime

        rows = [t for t in r.json().get("traces", []) if t.get("kind") in ("ask", "stream")
                and datetime.fromisoformat(t["started_at"]).timestamp() >= since]
    except (httpx.HTTPError, ValueError):
        return None
    dur = [float(t["duration_ms"]) / 1000 for t in rows]
    return {"traces": len(dur), "p50_ms": ms(pct(dur, 50)), "p95_ms": ms(pct(dur, 95))} if dur else None


def process_tree_cpu(pid: int | None) -> float | None:
    """User+system CPU seconds of a process and its children (None without psutil)."""
    if pid is None:
        return None
    try:
        import psutil

        root = psutil.Process(pid)
        total = 0.0
        for p in [root, *root.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total
    except Exception:  # noqa: BLE001 - optional figure
        return None


# ---------------------------------------------------------------- the load


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {k: [] for k in KINDS}
        self.completed: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # "kind:status"
        self.error_samples: dict[str, str] = {}
        self.batches: list[tuple[str, str]] = []  # (key, status_url) of uploads

    def ok(self, kind: str, seconds: float) -> None:
        self.completed[kind] += 1
        self.latencies[kind].append(seconds)

    def error(self, kind: str, what: str, sample: str = "") -> None:
        self.completed[kind] += 1
        self.errors[f"{kind}:{what}"] += 1
        self.error_samples.setdefault(f"{kind}:{what}", sample[:300])


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]  # nearest rank


def upload_body(user: str, n: int, rng: random.Random) -> bytes:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 90)))
    return (f"# Load test note {user} {n}\n\nThis note was written by the load benchmark for {user}. "
            f"{words.capitalize()}. Reference number {rng.randint(1000, 9999)}.\n").encode()


async def user_loop(i: int, client, name: str, key: str, args, questions: list[str], rec: Recorder,
                    deadline: float) -> None:
    rng = random.Random(args.seed * 1000 + i)
    headers = {"Authorization": f"Bearer {key}"}
    n = 0
    while time.perf_counter() < deadline:
        r = rng.random()
        kind = "ask" if r < args.ask_share else "search" if r < args.ask_share + args.search_share else "upload"
        q = rng.choice(questions)
        n += 1
        t0 = time.perf_counter()
        try:
            # one deadline for the whole request (httpx's timeouts apply to each phase separately)
            async with asyncio.timeout(args.timeout):
                if kind == "ask":
                    resp = await client.post("/v1/ask", json={"question": q}, headers=headers)
                    good = resp.status_code == 200 and "answer" in resp.json()
                elif kind == "search":
                    resp = await client.post("/v1/search", json={"query": q, "k": 10}, headers=headers)
                    good = resp.status_code == 200 and "hits" in resp.json()
                else:
                    files = {"file": (f"load-{name}-{i}-{n}.md", upload_body(name, n, rng), "text/markdown")}
                    data = {"collection": args.collection, "acl": f"user:{name}", "classification": "internal"}
                    resp = await client.post("/v1/documents", files=files, data=data, headers=headers)
                    good = resp.status_code == 202
                    if good:
                        rec.batches.append((key, resp.json()["status_url"]))
            dt = time.perf_counter() - t0
            if good:
                rec.ok(kind, dt)
            else:
                rec.error(kind, str(resp.status_code), resp.text)
        except TimeoutError:
            rec.error(kind, "timeout", f"no complete response within {args.timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - connection errors (and httpx timeouts) are results
            rec.error(kind, type(exc).__name__, str(exc))
        if args.think > 0:
            await asyncio.sleep(rng.uniform(0, 2 * args.think))


async def warm_up(client, key: str, questions: list[str], timeout: float) -> dict:
    """Ask every question once, one at a time, before the timed load: the first ask of a
    question pays for model runs whose results the server then keeps (sentence embeddings,
    classifier scores, PII analyses of the quoted sentences), as a server that has been up for
    a while would have. Reported separately, so the cold cost stays visible."""
    import httpx

    lat: list[float] = []
    errors = 0
    t0 = time.perf_counter()
    for q in questions:
        t = time.perf_counter()
        try:
            r = await client.post("/v1/ask", json={"question": q}, headers={"Authorization": f"Bearer {key}"},
                                  timeout=timeout)
            if r.status_code == 200:
                lat.append(time.perf_counter() - t)
            else:
                errors += 1
        except httpx.HTTPError:
            errors += 1
    return {"asks": len(questions), "errors": errors, "seconds": round(time.perf_counter() - t0, 1),
            "p50_ms": ms(pct(lat, 50)), "p95_ms": ms(pct(lat, 95)), "max_ms": ms(max(lat) if lat else None)}


async def run_load(url: str, users: list[tuple[str, str]], args, questions: list[str], pid: int | None = None
                   ) -> tuple[Recorder, float, dict | None, float, float | None]:
    """Each simulated user has its own HTTP client (its own keep-alive connection), as separate
    people or programs would: one shared connection pool would make users queue for each other's
    connections inside the benchmark and count that as server latency.
    Returns (recorder, elapsed seconds, warm-up figures or None, wall-clock start of the load,
    the server's CPU seconds at that start)."""
    import httpx

    rec = Recorder()
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=url, timeout=args.timeout + 5, limits=limits) for _ in range(args.users)]
    try:
        warm = await warm_up(clients[0], users[0][1], questions, args.timeout) if args.warmup else None
        if not args.warmup:  # still one ask and one search, so the first timed requests find the models loaded
            h = {"Authorization": f"Bearer {users[0][1]}"}
            for path, body in (("/v1/ask", {"question": questions[0]}), ("/v1/search", {"query": questions[0]})):
                with contextlib.suppress(httpx.HTTPError):
                    await clients[0].post(path, json=body, headers=h)
        started, cpu0 = time.time(), process_tree_cpu(pid)
        t0 = time.perf_counter()
        deadline = t0 + args.duration
        await asyncio.gather(*(user_loop(i, clients[i], users[i % len(users)][0], users[i % len(users)][1],
                                         args, questions, rec, deadline) for i in range(args.users)))
        elapsed = time.perf_counter() - t0
    finally:
        for c in clients:
            await c.aclose()
    return rec, elapsed, warm, started, cpu0


def drain_uploads(url: str, rec: Recorder, wait_s: float, cleanup: bool) -> dict:
    """Wait (bounded) for the upload jobs; count outcomes; delete the uploaded documents if asked."""
    import httpx

    outcome: Counter[str] = Counter()
    pending = list(rec.batches)
    docs: list[tuple[str, int]] = []
    deadline = time.time() + wait_s
    with httpx.Client(base_url=url, timeout=30) as c:
        while pending and time.time() < deadline:
            still = []
            for key, status_url in pending:
                try:
                    r = c.get(status_url, headers={"Authorization": f"Bearer {key}"})
                    data = r.json()
                except Exception:  # noqa: BLE001
                    still.append((key, status_url))
                    continue
                if r.status_code != 200 or not data.get("finished"):
                    still.append((key, status_url))
                    continue
                for j in data["jobs"]:
                    outcome[j["status"]] += 1
                    if j.get("document_id"):
                        docs.append((key, j["document_id"]))
            pending = still
            if pending:
                time.sleep(1)
        outcome["unfinished"] += len(pending)
        deleted = 0
        if cleanup:
            for key, doc_id in docs:
                try:
                    r = c.delete(f"/v1/documents/{doc_id}", headers={"Authorization": f"Bearer {key}"})
                    deleted += r.status_code == 200
                except httpx.HTTPError:
                    pass
    return {"jobs": dict(outcome), "deleted": deleted}


def ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="", help="A running server (loopback only), e.g. http://127.0.0.1:8080")
    ap.add_argument("--key", action="append", default=[],
                    help="API key of a user, as NAME=KEY or just KEY (repeatable; users take turns)")
    ap.add_argument("--start", action="store_true", help="Start `tether serve --demo` on a private data dir")
    ap.add_argument("--server-workers", type=int, default=1, help="With --start: `tether serve --workers`")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--duration", type=float, default=60.0, help="Seconds of load (new requests stop after it)")
    ap.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True,
                    help="Ask every question once before the timed load (reported separately)")
    ap.add_argument("--think", type=float, default=0.0, help="Mean think time between a user's requests (s)")
    ap.add_argument("--timeout", type=float, default=30.0, help="Deadline for one whole request (s)")
    ap.add_argument("--ask-share", type=float, default=0.6)
    ap.add_argument("--search-share", type=float, default=0.3)
    ap.add_argument("--collection", default="loadtest", help="Scratch collection for uploads")
    ap.add_argument("--drain", type=float, default=30.0, help="Seconds to wait for upload jobs afterwards")
    ap.add_argument("--keep-uploads", action="store_true", help="Do not delete the uploaded documents")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--p95-ask-bar", type=float, default=1.5, help="The bar for p95 ask latency (s)")
    args = ap.parse_args()
    if not args.start and not args.url:
        ap.error("give --url and --key, or --start")
    if args.start and args.url:
        ap.error("--start and --url exclude each other")
    if not 0 < args.duration <= 3600 or not 1 <= args.users <= 500:
        ap.error("--duration must be in (0, 3600] and --users in [1, 500]")
    if args.url:
        check_loopback(args.url)

    questions = load_questions()
    cpus = os.cpu_count()
    load_start = os.getloadavg()

    @contextmanager
    def server():
        if args.start:
            with started_server(args.server_workers) as triple:
                yield triple
            return
        import httpx

        keys: dict[str, str] = {}
        for spec in args.key:
            name, sep, key = spec.partition("=")
            if not sep:
                key = spec
                r = httpx.get(args.url.rstrip("/") + "/v1/me", headers={"Authorization": f"Bearer {key}"}, timeout=10)
                if r.status_code != 200:
                    raise SystemExit(f"key {key[:13]}... is not accepted: {r.status_code} {r.text[:200]}")
                name = r.json()["name"]
            keys[name] = key
        if not keys:
            raise SystemExit("give at least one --key")
        yield args.url.rstrip("/"), keys, None

    with server() as (url, keys, pid):
        # demo members first (admin last): uploads carry acl user:<self>
        users = sorted(keys.items(), key=lambda kv: (kv[0] == "admin", kv[0]))
        load_start = os.getloadavg()
        rec, elapsed, warm, started, cpu0 = asyncio.run(run_load(url, users, args, questions, pid))
        load_end = os.getloadavg()
        cpu1 = process_tree_cpu(pid)
        uploads = drain_uploads(url, rec, args.drain, cleanup=not args.keep_uploads) if rec.batches else \
            {"jobs": {}, "deleted": 0}
        server_side = server_side_asks(url, keys.get("admin"), since=started)

    rows = []
    kinds: dict[str, dict] = {}
    all_lat: list[float] = []
    for k in KINDS:
        lat = rec.latencies[k]
        all_lat += lat
        errs = sum(v for e, v in rec.errors.items() if e.startswith(k + ":"))
        kinds[k] = {"requests": rec.completed[k], "ok": len(lat), "errors": errs,
                    "rps": round(rec.completed[k] / elapsed, 2), "p50_ms": ms(pct(lat, 50)),
                    "p95_ms": ms(pct(lat, 95)), "p99_ms": ms(pct(lat, 99)), "max_ms": ms(max(lat) if lat else None)}
    total = sum(rec.completed.values())
    n_err = sum(rec.errors.values())
    overall = {"requests": total, "ok": len(all_lat), "errors": n_err, "rps": round(total / elapsed, 2),
               "p50_ms": ms(pct(all_lat, 50)), "p95_ms": ms(pct(all_lat, 95)), "p99_ms": ms(pct(all_lat, 99)),
               "max_ms": ms(max(all_lat) if all_lat else None)}
    for k, v in [*kinds.items(), ("overall", overall)]:
        rows.append([k, v["requests"], v["errors"], v["rps"], v["p50_ms"], v["p95_ms"], v["p99_ms"], v["max_ms"]])
    print_table(f"Load: {args.users} users for {elapsed:.1f} s against {url} "
                f"({'started, --workers ' + str(args.server_workers) if args.start else 'external'}; "
                f"{cpus} CPUs; load average {load_start[0]:.2f} -> {load_end[0]:.2f})",
                ["kind", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows)
    if rec.errors:
        print_table("Errors by kind:status", ["error", "count", "sample"],
                    [[e, c, rec.error_samples.get(e, "")[:100]] for e, c in sorted(rec.errors.items())])
    if warm:
        print(f"warm-up before the load (one user, each of {warm['asks']} questions once): {warm['seconds']} s, "
              f"ask p50 {warm['p50_ms']} ms, p95 {warm['p95_ms']} ms, max {warm['max_ms']} ms, {warm['errors']} errors")
    server_cpu = None
    if cpu0 is not None and cpu1 is not None:
        server_cpu = round((cpu1 - cpu0) / elapsed, 2)
        print(f"server CPU: {server_cpu:.2f} cores busy on average during the load")
    print(f"upload jobs: {uploads['jobs']}, uploaded documents deleted afterwards: {uploads['deleted']}")
    if server_side:
        print(f"server-side ask time (traces, {server_side['traces']} asks): p50 {server_side['p50_ms']} ms, "
              f"p95 {server_side['p95_ms']} ms; the rest of the client's latency is queueing before the engine")
    p95_ask = kinds["ask"]["p95_ms"]
    bar = {"zero_errors": n_err == 0,
           "p95_ask_ms_max": args.p95_ask_bar * 1000,
           "p95_ask_ok": p95_ask is not None and p95_ask <= args.p95_ask_bar * 1000}
    bar["met"] = bar["zero_errors"] and bar["p95_ask_ok"]
    print(f"bar (zero errors, p95 ask <= {args.p95_ask_bar} s): {'met' if bar['met'] else 'NOT met'}\n")
    final_json({
        "bench": "load", "url": url, "server": "started" if args.start else "external",
        "server_workers": args.server_workers if args.start else None, "users": args.users,
        "duration_s": round(elapsed, 2), "think_s": args.think, "warmup": warm, "cpus": cpus,
        "loadavg_start": [round(x, 2) for x in load_start], "loadavg_end": [round(x, 2) for x in load_end],
        "server_cpu_cores": server_cpu, "server_side_ask": server_side, "kinds": kinds, "overall": overall,
        "errors": dict(sorted(rec.errors.items())), "error_count": n_err, "upload_jobs": uploads["jobs"],
        "bar": bar,
    })


if __name__ == "__main__":
    main()
