"""Answer cache on the demo golden set: hit rate (exact / semantic), latency of hits and misses,
cost saved; and the semantic threshold measured on paraphrases and near-misses.

    .venv/bin/python bench/cache.py [--model fake|extractive] [--limit N]

One engine over the ingested demo corpus (embedded PostgreSQL in a temp dir, or
TETHER_DATABASE_URL), the cache on with its defaults. Passes, each question asked by the golden
case's user:

1. ``cold``: every golden case once (cases sharing a question and permission key already hit);
2. ``repeat``: every golden case again (cacheable answers are exact hits now);
3. ``paraphrase``: hand-written paraphrases of golden questions (semantic hits expected);
4. ``near-miss``: questions one word away from a golden question with another meaning
   ("minimum" / "maximum", another customer, another tier): a semantic hit here would be a wrong
   answer, so every one should miss.

The default model is a priced OpenAI-compatible fake (``tether.testing.fake_openai``; USD 5 / 15
per Mtok in / out, simulated latency 0.20 s + 40 us per prompt word + 15 ms per output word, like
the ``strong`` model of ``bench/routing.py``) that quotes the best-matching source sentence with
its citation; ``--model extractive`` uses the bundled extractive model (cost 0: only latency is
saved). Latency is per request, end to end (``engine.ask``). Before the passes, the cosine
similarity of every paraphrase and near-miss pair (bundled MiniLM) is tabulated against
thresholds: paraphrase recall and near-miss false hits (same question signature and similarity
at or above the threshold). Prints tables, then one JSON line.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

from _common import ROOT, bench_database, final_json, print_table

from tether.testing.fake_openai import FakeOpenAI, Reply, question, sources

GOLDEN = ROOT / "demo" / "golden" / "golden.yaml"
MANIFEST = ROOT / "demo" / "manifest.json"
PRICE = (5.0, 15.0)  # USD per Mtok in / out
LATENCY = (0.20, 40e-6, 15e-3)  # base s, s per prompt word, s per output word
THRESHOLDS = (0.85, 0.88, 0.90, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98)

#: (golden question, paraphrase): same meaning, other words.
PARAPHRASES = [
    ("How many days of annual leave do employees get?", "How many annual leave days do employees get?"),
    ("How many days of annual leave do employees get?", "How many days of annual leave does an employee get?"),
    ("How many days of annual leave do employees get?", "How many vacation days do employees get?"),
    ("What is the daily meal limit when travelling on company business?",
     "What's the daily meal limit when travelling on company business?"),
    ("What is the daily meal limit when travelling on company business?",
     "What is the daily meal allowance when traveling on company business?"),
    ("What is the home office allowance?", "What is the home-office allowance?"),
    ("What is the home office allowance?", "How much is the home office allowance?"),
    ("How many days a week am I expected to work from the office?",
     "How many days per week am I expected to work from the office?"),
    ("How many days a week am I expected to work from the office?",
     "How many days a week do I have to work in the office?"),
    ("What is the hotel limit for a business trip to London?", "What is the hotel limit for business trips to London?"),
    ("What is the liability cap in the Halden Logistics contract?",
     "What is the liability cap in the contract with Halden Logistics?"),
    ("What are the RPO and RTO for the main database?", "What are the RTO and RPO for the main database?"),
    ("When is the end-of-year deploy freeze?", "When is the end of year deployment freeze?"),
    ("Who must approve an expense claim of EUR 5,000?", "Who has to approve an expense claim of EUR 5,000?"),
    ("How long is a password reset link valid?", "For how long is a password reset link valid?"),
    ("What is the minimum password length for employee (company) accounts?",
     "What is the minimum password length for company accounts?"),
    ("How much partner (paternity) leave do I get?", "How much paternity leave do I get?"),
    ("Can I bring my dog to the Utrecht office?", "Am I allowed to bring my dog to the Utrecht office?"),
    ("How long can I work from another country?", "How long may I work from another country?"),
    ("What are the API rate limits for the Business tier?", "What are the Business tier API rate limits?"),
    ("How much are engineers paid for a week of on-call?", "How much do engineers get paid for a week of on-call?"),
    ("Up to what value may I accept a gift without approval?",
     "Up to what value can I accept a gift without approval?"),
    ("Who is the General Counsel and how do I contact them?", "Who is the general counsel and how can I contact them?"),
    ("What is the 2026 merit increase budget?", "What is the merit increase budget for 2026?"),
]

#: (golden question, near-miss): almost the same words, another question.
NEAR_MISSES = [
    ("How many days of annual leave do employees get?", "How many days of sick leave do employees get?"),
    ("How many days of annual leave do employees get?", "How many days of parental leave do employees get?"),
    ("What is the daily meal limit when travelling on company business?",
     "What is the daily hotel limit when travelling on company business?"),
    ("What is the hotel limit for a business trip to London?", "What is the hotel limit for a business trip to Paris?"),
    ("What is the liability cap in the Halden Logistics contract?",
     "What is the liability cap in the Brightwater Health contract?"),
    ("What is the midpoint of the L4 salary band in Lisbon?", "What is the midpoint of the L5 salary band in Lisbon?"),
    ("What is the midpoint of the L4 salary band in Lisbon?", "What is the midpoint of the L4 salary band in Dublin?"),
    ("What are the API rate limits for the Business tier?", "What are the API rate limits for the Team tier?"),
    ("How much does the Team tier cost and how many users does it allow?",
     "How much does the Business tier cost and how many users does it allow?"),
    ("Can I bring my dog to the Utrecht office?", "Can I bring my dog to the Dublin office?"),
    ("What is the minimum password length for employee (company) accounts?",
     "What is the maximum password length for employee (company) accounts?"),
    ("When is the end-of-year deploy freeze?", "When is the mid-year deploy freeze?"),
    ("Who must approve an expense claim of EUR 5,000?", "Who must approve an expense claim of EUR 500?"),
    ("Who is primary on-call in ISO week 12 of 2026?", "Who is secondary on-call in ISO week 12 of 2026?"),
    ("How much partner (paternity) leave do I get?", "How much maternity leave do I get?"),
    ("How long is a password reset link valid?", "How long is an invitation link valid?"),
    ("Can I bring my dog to the Utrecht office?", "Can I not bring my dog to the Utrecht office?"),
    ("What is the meal limit per person when hosting customers?",
     "What is the meal limit per person when travelling alone?"),
    ("How long do confidentiality obligations under the Quillstack NDA last?",
     "How long do confidentiality obligations under the Brightwater NDA last?"),
]


def _words(s: str) -> set[str]:
    return set(re.findall(r"\w+", s.lower()))


def quote_script(messages) -> Reply:
    """The source sentence sharing the most words with the question, with its citation."""
    q = _words(question(messages))
    best = (0, 1, "")
    for n, body in sorted(sources(messages).items()):
        for line in body.splitlines():
            line = re.sub(r"^\s*(?:#+|[-*•|]|\d+[.)])\s*", "", line)
            for s in re.split(r"(?<=[.!?])\s+", line.strip()):
                if len(_words(s)) >= 3 and len(q & _words(s)) > best[0]:
                    best = (len(q & _words(s)), n, s.strip())
    if not best[2]:
        text = "I could not find this in the documents you can access."
    else:
        core = best[2].rstrip()
        text = f"{core.rstrip('.!?').rstrip()} [{best[1]}]{core[-1] if core[-1:] in '.!?' else '.'}"
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
    base, per_in, per_out = LATENCY
    return Reply(text=text, delay_s=base + per_in * prompt + per_out * len(text.split()))


class CacheLog:
    """Trace listener: the cache verdict, saved cost and cost of every ask."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def __call__(self, trace) -> None:
        self.rows.append({"cache": trace.attrs.get("cache", "none"), "status": trace.status,
                          "saved_usd": float(trace.attrs.get("cache.saved_usd", 0.0) or 0.0),
                          "cost_usd": trace.cost_usd,
                          "similarity": next((s.attrs.get("similarity") for s in trace.spans() if s.name == "cache"),
                                             None),
                          "lookup_ms": next((s.duration_ms for s in trace.spans() if s.name == "cache"), None),
                          "store_ms": next((s.duration_ms for s in trace.spans() if s.name == "cache.store"), None)})


def calibrate(embedder) -> tuple[list[list[object]], dict]:
    from tether.cache.answers import normalise, question_signature

    def sims(pairs):
        out = []
        for a, b in pairs:
            v = embedder.embed([a, b])
            out.append((float(v[0] @ v[1]), question_signature(a) == question_signature(b),
                        normalise(a) == normalise(b)))
        return out

    para, near = sims(PARAPHRASES), sims(NEAR_MISSES)
    rows, table = [], {}
    for t in THRESHOLDS:
        recall = sum(ex or (sig and s >= t) for s, sig, ex in para) / len(para)
        false = sum(ex or (sig and s >= t) for s, sig, ex in near)
        false_no_sig = sum(s >= t for s, _, _ in near)
        table[str(t)] = {"paraphrase_recall": round(recall, 4), "near_miss_false_hits": false,
                         "near_miss_false_hits_without_signature": false_no_sig}
        rows.append([t, f"{recall:.3f}", false, false_no_sig])
    stats = {"paraphrase_similarity_min": round(min(s for s, _, _ in para), 4),
             "paraphrase_similarity_median": round(statistics.median(s for s, _, _ in para), 4),
             "near_miss_similarity_max": round(max(s for s, _, _ in near), 4),
             "near_miss_similarity_max_same_signature": round(max((s for s, sig, _ in near if sig), default=0.0), 4),
             "by_threshold": table}
    return rows, stats


def _p50(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 1) if xs else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=("fake", "extractive"), default="fake")
    ap.add_argument("--limit", type=int, default=0, help="only the first N golden cases")
    args = ap.parse_args()

    from tether.cache import answers
    from tether.engine import Tether
    from tether.evaluate.golden import load_golden
    from tether.evaluate.runner import setup_demo
    from tether.settings import ModelConfig

    golden = load_golden(GOLDEN).select(None, args.limit)
    cases = [(c.question, c.as_) for c in golden.cases]
    asker = {}
    for q, who in cases:
        asker.setdefault(q, who)
    t0 = time.perf_counter()
    with FakeOpenAI(quote_script, model="priced-model") as fake, bench_database() as (settings, _url):
        if args.model == "fake":
            settings.generate.models["priced"] = ModelConfig(
                kind="openai", base_url=fake.base_url, model="priced-model", price_in_per_mtok=PRICE[0],
                price_out_per_mtok=PRICE[1], context_window=8192, streaming=False)
            settings.generate.default_model = "priced"
        with Tether(settings) as t:
            t_setup = time.perf_counter()
            setup_demo(t, MANIFEST)
            setup_s = time.perf_counter() - t_setup
            cal_rows, cal = calibrate(t.embedder)
            people = {}
            log = CacheLog()
            t.trace_listeners.append(log)
            t.ask(t.principal("eve"), "How long is the warm-up question?")  # models and guards loaded
            with t.db.transaction() as conn:
                answers.clear(conn, reset_stats=True)
            passes = {
                "cold": cases, "repeat": cases,
                "paraphrase": [(p, asker[q]) for q, p in PARAPHRASES if q in asker],
                "near-miss": [(p, asker[q]) for q, p in NEAR_MISSES if q in asker],
            }
            results: dict[str, dict] = {}
            all_rows: list[dict] = []
            for name, items in passes.items():
                start = len(log.rows)
                lat = []
                for q, who in items:
                    if who not in people:
                        people[who] = t.principal(who)
                    s = time.perf_counter()
                    t.ask(people[who], q)
                    lat.append((time.perf_counter() - s) * 1000)
                rows = log.rows[start:]
                for r, ms in zip(rows, lat):
                    r["ms"] = ms
                all_rows += rows
                looked = [r for r in rows if r["cache"] != "none"]
                hits = [r for r in rows if r["cache"].startswith("hit")]
                results[name] = {
                    "asks": len(rows), "lookups": len(looked),
                    "hit_exact": sum(r["cache"] == "hit_exact" for r in rows),
                    "hit_semantic": sum(r["cache"] == "hit_semantic" for r in rows),
                    "hit_rate": round(len(hits) / len(looked), 4) if looked else 0.0,
                    "cost_usd": round(sum(r["cost_usd"] for r in rows), 6),
                    "saved_usd": round(sum(r["saved_usd"] for r in rows), 6),
                    "p50_hit_ms": _p50([r["ms"] for r in hits]),
                    "p50_miss_ms": _p50([r["ms"] for r in rows if r["cache"] == "miss"]),
                    "min_semantic_similarity": min((r["similarity"] for r in rows if r["cache"] == "hit_semantic"
                                                    and r["similarity"] is not None), default=None),
                }
                print(f"{name}: {len(rows)} asks in {sum(lat) / 1000:.0f} s", flush=True)
            with t.db.connection() as conn:
                st = answers.stats(conn)
            threshold = t.settings.cache.threshold

    print_table("Semantic threshold on demo paraphrases / near-misses (bundled MiniLM; exact-after-normalising "
                "counts as a hit)", ["threshold", "paraphrase_recall", "near_miss_false_hits",
                                     "false_hits_without_signature"], cal_rows)
    rows = [[n, r["asks"], r["lookups"], r["hit_exact"], r["hit_semantic"], f"{100 * r['hit_rate']:.1f}%",
             r["p50_hit_ms"], r["p50_miss_ms"], f"{r['cost_usd']:.5f}", f"{r['saved_usd']:.5f}"]
            for n, r in results.items()]
    print_table(f"Answer cache on {golden.name} ({len(cases)} cases; model {args.model}; threshold {threshold})",
                ["pass", "asks", "lookups", "exact", "semantic", "hit_rate", "p50_hit_ms", "p50_miss_ms",
                 "cost_usd", "saved_usd"], rows)
    hits = [r for r in all_rows if r["cache"].startswith("hit")]
    misses = [r for r in all_rows if r["cache"] == "miss"]
    overall = {
        "lookups": st["lookups"], "hits_exact": st["hits_exact"], "hits_semantic": st["hits_semantic"],
        "hit_rate": st["hit_rate"], "entries": st["entries"], "saved_usd": st["saved_usd"],
        "saved_ms_total": st["saved_ms"], "p50_hit_ms": _p50([r["ms"] for r in hits]),
        "p50_miss_ms": _p50([r["ms"] for r in misses]),
        "p50_answered_miss_ms": _p50([r["ms"] for r in misses if r["status"] == "answered"]),
        "p50_lookup_ms": _p50([r["lookup_ms"] for r in all_rows if r["lookup_ms"] is not None]),
        "p50_store_ms": _p50([r["store_ms"] for r in all_rows if r["store_ms"] is not None]),
        "cost_without_cache_usd": round(sum(r["cost_usd"] for r in all_rows) + st["saved_usd"], 6),
        "cost_with_cache_usd": round(sum(r["cost_usd"] for r in all_rows), 6),
    }
    print(f"overall: {overall}")
    final_json({"bench": "cache", "model": args.model, "cases": len(cases), "threshold": threshold,
                "passes": results, "overall": overall, "calibration": cal, "setup_s": round(setup_s, 1),
                "seconds": round(time.perf_counter() - t0, 1)})


if __name__ == "__main__":
    main()
