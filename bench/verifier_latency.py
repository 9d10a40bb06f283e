"""What the verifier costs a warm ask: p50 / p95 with and without it, on the demo corpus.

    .venv/bin/python bench/verifier_latency.py [--rounds 2] [--limit N]

One engine over the ingested demo corpus (embedded PostgreSQL in a temp dir, or
TETHER_DATABASE_URL), warmed up (models loaded, one unmeasured pass over the questions so the
embedder's cache holds the passages in both configurations). Then every golden question (as its
case's principal; injection probes left out) is asked once per round in each configuration, the
two interleaved per question so drift hits both alike:

- ``off``: no verifier, the engine as it is when no model is shipped (no gate, similarity-ranked
  quotes);
- ``on``: the answerability gate and question-focused quotes (the default).

The verifier's memo of scores is cleared before every ``on`` ask, so each one pays for reading
its question as if it were new (a repeated question would be cheaper). The answer cache is off.
The bar (issue 15): ``on`` adds at most 50 ms to the p50. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import ROOT, bench_database, final_json, print_table


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()

    from tether.engine import Tether
    from tether.evaluate.golden import load_golden
    from tether.evaluate.runner import setup_demo

    golden = load_golden(ROOT / "demo" / "golden" / "golden.yaml")
    cases = [c for c in golden.cases if not c.must_block][: args.limit or None]
    with bench_database() as (settings, _url):
        settings.cache.enabled = False
        settings.review.auto_create = False
        with Tether(settings) as t:
            t0 = time.perf_counter()
            setup_demo(t, Path(ROOT / "demo" / "manifest.json"))
            setup_s = time.perf_counter() - t0
            t.warm_up()
            scorer = t.scorer
            if scorer is None:
                raise SystemExit("no verifier model is shipped: nothing to measure")
            principals = {c.principal: t.principal(c.principal) for c in cases}
            for c in cases:  # unmeasured: fills the embedder's cache for both configurations
                t.ask(principals[c.principal], c.question)
            times: dict[str, list[float]] = {"off": [], "on": []}
            gated = 0
            for r in range(args.rounds):
                for i, c in enumerate(cases):
                    order = ("off", "on") if (i + r) % 2 == 0 else ("on", "off")
                    for config in order:
                        t._scorer = None if config == "off" else scorer  # as without a shipped model
                        scorer.clear()
                        s = time.perf_counter()
                        res = t.ask(principals[c.principal], c.question)
                        times[config].append((time.perf_counter() - s) * 1000)
                        gated += config == "on" and "not_answerable" in res.answer.reasons
            t._scorer = scorer
    rows, figs = [], {}
    for config in ("off", "on"):
        xs = times[config]
        figs[config] = {"p50_ms": round(statistics.median(xs), 1), "p95_ms": round(_pct(xs, 95), 1), "asks": len(xs)}
        rows.append([config, len(xs), f"{figs[config]['p50_ms']:.1f}", f"{figs[config]['p95_ms']:.1f}"])
    added = round(figs["on"]["p50_ms"] - figs["off"]["p50_ms"], 1)
    print_table(f"warm ask latency, demo corpus, {len(cases)} questions x {args.rounds} rounds "
                f"(setup {setup_s:.0f} s)", ["verifier", "asks", "p50 ms", "p95 ms"], rows)
    print(f"verifier adds {added} ms to the p50 (bar: <= 50 ms); gated abstentions in 'on': "
          f"{gated} of {len(times['on'])} asks\n")
    final_json({"bench": "verifier_latency", "questions": len(cases), "rounds": args.rounds, **figs,
                "p50_added_ms": added, "bar_p50_added_ms": 50, "bar_met": added <= 50,
                "gated_on": gated})


if __name__ == "__main__":
    main()
