"""Retries, fallback, breakers, context overflow and stream timeouts against real fake servers."""

from __future__ import annotations

import random
import socket
import time

import pytest

from tether.errors import ContextOverflow, ProviderError, ProviderUnavailable
from tether.generate import GenerationRequest, OpenAICompatConfig, OpenAICompatGenerator, render_messages
from tether.ground import CLAIM_SCHEMA_EXAMPLE, answer
from tether.observe.trace import Trace
from tether.route.breaker import Breakers
from tether.route.resilience import Resilient, backoff_s, build_chain, retryable
from tether.settings import ModelConfig, ResilienceSettings, Settings
from tether.testing import FakeOpenAI, Faults, Reply
from tether.types import Answer, Generation, Passage

DOC = "Annual report 2023.\n\nAcme Corp reported revenue of $3.5 million in 2023. The company did not pay a dividend."


def passages() -> list[Passage]:
    s = DOC.index("Acme Corp")
    other = "The Oberoi Group is a hotel company with its head office in Delhi. It runs 30 hotels."
    return [Passage(11, 1, 1, DOC[s:], s, len(DOC), title="Acme annual report", score=0.9),
            Passage(21, 2, 0, other, 0, len(other), title="Oberoi profile", score=0.7)]


Q = "What revenue did Acme Corp report in 2023?"
REQ = GenerationRequest(Q, passages(), max_tokens=64)
FAST = ResilienceSettings(backoff_base_s=0.01, backoff_max_s=0.05, retry_after_cap_s=5.0, deadline_s=20.0,
                          first_token_timeout_s=2.0, breaker_failures=50)
QUOTE = "Acme Corp reported revenue of $3.5 million in 2023. [1]"


def _gen(url: str, model: str = "m", **kw) -> OpenAICompatGenerator:
    return OpenAICompatGenerator(OpenAICompatConfig(base_url=url, model=model, **kw), api_key="sk-secret-key")


def _dead_url() -> str:
    """A port on which nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"


def _events(trace: Trace, name: str) -> list[dict]:
    return [s.attrs for s in trace.spans() if s.name == name]


def test_retry_on_429_honours_retry_after():
    sleeps: list[float] = []
    trace = Trace()
    with FakeOpenAI([Reply(status=429, headers={"Retry-After": "2"}), Reply(status=429, headers={"Retry-After": "60"}),
                     "quote"]) as fake:
        g = Resilient([_gen(fake.base_url)], FAST, trace=trace, sleep=sleeps.append).generate(REQ)
    assert g.text == QUOTE and len(fake.chat_requests) == 3
    assert sleeps == [2.0, 5.0]  # the second Retry-After is capped at retry_after_cap_s
    retries = _events(trace, "model.retry")
    assert [r["reason"] for r in retries] == ["http_429", "http_429"] and all(r["retry_after"] for r in retries)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(status):
    sleeps: list[float] = []
    with FakeOpenAI(Reply(status=status)) as fake, pytest.raises(ProviderUnavailable) as info:
        Resilient([_gen(fake.base_url)], FAST, sleep=sleeps.append).generate(REQ)
    assert len(fake.chat_requests) == 1 and sleeps == []
    err = info.value
    assert err.status == 503 and err.code == "provider_unavailable"
    assert err.details["tried"] == [{"model": "openai:m", "attempts": 1, "reason": f"http_{status}"}]
    assert isinstance(err.__cause__, ProviderError) and err.__cause__.details["status"] == status


def test_backoff_bounds_and_retryable_classes():
    rng = random.Random(3)
    for n in range(1, 8):
        bound = min(1.0, 0.1 * 2 ** (n - 1))
        draws = [backoff_s(n, 0.1, 1.0, rng) for _ in range(200)]
        assert all(0 <= d <= bound for d in draws) and max(draws) > bound * 0.8  # full jitter spans the range
    assert retryable(ProviderError("x")) and retryable(ProviderError("x", status=503))
    assert not retryable(ProviderError("x", status=401)) and not retryable(ContextOverflow("x", status=400))
    sleeps: list[float] = []
    rs = FAST.model_copy(update={"backoff_base_s": 0.2, "backoff_max_s": 0.3, "max_attempts": 4})
    with FakeOpenAI(Reply(status=503)) as fake, pytest.raises(ProviderUnavailable):
        Resilient([_gen(fake.base_url)], rs, sleep=sleeps.append).generate(REQ)
    assert len(fake.chat_requests) == 4 and len(sleeps) == 3
    assert 0 <= sleeps[0] <= 0.2 and 0 <= sleeps[1] <= 0.3 and 0 <= sleeps[2] <= 0.3


def test_fallback_to_second_model_when_the_first_is_down():
    trace = Trace()
    down = _gen(_dead_url(), model="down")
    with FakeOpenAI("quote") as fake:
        r = Resilient([down, _gen(fake.base_url, model="up")], FAST, trace=trace, sleep=lambda s: None)
        g = r.generate(REQ)
    assert g.text == QUOTE and g.model == "up" and len(fake.chat_requests) == 1
    assert r.stats.model == "openai:up" and r.stats.fallbacks == 1 and r.stats.retries == FAST.max_attempts - 1
    (fb,) = _events(trace, "model.fallback")
    assert fb == {"from": "openai:down", "to": "openai:up", "reason": "transport"}


def test_breaker_opens_after_n_failures_and_half_opens_after_cooldown():
    now = [1000.0]
    breakers = Breakers(failures=2, cooldown_s=10.0, clock=lambda: now[0])
    rs = FAST.model_copy(update={"max_attempts": 5})
    trace = Trace()
    with FakeOpenAI([Reply(status=503), Reply(status=503), "quote"]) as primary, FakeOpenAI("quote") as backup:
        key = primary.base_url

        def ask() -> Generation:
            chain = [_gen(primary.base_url, "primary"), _gen(backup.base_url, "backup")]
            return Resilient(chain, rs, breakers=breakers, trace=trace, sleep=lambda s: None).generate(REQ)

        assert ask().model == "backup"  # two 503s open the breaker: no third attempt
        assert len(primary.chat_requests) == 2 and breakers.state(key) == "open"
        assert [e["model"] for e in _events(trace, "breaker.open")] == ["openai:primary"]
        assert ask().model == "backup" and len(primary.chat_requests) == 2  # skipped while open
        assert _events(trace, "model.fallback")[-1]["reason"] == "breaker_open"
        now[0] += 10.5
        assert breakers.state(key) == "half_open"
        assert ask().model == "primary" and len(primary.chat_requests) == 3  # the probe succeeds
        assert breakers.state(key) == "closed" and _events(trace, "breaker.close")


def test_breaker_half_open_lets_one_probe_and_a_failed_probe_reopens():
    now = [0.0]
    b = Breakers(failures=3, cooldown_s=5.0, clock=lambda: now[0])
    assert [b.failure("p") for _ in range(3)] == [False, False, True] and not b.allow("p")
    now[0] = 5.0
    assert b.allow("p") and not b.allow("p")  # one probe at a time
    assert b.failure("p") and b.state("p") == "open"  # failed probe: open for another cooldown
    now[0] = 9.0
    assert not b.allow("p")
    now[0] = 10.0
    assert b.allow("p") and b.success("p") and b.state("p") == "closed" and b.allow("p") and b.allow("p")


def _many_passages(n: int) -> list[Passage]:
    out = []
    for i in range(n):
        text = (f"Acme Corp reported revenue of ${i + 3}.5 million in {2020 + i}. " if i == 0 else
                f"Section {i} covers unrelated matters such as parking, lunch menus and office plants "
                f"in building {i}, floor {i + 1}, room {i * 7}.")
        out.append(Passage(100 + i, 100 + i, 0, text, 0, len(text), title=f"doc {i}", score=1.0 - i / 10))
    return out


def _words(req: GenerationRequest) -> int:
    return sum(len(m["content"].split()) for m in render_messages(req))


def test_context_overflow_is_translated_and_shrinks_passages():
    ps = _many_passages(8)
    window = (_words(GenerationRequest(Q, ps[:2])) + _words(GenerationRequest(Q, ps[:3]))) // 2
    trace = Trace()
    with FakeOpenAI("quote", context_window=window) as fake:
        with pytest.raises(ContextOverflow) as info:  # the generator alone: a typed error
            _gen(fake.base_url).generate(GenerationRequest(Q, ps))
        assert info.value.details["status"] == 400 and info.value.code == "context_overflow"
        r = Resilient([_gen(fake.base_url)], FAST, trace=trace, sleep=lambda s: None)
        g = r.generate(GenerationRequest(Q, ps))
    assert g.text == "Acme Corp reported revenue of $3.5 million in 2020. [1]"
    assert fake.faults_seen == ["overflow", "overflow", "overflow", None]  # 8 (plain call), 8 -> 4 -> 2
    last = fake.chat_requests[-1]["body"]["messages"][1]["content"]
    assert '<source id="2"' in last and '<source id="3"' not in last
    assert [(e["from"], e["to"]) for e in _events(trace, "model.shrink")] == [(8, 4), (4, 2)]
    assert r.stats.shrinks == 2 and r.stats.retries == 0


def test_context_overflow_with_one_passage_falls_back():
    ps = _many_passages(1)
    with FakeOpenAI("quote", context_window=5) as small, FakeOpenAI("quote") as big:
        chain = [_gen(small.base_url, "small"), _gen(big.base_url, "big")]
        g = Resilient(chain, FAST).generate(GenerationRequest(Q, ps))
    assert g.model == "big" and len(small.chat_requests) == 1


def test_first_token_timeout_on_a_slow_stream_is_retried():
    trace = Trace()
    rs = FAST.model_copy(update={"first_token_timeout_s": 0.3})
    with FakeOpenAI([Reply(text="too late [1].", delay_s=1.5), "quote"]) as fake:
        t0 = time.perf_counter()
        out = "".join(Resilient([_gen(fake.base_url)], rs, trace=trace, sleep=lambda s: None).stream(REQ))
        took = time.perf_counter() - t0
    assert out == QUOTE and took < 1.4 and len(fake.chat_requests) == 2
    assert _events(trace, "model.retry")[0]["reason"] == "first_token_timeout"


def test_first_token_timeout_then_fallback_and_then_unavailable():
    rs = FAST.model_copy(update={"first_token_timeout_s": 0.2, "max_attempts": 1})
    with FakeOpenAI(Reply(text="slow [1].", delay_s=0.8)) as slow, pytest.raises(ProviderUnavailable) as info:
        list(Resilient([_gen(slow.base_url, "slow")], rs).stream(REQ))
    assert info.value.details["tried"] == [{"model": "openai:slow", "attempts": 1, "reason": "first_token_timeout"}]


def test_truncated_stream_before_any_token_is_retried():
    with FakeOpenAI([Reply(text="cut [1].", truncate_after=0), "quote"]) as fake:
        r = Resilient([_gen(fake.base_url)], FAST, sleep=lambda s: None)
        out = "".join(r.stream(REQ))
    assert out == QUOTE and len(fake.chat_requests) == 2 and r.stats.retries == 1


def test_stream_broken_after_tokens_raises_without_retry():
    trace = Trace()
    got: list[str] = []
    replies = [Reply(text="Acme Corp reported revenue [1].", truncate_after=2), "quote"]
    with FakeOpenAI(replies) as fake, pytest.raises(ProviderError) as info:
        for delta in Resilient([_gen(fake.base_url)], FAST, trace=trace, sleep=lambda s: None).stream(REQ):
            got.append(delta)
    assert not isinstance(info.value, ProviderUnavailable)
    assert "".join(got) == "Acme Corp " and len(fake.chat_requests) == 1
    assert _events(trace, "model.stream_broken")[0]["deltas"] == 2


def test_unavailable_when_everything_fails_lists_models_and_reasons():
    trace = Trace()
    with FakeOpenAI(Reply(status=500)) as fake:
        chain = [_gen(_dead_url(), "a"), _gen(fake.base_url, "b")]
        with pytest.raises(ProviderUnavailable) as info:
            Resilient(chain, FAST, trace=trace, sleep=lambda s: None).generate(REQ)
    err = info.value
    assert err.details["tried"] == [
        {"model": "openai:a", "attempts": 3, "reason": "transport"},
        {"model": "openai:b", "attempts": 3, "reason": "http_500"},
    ]
    text = str(err.to_dict())
    assert "sk-secret-key" not in text and "Acme" not in text and "revenue" not in text
    assert _events(trace, "model.unavailable")


def test_deadline_bounds_the_whole_request():
    rs = FAST.model_copy(update={"deadline_s": 0.4, "max_attempts": 100, "backoff_base_s": 0.1, "backoff_max_s": 0.1})
    with FakeOpenAI(Reply(status=503)) as fake:
        t0 = time.perf_counter()
        with pytest.raises(ProviderUnavailable):
            Resilient([_gen(fake.base_url)], rs).generate(REQ)
    assert time.perf_counter() - t0 < 1.5 and 1 < len(fake.chat_requests) < 100


def test_build_chain_meters_each_model_and_applies_fallbacks():
    with FakeOpenAI(Reply(status=503)) as bad, FakeOpenAI("quote") as good:
        models = {"bad": ModelConfig(kind="openai", base_url=bad.base_url, model="bad", price_in_per_mtok=1.0),
                  "good": ModelConfig(kind="openai", base_url=good.base_url, model="good", price_in_per_mtok=1.0)}
        settings = Settings(generate={"default_model": "bad", "models": models, "fallbacks": ["good", "bad"],
                                      "resilience": FAST.model_copy(update={"max_attempts": 1}).model_dump()})
        gens = {n: _gen(c.base_url, c.model) for n, c in models.items()}
        trace = Trace()
        r = build_chain("bad", settings, gens.__getitem__, trace, Breakers(), lambda s: len(s.split()))
        assert [m.model_name for m in r.chain] == ["bad", "good"] and r.model_name == "bad"
        g = r.generate(REQ)
    assert g.model == "good" and r.stats.model == "good"
    assert [(c.model, c.ok) for c in trace.calls] == [("bad", False), ("good", True)]
    assert _events(trace, "model.fallback") == [{"from": "bad", "to": "good", "reason": "http_503"}]


def test_faulted_calls_end_in_a_generation_or_unavailable():
    faults = Faults(rate=0.3, seed=11, latency_s=0.05, retry_after_s=0)
    rs = FAST.model_copy(update={"first_token_timeout_s": 1.0})
    outcomes = {"ok": 0, "unavailable": 0}
    with FakeOpenAI("quote", faults=faults) as fake:
        breakers = Breakers(failures=1000)
        for i in range(40):
            r = Resilient([_gen(fake.base_url, timeout_s=2.0)], rs, breakers=breakers, sleep=lambda s: None)
            try:
                if i % 2:
                    g = r.generate(REQ)
                    assert isinstance(g, Generation)
                else:
                    "".join(r.stream(REQ))
                outcomes["ok"] += 1
            except ProviderUnavailable:
                outcomes["unavailable"] += 1
            except ProviderError as exc:  # only a stream broken after its first tokens
                assert i % 2 == 0 and "stream" in exc.message
    seen = [f for f in fake.faults_seen if f]
    assert 0.15 < len(seen) / len(fake.faults_seen) < 0.45 and len(set(seen)) >= 5
    assert outcomes["ok"] >= 30


def test_grounded_answers_over_faults_answer_or_abstain(embedder):
    faults = Faults(rate=0.3, seed=5, latency_s=0.05, retry_after_s=0)
    rs = FAST.model_copy(update={"max_attempts": 2})
    kinds = {"answered": 0, "abstained": 0, "unavailable": 0}
    with FakeOpenAI("quote", faults=faults) as fake:
        breakers = Breakers(failures=1000)
        for i in range(24):
            r = Resilient([_gen(fake.base_url, timeout_s=2.0)], rs, breakers=breakers, sleep=lambda s: None)
            try:
                a = answer(Q, passages(), r, embedder, json_schema=CLAIM_SCHEMA_EXAMPLE if i % 3 == 0 else None)
            except ProviderUnavailable:
                kinds["unavailable"] += 1
                continue
            assert isinstance(a, Answer)
            kinds["abstained" if a.abstained else "answered"] += 1
            if not a.abstained:
                assert a.citations and a.citations[0].number == 1
    assert sum(kinds.values()) == 24 and kinds["answered"] >= 12
    assert len({f for f in fake.faults_seen if f}) >= 4


def test_invalid_json_through_the_chain_is_repaired_once_then_abstains(embedder):
    with FakeOpenAI("quote", faults=Faults(rate=1.0, kinds=("garbage",))) as fake:
        a = answer(Q, passages(), Resilient([_gen(fake.base_url)], FAST), embedder, json_schema=CLAIM_SCHEMA_EXAMPLE)
    assert a.abstained and a.reasons == ["invalid_json"] and a.attempts == 2
    assert fake.faults_seen == ["garbage", "garbage"]
    with FakeOpenAI("quote", faults=Faults(rate=1.0, kinds=("garbage",))) as fake:
        a = answer(Q, passages(), Resilient([_gen(fake.base_url)], FAST), embedder)
    assert a.abstained and len(fake.chat_requests) == 2  # uncited gibberish: regenerated once, then abstains


def test_a_stream_closed_early_stops_its_helper_thread():
    import threading

    with FakeOpenAI("quote") as fake:
        before = threading.active_count()
        stream = Resilient([_gen(fake.base_url)], FAST).stream(REQ)
        assert next(stream) == "Acme "
        stream.close()
        deadline = time.time() + 2
        while threading.active_count() > before and time.time() < deadline:
            time.sleep(0.01)
    assert threading.active_count() <= before


def test_streamed_grounded_answer_through_the_chain(embedder):
    from tether.ground import stream_answer

    with FakeOpenAI([Reply(status=503), Reply(text="x", truncate_after=0), "quote"]) as fake:
        gen = Resilient([_gen(fake.base_url)], FAST, sleep=lambda s: None)
        events = list(stream_answer(Q, passages(), gen, embedder))
    assert events[-1]["type"] == "done" and not events[-1]["answer"]["abstained"]
    assert "".join(e["text"] for e in events if e["type"] == "token") == QUOTE and len(fake.chat_requests) == 3
