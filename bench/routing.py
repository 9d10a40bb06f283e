"""Model routing on the demo golden set: always-strong, always-cheap, router, router + cascade.

    .venv/bin/python bench/routing.py [--limit N] [--cases id,id] [--out run.json]

Two OpenAI-compatible models are played by ``tether.testing.fake_openai.FakeOpenAI`` (a real HTTP
server; usage is reported as word counts of the prompt and the reply, so cost is proportional
to text length):

- ``strong`` (USD 5 / 15 per Mtok in / out): always answers correctly, in the manner of the
  fake's ``quote`` behaviour: the source sentence (a line's sentence, markdown markers stripped,
  3 words or more) sharing the most words with the question,
  plus the second best one when it shares at least 60% as many (and at least 2) words, each with
  its citation.
- ``cheap`` (USD 0.25 / 1 per Mtok): the same correct answer on questions it can handle; on the
  others it states the best sentence WRONGLY (its first number changed by +7; without a number,
  a negation added; failing that, an invented "within 30 days") with the right citation, which
  the grounding checker rejects (number_missing / negation_added). Asked again with the checker's
  feedback, it gives up ("I could not find this ..."). Which questions it fails is a
  deterministic function of the question text and of the *human difficulty label* of the golden
  case asking it (``tags.difficulty``, written with the golden set, before the router existed):
  it fails when ``sha256(question) mod 100`` is below 10 (easy), 40 (medium) or 80 (hard).
  The router sees neither the label nor the hash: it has to infer difficulty from the question
  text and retrieval, and what it misses only the cascade can recover.
- Simulated latency (``Reply.delay_s``): strong 0.20 s + 40 us per prompt word + 15 ms per
  output word; cheap 0.06 s + 10 us per prompt word + 4 ms per output word.

Configurations, on one engine over one ingested demo corpus (embedded PostgreSQL in a temp dir,
or TETHER_DATABASE_URL): always-strong and always-cheap (router off, the model as default),
router (``generate.router`` default rules, ``cascade=false``), router + cascade (default rules,
``cascade=true``; the one the bar is about) and, for reference, cascade-only (``rules=[]``:
everything cheap first). Quality is
the golden set's own metrics (``evaluate/answers.py``): pass rate, key-fact recall, groundedness,
hallucination rate; cost is the sum of every model call of every case, each at its model's price
(the trace's cost); latency p50 is per case, end to end. The bar: router + cascade >= 40%
cheaper than always-strong with pass rate and key-fact recall each at most 2 points lower.
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, bench_database, final_json, print_table

from tether.testing.fake_openai import FakeOpenAI, Reply, question, sources

GOLDEN = ROOT / "demo" / "golden" / "golden.yaml"
MANIFEST = ROOT / "demo" / "manifest.json"
PRICES = {"strong": (5.0, 15.0), "cheap": (0.25, 1.0)}
#: Share (percent) of questions of each human difficulty label the cheap model gets wrong.
CHEAP_FAIL_PERCENT = {"easy": 10, "medium": 40, "hard": 80}
LATENCY = {"strong": (0.20, 40e-6, 15e-3), "cheap": (0.06, 10e-6, 4e-3)}  # base s, s/prompt word, s/output word
GIVE_UP = "I could not find this in the documents you can access."


def _norm(q: str) -> str:
    return " ".join(q.split()).lower()


def _words(s: str) -> set[str]:
    return set(re.findall(r"\w+", s.lower()))


def ranked_sentences(messages) -> list[tuple[int, int, str]]:
    """(overlap with the question, source number, sentence), best first (ties: earlier source)."""
    q = _words(question(messages))
    out = []
    for n, body in sorted(sources(messages).items()):
        for line in body.splitlines():  # a heading or table row is not part of the next sentence
            line = re.sub(r"^\s*(?:#+|[-*•|]|\d+[.)])\s*", "", line)
            for s in re.split(r"(?<=[.!?])\s+", line.strip()):
                if len(_words(s)) >= 3:
                    out.append((len(q & _words(s)), n, s.strip()))
    return sorted(out, key=lambda x: (-x[0], x[1]))


def correct_claims(messages) -> list[tuple[str, int]]:
    ranked = ranked_sentences(messages)
    if not ranked or ranked[0][0] == 0:
        return []
    claims = [(ranked[0][2], ranked[0][1])]
    if len(ranked) > 1 and ranked[1][0] >= max(2, 0.6 * ranked[0][0]) and ranked[1][2] != ranked[0][2]:
        claims.append((ranked[1][2], ranked[1][1]))
    return claims


_NEGATABLE = re.compile(r"\b(is|are|must|will|may|can|should|does|do)\b")


def corrupt(sentence: str) -> str:
    """A plausible but unsupported version of ``sentence`` (what the cheap model gets wrong)."""
    m = re.search(r"\d+", sentence)
    if m:
        return sentence[: m.start()] + str(int(m.group(0)) + 7) + sentence[m.end():]
    m = _NEGATABLE.search(sentence)
    if m:
        return sentence[: m.end()] + " not" + sentence[m.end():]
    return sentence.rstrip(" .") + ", within 30 days."


def _render(claims: list[tuple[str, int]]) -> str:
    """``Sentence one [1]. Sentence two [2].`` (the citation before the sentence's full stop)."""
    out = []
    for t, n in claims:
        core = t.rstrip()
        end = core[-1] if core[-1:] in ".!?" else "."
        out.append(f"{core.rstrip('.!?').rstrip()} [{n}]{end}")
    return " ".join(out) if out else GIVE_UP


def _reply(kind: str, messages, text: str) -> Reply:
    base, per_in, per_out = LATENCY[kind]
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
    return Reply(text=text, delay_s=base + per_in * prompt + per_out * len(text.split()))


def cheap_fails(q: str, difficulty: dict[str, str]) -> bool:
    level = difficulty.get(_norm(q), "medium")
    return int(hashlib.sha256(_norm(q).encode()).hexdigest()[:8], 16) % 100 < CHEAP_FAIL_PERCENT[level]


def strong_script(messages) -> Reply:
    return _reply("strong", messages, _render(correct_claims(messages)))


def make_cheap_script(difficulty: dict[str, str]):
    def script(messages) -> Reply:
        claims = correct_claims(messages)
        if claims and cheap_fails(question(messages), difficulty):
            regenerating = "rejected by the citation checker" in str(messages[-1].get("content", ""))
            text = GIVE_UP if regenerating else _render([(corrupt(claims[0][0]), claims[0][1])])
            return _reply("cheap", messages, text)
        return _reply("cheap", messages, _render(claims))
    return script


class RouteLog:
    """Trace listener: the route decisions, escalations and generate calls of a configuration."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.reasons: Counter[str] = Counter()
        self.qtypes: Counter[str] = Counter()
        self.escalations = 0
        self.calls: Counter[str] = Counter()
        self.tokens: Counter[str] = Counter()

    def __call__(self, trace) -> None:
        for s in trace.spans():
            if s.name == "route":
                self.reasons[f"{s.attrs.get('reason')}->{s.attrs.get('model')}"] += 1
                if "question_type" in s.attrs:
                    self.qtypes[s.attrs["question_type"]] += 1
            elif s.name == "route.escalate":
                self.escalations += 1
        for c in trace.calls:
            if c.kind == "generate":
                self.calls[c.model] += 1
                self.tokens[f"{c.model}_in"] += c.input_tokens
                self.tokens[f"{c.model}_out"] += c.output_tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N golden cases")
    ap.add_argument("--cases", default="", help="comma-separated case ids")
    ap.add_argument("--out", type=Path, default=None, help="write every configuration's run JSON here")
    args = ap.parse_args()

    from tether.engine import Tether
    from tether.evaluate.golden import load_golden
    from tether.evaluate.runner import forbidden_canaries, run_golden, setup_demo
    from tether.settings import ModelConfig, RouterSettings

    full = load_golden(GOLDEN)
    golden = full.select([c for c in args.cases.split(",") if c] or None, args.limit)
    difficulty = {_norm(c.question): c.tags.difficulty for c in full.cases}
    t0 = time.perf_counter()
    configs = [
        ("always-strong", dict(default_model="strong", router=RouterSettings())),
        ("always-cheap", dict(default_model="cheap", router=RouterSettings())),
        ("router", dict(default_model="strong",
                        router=RouterSettings(enabled=True, cheap="cheap", strong="strong", cascade=False))),
        ("router+cascade", dict(default_model="strong",
                                router=RouterSettings(enabled=True, cheap="cheap", strong="strong", cascade=True))),
        ("cascade-only", dict(default_model="strong",  # reference: no rules, everything cheap first
                              router=RouterSettings(enabled=True, cheap="cheap", strong="strong", cascade=True,
                                                    rules=[]))),
    ]
    results: dict[str, dict] = {}
    runs: dict[str, dict] = {}
    with FakeOpenAI(strong_script, model="strong-model") as strong, \
            FakeOpenAI(make_cheap_script(difficulty), model="cheap-model") as cheap, \
            bench_database() as (settings, _url):
        for name, fake in (("strong", strong), ("cheap", cheap)):
            pin, pout = PRICES[name]
            settings.generate.models[name] = ModelConfig(
                kind="openai", base_url=fake.base_url, model=f"{name}-model", price_in_per_mtok=pin,
                price_out_per_mtok=pout, context_window=8192, streaming=False)
        with Tether(settings) as t:
            t_setup = time.perf_counter()
            setup_demo(t, MANIFEST)
            setup_s = time.perf_counter() - t_setup
            forbidden = forbidden_canaries(MANIFEST)
            log = RouteLog()
            t.trace_listeners.append(log)
            run_golden(t, golden.select(None, 3), forbidden=forbidden)  # warm-up, not measured
            for name, update in configs:
                for k, v in update.items():
                    setattr(t.settings.generate, k, v)
                log.reset()
                res = run_golden(t, golden, forbidden=forbidden, source=str(GOLDEN), config={"bench": name})
                m = res.metrics
                cost = sum(s.metrics["cost"] or 0.0 for s in res.run.first)
                results[name] = {
                    "pass_rate": m["pass_rate"], "key_fact_recall": m["key_fact_recall"],
                    "groundedness": m["groundedness"], "hallucination_rate": m["hallucination_rate"],
                    "abstention_recall": m["abstention_recall"], "cost_usd": cost,
                    "cost_per_case_usd": m["cost_per_case"], "latency_p50_ms": m["latency_p50_ms"],
                    "latency_p95_ms": m["latency_p95_ms"], "calls": dict(log.calls), "tokens": dict(log.tokens),
                    "escalations": log.escalations, "routes": dict(log.reasons), "question_types": dict(log.qtypes),
                    "errors": sum(1 for o in res.run.outcomes[0] if o.error),
                }
                runs[name] = res.to_dict()
                print(f"{name}: done in {res.duration_s:.0f} s", flush=True)

    base = results["always-strong"]
    rows = []
    for name, r in results.items():
        saving = 1 - r["cost_usd"] / base["cost_usd"] if base["cost_usd"] else 0.0
        r["saving_vs_strong"] = saving
        r["pass_rate_delta_pts"] = 100 * (r["pass_rate"] - base["pass_rate"])
        r["key_fact_recall_delta_pts"] = 100 * ((r["key_fact_recall"] or 0) - (base["key_fact_recall"] or 0))
        rows.append([name, f"{r['pass_rate']:.3f}", f"{r['key_fact_recall']:.3f}", f"{r['groundedness']:.3f}",
                     f"{r['hallucination_rate']:.3f}", f"{r['cost_usd']:.4f}", f"{100 * saving:.1f}%",
                     f"{r['latency_p50_ms']:.0f}", r["calls"].get("strong", 0), r["calls"].get("cheap", 0),
                     r["escalations"]])
    print_table(f"Routing on {golden.name} ({len(golden.cases)} cases; strong 5/15, cheap 0.25/1 USD per Mtok)",
                ["config", "pass", "kf_recall", "grounded", "halluc", "cost_usd", "saving", "p50_ms",
                 "strong_calls", "cheap_calls", "escalated"], rows)
    for name in ("router", "router+cascade", "cascade-only"):
        print(f"{name} routes: {results[name]['routes']}  question types: {results[name]['question_types']}")
    rc = results["router+cascade"]
    bar = (rc["saving_vs_strong"] >= 0.40 and rc["pass_rate_delta_pts"] >= -2.0
           and rc["key_fact_recall_delta_pts"] >= -2.0)
    print(f"bar (router+cascade >= 40% cheaper than always-strong, pass rate and key-fact recall at most 2 points "
          f"lower): {'MET' if bar else 'NOT MET'} (saving {100 * rc['saving_vs_strong']:.1f}%, pass rate "
          f"{rc['pass_rate_delta_pts']:+.1f} pts, key-fact recall {rc['key_fact_recall_delta_pts']:+.1f} pts)")
    if args.out:
        args.out.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    final_json({"cases": len(golden.cases), "configs": _round(results), "bar_met": bar,
                "cheap_fail_percent": CHEAP_FAIL_PERCENT, "prices_per_mtok": PRICES,
                "setup_s": round(setup_s, 1), "seconds": round(time.perf_counter() - t0, 1)})


def _round(x):
    if isinstance(x, float):
        return round(x, 6)
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    return x


if __name__ == "__main__":
    main()
