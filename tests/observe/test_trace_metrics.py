"""The Prometheus trace listener on its own: which trace shapes count as what."""

from __future__ import annotations

from sample_traces import ask_trace

from tether.api.metrics import Metrics
from tether.observe.trace import Call, NullTrace, Span


def _value(m: Metrics, name: str, **labels) -> float:
    v = m.registry.get_sample_value(name, labels or None)
    return 0.0 if v is None else v


def test_decisions_are_counted():
    m = Metrics()
    t = ask_trace(cache_hit=False)
    t.root.children += [Span("model.retry", 80.0, 0.0, {"model": "cheap", "attempt": 1}),
                        Span("breaker.open", 81.0, 0.0, {"model": "cheap"}),
                        Span("route.escalate", 82.0, 0.0, {"from": "cheap", "to": "strong"}),
                        Span("budget", 60.0, 1.5, {"decision": "reserved"}),
                        Span("something.new", 90.0, 3.0)]
    m.observe_trace(t)
    assert _value(m, "tether_retries_total") == 1
    assert _value(m, "tether_breaker_transitions_total", state="open") == 1
    assert _value(m, "tether_fallbacks_total", kind="escalate") == 1
    assert _value(m, "tether_cache_requests_total", result="miss") == 1
    assert _value(m, "tether_stage_duration_seconds_count", stage="budget") == 1
    assert _value(m, "tether_stage_duration_seconds_count", stage="other") == 1  # unknown names stay bounded
    # zero-length decisions are not stages
    assert _value(m, "tether_stage_duration_seconds_count", stage="model.retry") == 0

    m.observe_trace(ask_trace(status="escalated"))
    m.observe_trace(ask_trace(status="abstained"))
    assert _value(m, "tether_abstained_total", kind="ask") == 2
    out = ask_trace()
    next(s for s in out.root.children if s.name == "output_guard").attrs["verdict"] = "block"
    m.observe_trace(out)
    assert _value(m, "tether_blocks_total", stage="output_guard") == 1
    refused = ask_trace(status="refused")
    m.observe_trace(refused)
    assert _value(m, "tether_blocks_total", stage="budget") == 1
    weird = ask_trace(status="teleported")
    m.observe_trace(weird)
    assert _value(m, "tether_requests_total", kind="ask", status="other") == 1


def test_untraced_requests_still_count_usage():
    m = Metrics()
    t = NullTrace("ask")
    t.record_call(Call("generate", "cheap", 100, 20, 0.001, 50.0, True))
    with t.span("retrieve"):
        pass
    t.finish("answered")
    m.observe_trace(t)
    assert _value(m, "tether_requests_total", kind="ask", status="answered") == 1
    assert _value(m, "tether_model_tokens_total", model="cheap", kind="generate", direction="input") == 100
    assert _value(m, "tether_model_cost_usd_total", model="cheap") == 0.001
    assert _value(m, "tether_stage_duration_seconds_count", stage="retrieve") == 0
