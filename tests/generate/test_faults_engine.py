"""Through the whole engine, with 30% of model calls faulted (latency, 429, 500, reset,
truncation, garbage, context overflow): every question ends in an answer, an abstention or an
escalation with a clear status and a trace; nothing raises."""

from __future__ import annotations

from api.server import seed

from tether.engine import Tether
from tether.observe import store as obs_store
from tether.settings import ModelConfig, ResilienceSettings
from tether.testing.fake_openai import FakeOpenAI, Faults

QUESTIONS = [
    "How many days of annual leave do employees accrue?",
    "How much unused leave may be carried over?",
    "When do leave requests go to the line manager?",
    "What is the salary band for a senior engineer in Project Nightingale?",
]


def test_thirty_percent_faults_never_escape(settings, tmp_path):
    with FakeOpenAI("quote", faults=Faults(rate=0.3, seed=7, latency_s=0.05, retry_after_s=0)) as flaky, \
            FakeOpenAI("quote") as backup:
        settings.generate.models["flaky"] = ModelConfig(kind="openai", base_url=flaky.base_url, model="m",
                                                        timeout_s=5, price_in_per_mtok=1, price_out_per_mtok=2)
        settings.generate.models["backup"] = ModelConfig(kind="openai", base_url=backup.base_url, model="m",
                                                         timeout_s=5)
        settings.generate.default_model = "flaky"
        settings.generate.fallbacks = ["backup"]
        settings.generate.resilience = ResilienceSettings(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.05,
                                                          retry_after_cap_s=0.05, breaker_failures=50)
        engine = Tether(settings)
        try:
            seed(engine, tmp_path / "docs")
            people = [engine.principal(n) for n in ("eve", "ana")]
            results = [engine.ask(p, q) for _ in range(4) for p in people for q in QUESTIONS]
            faults = [f for f in flaky.faults_seen if f]
        finally:
            engine.close()
    assert len(faults) >= 5, "the plan must actually fault calls"
    statuses = set()
    with Tether(settings) as check, check.db.connection() as conn:
        for r in results:
            assert r.trace_id, "every request is traced"
            t = obs_store.get(conn, r.trace_id, viewer_id=None, admin=True)
            statuses.add(t["status"])
            if r.answer.abstained:
                assert r.answer.reasons, "an abstention says why"
            else:
                assert r.answer.citations, "a shown answer is cited"
    assert statuses <= {"answered", "abstained", "escalated"} and "answered" in statuses
