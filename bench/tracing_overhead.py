"""What tracing costs a request: the demo golden questions through ``engine.ask`` with tracing
off (``observe.tracing = false``: a NullTrace, nothing stored), on (a span per stage, the trace
stored in PostgreSQL with the audit record) and on + exported (also the Prometheus listener and
the OpenTelemetry exporter sending OTLP/HTTP to a local receiver that discards it).

    .venv/bin/python bench/tracing_overhead.py [--rounds 5] [--limit N]

One engine over the ingested demo corpus (embedded PostgreSQL in a temp dir, or
TETHER_DATABASE_URL), the default extractive model (no LLM: the pipeline itself is what is
measured, so the overhead is as large a share as it can be), the answer cache off (every ask
runs every stage). Each round asks every question once per configuration, in a rotating order
(load on the shared machine drifts; interleaving spreads it evenly). Latency is ``engine.ask``
end to end, wall clock. Besides each configuration's p50/p95, the steadier figure is the median of
per-question differences against "off" (same question, same round), as a share of off's p50.
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _common import ROOT, bench_database, final_json, print_table

GOLDEN = ROOT / "demo" / "golden" / "golden.yaml"
MANIFEST = ROOT / "demo" / "manifest.json"
CONFIGS = ("off", "on", "on+export")


class _Sink(BaseHTTPRequestHandler):
    spans_bytes = 0

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length", 0))
        _Sink.spans_bytes += len(self.rfile.read(n))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="only the first N golden questions")
    args = ap.parse_args()

    from tether.api.metrics import Metrics
    from tether.engine import Tether
    from tether.evaluate.golden import load_golden
    from tether.evaluate.runner import setup_demo
    from tether.observe import hooks
    from tether.observe.otel import OtelExporter
    from tether.settings import ObserveSettings

    golden = load_golden(GOLDEN)
    cases = [c for c in golden.cases if not c.must_block][: args.limit or None]
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    lat: dict[str, list[float]] = {c: [] for c in CONFIGS}
    paired: dict[str, list[float]] = {c: [] for c in CONFIGS[1:]}  # same question, same round: x - off
    spans_per_trace: list[int] = []
    with bench_database() as (settings, _url):
        if hasattr(settings, "cache"):
            settings.cache.enabled = False
        with Tether(settings) as t:
            setup_demo(t, MANIFEST)
            principals = {c.principal: t.principal(c.principal) for c in cases}
            metrics = Metrics()
            exporter = OtelExporter(ObserveSettings(otlp_endpoint=f"http://127.0.0.1:{sink.server_port}"))
            count = lambda tr: spans_per_trace.append(sum(1 for _ in tr.spans()))  # noqa: E731

            def configure(name: str) -> None:
                t.settings.observe.tracing = name != "off"
                t.trace_listeners.clear()
                if name == "on+export":
                    hooks.add(t, metrics.observe_trace)
                    t.trace_listeners.append(exporter)
                    t.trace_listeners.append(count)

            for c in cases[:3]:  # warm-up: models, caches, connections
                for name in CONFIGS:
                    configure(name)
                    t.ask(principals[c.principal], c.question)
            t0 = time.perf_counter()
            for r in range(args.rounds):
                for i, c in enumerate(cases):
                    k = (r + i) % len(CONFIGS)
                    got = {}
                    for name in CONFIGS[k:] + CONFIGS[:k]:
                        configure(name)
                        s = time.perf_counter()
                        t.ask(principals[c.principal], c.question)
                        got[name] = (time.perf_counter() - s) * 1000
                        lat[name].append(got[name])
                    for name in paired:
                        paired[name].append(got[name] - got["off"])
            wall = time.perf_counter() - t0
            exporter.flush(30)
            exporter.shutdown()
            with t.db.connection() as conn:
                stored = conn.execute("SELECT count(*) AS n, avg(pg_column_size(root)) AS b FROM traces").fetchone()
    sink.shutdown()

    figs: dict[str, dict] = {}
    for name in CONFIGS:
        xs = lat[name]
        figs[name] = {"n": len(xs), "p50_ms": round(_pct(xs, 0.5), 2), "p95_ms": round(_pct(xs, 0.95), 2),
                      "mean_ms": round(statistics.fmean(xs), 2)}
    base = figs["off"]
    for name in ("on", "on+export"):
        f = figs[name]
        f["overhead_p50_pct"] = round(100 * (f["p50_ms"] - base["p50_ms"]) / base["p50_ms"], 2)
        f["overhead_p95_pct"] = round(100 * (f["p95_ms"] - base["p95_ms"]) / base["p95_ms"], 2)
        f["overhead_mean_pct"] = round(100 * (f["mean_ms"] - base["mean_ms"]) / base["mean_ms"], 2)
        # the steadier figure: the median of per-question differences (same question, same round)
        f["paired_median_delta_ms"] = round(statistics.median(paired[name]), 2)
        f["paired_overhead_pct"] = round(100 * f["paired_median_delta_ms"] / base["p50_ms"], 2)
    rows = [[name, figs[name]["n"], figs[name]["p50_ms"], figs[name]["p95_ms"], figs[name]["mean_ms"],
             figs[name].get("overhead_p50_pct", "-"), figs[name].get("overhead_p95_pct", "-"),
             figs[name].get("paired_median_delta_ms", "-"), figs[name].get("paired_overhead_pct", "-")]
            for name in CONFIGS]
    print_table(f"Tracing overhead: {len(cases)} demo questions x {args.rounds} rounds, extractive model, cache off",
                ["tracing", "asks", "p50 ms", "p95 ms", "mean ms", "p50 overhead %", "p95 overhead %",
                 "paired median delta ms", "paired overhead %"], rows)
    spans = round(statistics.fmean(spans_per_trace), 1) if spans_per_trace else 0
    print(f"spans per trace {spans}; traces stored {stored['n']} (root JSON ~{int(stored['b'] or 0)} bytes); "
          f"OTLP bytes sent {_Sink.spans_bytes}; {wall:.0f} s measured")
    final_json({"questions": len(cases), "rounds": args.rounds, "configs": figs, "spans_per_trace": spans,
                "trace_root_bytes": int(stored["b"] or 0), "otlp_bytes": _Sink.spans_bytes})


if __name__ == "__main__":
    main()
