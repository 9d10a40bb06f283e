"""Grounded answers through a resilient model chain while the primary provider misbehaves.

    .venv/bin/python bench/resilience.py [--n 100] [--fault-rate 0.3] [--seed 0]

Two fake OpenAI-compatible servers on 127.0.0.1 (real HTTP, the real ``openai`` SDK): the primary
gives ``--fault-rate`` of its chat calls a random fault (latency, 429 with Retry-After, 500,
connection reset, truncated reply, garbage / invalid JSON, context overflow), the fallback is
healthy. Each question (from the demo golden set, cycled to ``--n``) is answered with
``tether.ground.answer`` over a chain built by ``build_chain`` (primary, then the fallback), with
the four demo-corpus paragraphs sharing most words with it as passages (a word-overlap ranking:
retrieval is not what is measured here). Every third question asks for a JSON-schema answer.
Prints a table, then one JSON object with the figures as the last line.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter

from _common import ROOT, final_json, print_table

from tether.embed.onnx_minilm import OnnxEmbedder
from tether.errors import ProviderUnavailable
from tether.generate import OpenAICompatConfig, OpenAICompatGenerator
from tether.ground import CLAIM_SCHEMA_EXAMPLE, answer
from tether.observe.trace import Trace
from tether.route.breaker import Breakers
from tether.route.resilience import build_chain
from tether.settings import EmbedSettings, ModelConfig, ResilienceSettings, Settings
from tether.testing import FakeOpenAI, Faults
from tether.types import Passage

_WORD = re.compile(r"\w+")


def corpus_paragraphs() -> list[tuple[str, str]]:
    """(title, paragraph) of the demo corpus's Markdown and text files."""
    out = []
    for path in sorted((ROOT / "demo" / "corpus").rglob("*")):
        if path.suffix in (".md", ".txt"):
            for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
                if len(para.split()) >= 12:
                    out.append((path.stem, para.strip()))
    return out


def questions() -> list[str]:
    text = (ROOT / "demo" / "golden" / "golden.yaml").read_text(encoding="utf-8")
    return list(dict.fromkeys(q.strip().strip("'\"") for q in re.findall(r"^\s*question:\s*(.+)$", text, re.M)))


def top_passages(q: str, paras: list[tuple[str, str]], k: int = 4) -> list[Passage]:
    qw = set(_WORD.findall(q.lower()))
    ranked = sorted(paras, key=lambda tp: -len(qw & set(_WORD.findall(tp[1].lower()))))[:k]
    return [Passage(i + 1, i + 1, 0, text, 0, len(text), title=title, score=1.0 - i * 0.1)
            for i, (title, text) in enumerate(ranked)]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100, help="questions")
    ap.add_argument("--fault-rate", type=float, default=0.3, help="share of the primary's chat calls faulted")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fault-latency-s", type=float, default=0.5, help="delay of a latency fault")
    args = ap.parse_args()

    embedder = OnnxEmbedder(EmbedSettings())
    embedder.warm_up()
    paras, qs = corpus_paragraphs(), questions()
    rs = ResilienceSettings(backoff_base_s=0.05, backoff_max_s=0.5, retry_after_cap_s=1.0, deadline_s=30.0,
                            first_token_timeout_s=5.0)
    faults = Faults(rate=args.fault_rate, seed=args.seed, latency_s=args.fault_latency_s, retry_after_s=1)
    outcomes: Counter[str] = Counter()
    events: Counter[str] = Counter()
    answered_by: Counter[str] = Counter()
    latencies: list[float] = []
    t_start = time.perf_counter()
    with FakeOpenAI("quote", faults=faults) as primary, FakeOpenAI("quote") as backup:
        models = {
            "primary": ModelConfig(kind="openai", base_url=primary.base_url, model="primary", timeout_s=10.0),
            "backup": ModelConfig(kind="openai", base_url=backup.base_url, model="backup", timeout_s=10.0),
        }
        settings = Settings(generate={"default_model": "primary", "models": models, "fallbacks": ["backup"],
                                      "resilience": rs.model_dump()})
        gens = {n: OpenAICompatGenerator(OpenAICompatConfig(base_url=c.base_url, model=c.model, timeout_s=c.timeout_s))
                for n, c in models.items()}
        breakers = Breakers.from_settings(rs)
        for i in range(args.n):
            q = qs[i % len(qs)]
            trace = Trace()
            chain = build_chain("primary", settings, gens.__getitem__, trace, breakers, embedder.count_tokens)
            t0 = time.perf_counter()
            try:
                a = answer(q, top_passages(q, paras), chain, embedder,
                           json_schema=CLAIM_SCHEMA_EXAMPLE if i % 3 == 2 else None)
                outcome = "abstained" if a.abstained else "answered"
            except ProviderUnavailable:
                outcome = "unavailable"
            except Exception as exc:  # noqa: BLE001 - counted: the bar is zero of these
                outcome = f"error:{type(exc).__name__}"
            latencies.append((time.perf_counter() - t0) * 1000)
            outcomes[outcome] += 1
            events.update(s.name for s in trace.spans()
                          if s.name.startswith(("model.", "breaker.")) and s.name != "model.call")
            answered_by.update(c.model for c in trace.calls if c.ok)
        injected = Counter(f for f in primary.faults_seen if f)
        primary_calls, backup_calls = len(primary.chat_requests), len(backup.chat_requests)
    seconds = time.perf_counter() - t_start
    errors = sum(v for k, v in outcomes.items() if k.startswith("error:"))
    figures = {
        "n": args.n, "fault_rate": args.fault_rate, "seed": args.seed,
        "answered": outcomes["answered"], "abstained": outcomes["abstained"],
        "unavailable": outcomes["unavailable"], "other_errors": errors,
        "retries": events["model.retry"], "fallbacks": events["model.fallback"], "shrinks": events["model.shrink"],
        "breaker_opens": events["breaker.open"],
        "primary_calls": primary_calls, "primary_faulted": sum(injected.values()), "backup_calls": backup_calls,
        "faults": dict(sorted(injected.items())),
        "successful_calls_by_model": dict(sorted(answered_by.items())),
        "latency_p50_ms": round(pct(latencies, 0.5), 1), "latency_p95_ms": round(pct(latencies, 0.95), 1),
        "latency_max_ms": round(max(latencies), 1) if latencies else 0.0,
        "seconds": round(seconds, 1),
    }
    print_table(
        f"resilience: {args.n} grounded questions, primary faulted at {args.fault_rate:.0%} (seed {args.seed}), "
        "healthy fallback",
        ["answered", "abstained", "unavailable", "other errors", "retries", "fallbacks", "shrinks", "p50 ms", "p95 ms"],
        [[figures["answered"], figures["abstained"], figures["unavailable"], errors, figures["retries"],
          figures["fallbacks"], figures["shrinks"], figures["latency_p50_ms"], figures["latency_p95_ms"]]],
    )
    print_table("faults injected into the primary's chat calls", ["fault", "calls"],
                [[k, v] for k, v in sorted(injected.items())] + [["(none)", primary_calls - sum(injected.values())]])
    final_json(figures)


if __name__ == "__main__":
    main()
