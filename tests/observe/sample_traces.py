"""Traces shaped like the engine's (the stages of one ask), built by hand for the observability tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tether.observe.trace import Call, Span, Trace


def _span(name: str, start: float, dur: float, **attrs) -> Span:
    return Span(name, start, dur, dict(attrs))


def ask_trace(*, principal_id: int | None = None, principal_name: str = "ana", status: str = "answered",
              model: str = "cheap", input_tokens: int = 120, output_tokens: int = 30, cost: float = 0.0009,
              duration_ms: float = 250.0, top_score: float = 0.62, started_at: datetime | None = None,
              fallback: bool = False, cache_hit: bool = False, blocked_stage: str | None = None) -> Trace:
    t = Trace("ask", principal_id=principal_id, principal_name=principal_name, api_key_id=None)
    if started_at is not None:
        t.started_at = started_at
    root = t.root
    root.children = [
        _span("input_guard", 0.5, 2.0, verdict="block" if blocked_stage == "input_guard" else "allow"),
    ]
    if blocked_stage != "input_guard":
        retrieve = _span("retrieve", 3.0, 40.0, k=10)
        retrieve.children = [
            _span("retrieve.embed_query", 3.1, 8.0),
            _span("retrieve.keyword", 11.5, 12.0, hits=40),
            _span("retrieve.dense", 24.0, 10.0, hits=50, **{"admin.acl_filtered": 7}),
            _span("retrieve.fusion", 34.5, 1.0),
            _span("retrieve.hydrate", 35.6, 6.0),
        ]
        model_call = _span("model.call", 70.0, 150.0, **{
            "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "qwen-mini",
            "gen_ai.response.model": "qwen-mini-2025", "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens, "gen_ai.response.finish_reasons": ["stop"],
            "tether.model": model, "tether.cost_usd": cost})
        route = _span("route", 66.0, 0.5, model=model, reason="default")
        cache = _span("cache", 67.0, 1.0, hit=cache_hit)
        root.children += [
            retrieve,
            _span("rerank", 44.0, 15.0, candidates=30),
            _span("pack", 59.5, 3.0, passages=4),
            _span("context_guard", 63.0, 2.0, dropped=0),
            route, cache,
        ]
        if fallback:
            root.children.append(_span("model.call", 68.0, 1.5, **{
                "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "broken",
                "tether.model": "broken"}))
            root.children[-1].status = "error"
            root.children[-1].attrs["error"] = "ProviderError"
            root.children.append(_span("fallback", 69.8, 0.0, **{"from": "broken", "to": model}))
        root.children += [
            model_call,
            _span("ground", 221.0, 20.0, sentences=[
                {"index": 0, "verdict": "supported", "score": 0.81, "cited": [1], "reasons": []},
                {"index": 1, "verdict": "unsupported", "score": 0.2, "cited": [2], "reasons": ["low_similarity"]}]),
            _span("output_guard", 242.0, 3.0, verdict="block" if blocked_stage == "output_guard" else "allow"),
        ]
        t.record_call(Call("generate", model, input_tokens, output_tokens, cost, 150.0, True))
        t.record_call(Call("embed", "all-MiniLM-L6-v2", 9, 0, 0.0, 8.0, True))
    t.set(question="How many days of [PERSON] leave?", model=model, **{"retrieval.top_score": top_score},
          abstained=status == "abstained", grounded=status == "answered", blocked=status == "blocked")
    if blocked_stage:
        t.set(**{"blocked.stage": blocked_stage})
    t.finish(status)
    t.duration_ms = duration_ms
    t.root.duration_ms = duration_ms
    return t


def at(hours_ago: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours_ago)
