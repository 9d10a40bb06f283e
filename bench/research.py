"""Research mode vs plain mode latency on the embedded default (extractive generator, bundled
embedder and verifier): the demo corpus in a fresh embedded PostgreSQL, the golden cases tagged
``added: issue19`` (two-hop and multi-part questions; ``--cases`` for others) asked in both modes,
interleaved (which mode goes first alternates by case), the verifier's score memo cleared
before every asking, each case ``--repeat`` times after one warm-up. Bar (issue 19): research p50 <= 3x
plain p50. Prints a table, then one JSON object as the last line.

    nice -n 10 .venv/bin/python bench/research.py --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _common import ROOT, bench_database, final_json, print_table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cases", default="", help="comma-separated case ids (default: added: issue19, answerable)")
    args = ap.parse_args()
    from tether.engine import Tether
    from tether.evaluate.golden import load_golden
    from tether.evaluate.runner import setup_demo

    golden = load_golden(ROOT / "demo" / "golden" / "golden.yaml")
    ids = [c for c in args.cases.split(",") if c]
    cases = [c for c in golden.cases if (c.id in ids if ids else c.tags.model_dump().get("added") == "issue19")
             and not c.turns]
    with bench_database() as (settings, _url):
        settings.cache.enabled = False
        settings.review.auto_create = False
        with Tether(settings) as t:
            print("setting up the demo corpus...", file=sys.stderr)
            setup_demo(t, ROOT / "demo" / "manifest.json")
            t.warm_up()
            for c in cases[:2]:  # warm-up (models, caches of the verifier) in both modes
                for mode in ("plain", "research"):
                    t.ask(t.principal(c.principal), c.question, mode=mode)
            times: dict[str, list[float]] = {"plain": [], "research": []}
            steps: list[int] = []
            for i in range(args.repeat):
                for n, c in enumerate(cases, 1):
                    print(f"\rrepeat {i + 1}/{args.repeat} case {n}/{len(cases)}", end="", file=sys.stderr)
                    for mode in (("plain", "research") if n % 2 else ("research", "plain")):
                        if t.scorer is not None:
                            t.scorer.clear()  # each asking measured cold: no verifier scores memoised
                        t0 = time.perf_counter()
                        res = t.ask(t.principal(c.principal), c.question, mode=mode)
                        times[mode].append((time.perf_counter() - t0) * 1000)
                        if mode == "research" and res.research:
                            steps.append(len(res.research["steps"]))
            print(file=sys.stderr)
    p50 = {m: statistics.median(v) for m, v in times.items()}
    p95 = {m: sorted(v)[int(0.95 * (len(v) - 1))] for m, v in times.items()}
    ratio = p50["research"] / p50["plain"]
    print_table(f"research vs plain ({len(cases)} cases x {args.repeat})", ["mode", "p50 ms", "p95 ms", "n"],
                [[m, round(p50[m], 1), round(p95[m], 1), len(times[m])] for m in times])
    final_json({"bench": "research", "cases": len(cases), "repeat": args.repeat,
                "plain_p50_ms": round(p50["plain"], 1), "research_p50_ms": round(p50["research"], 1),
                "plain_p95_ms": round(p95["plain"], 1), "research_p95_ms": round(p95["research"], 1),
                "ratio_p50": round(ratio, 3), "mean_steps": round(statistics.mean(steps), 2) if steps else None,
                "bar_ratio_p50": 3.0, "passed": ratio <= 3.0})


if __name__ == "__main__":
    main()
