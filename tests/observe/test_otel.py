"""OpenTelemetry export: a real OTLP/HTTP receiver on 127.0.0.1 decodes what the exporter sends."""

from __future__ import annotations

import time

from otlp_receiver import OtlpReceiver, attrs
from sample_traces import ask_trace

from tether.observe import hooks
from tether.observe.otel import OtelExporter, install, parse_headers, traces_url
from tether.settings import ObserveSettings


def _exporter(url: str, **kw) -> OtelExporter:
    cfg = ObserveSettings(otlp_endpoint=url, service_name="tether-test", otlp_timeout_s=2, **kw)
    return OtelExporter(cfg, {"OTLP_HDRS": "x-tenant=corvane"}, schedule_delay_ms=50)


def test_spans_arrive_with_tree_ids_and_genai_attributes():
    trace = ask_trace(fallback=True)
    with OtlpReceiver() as rx:
        exp = _exporter(rx.url, otlp_headers={"authorization": "Bearer t0k"}, otlp_headers_env="OTLP_HDRS")
        try:
            exp(trace)
            assert exp.flush(10)
            got = rx.wait_for(len(list(trace.spans())) - 1)
        finally:
            exp.shutdown()
        hdrs = {k.lower(): v for k, v in rx.headers[0].items()}
    assert hdrs["authorization"] == "Bearer t0k" and hdrs["x-tenant"] == "corvane"
    assert hdrs["content-type"] == "application/x-protobuf"
    resource = got[0][0]
    assert resource["service.name"] == "tether-test"
    spans = {s.name: s for _, s in got}
    # one trace, the Tether trace's id
    assert {s.trace_id.hex() for _, s in got} == {trace.id}
    # every stage arrived, the zero-length "fallback" decision became an event
    expected = {"tether.ask", "input_guard", "retrieve", "retrieve.embed_query", "retrieve.keyword",
                "retrieve.dense", "retrieve.fusion", "retrieve.hydrate", "rerank", "pack", "context_guard",
                "route", "cache", "chat qwen-mini", "chat broken", "ground", "output_guard"}
    assert set(spans) == expected
    root = spans["tether.ask"]
    assert root.parent_span_id == b""
    for name in ("input_guard", "retrieve", "chat qwen-mini", "ground"):
        assert spans[name].parent_span_id == root.span_id, name
    for name in ("retrieve.keyword", "retrieve.dense", "retrieve.hydrate"):
        assert spans[name].parent_span_id == spans["retrieve"].span_id, name
    # timestamps: started_at + offsets
    t0 = int(trace.started_at.timestamp() * 1e9)
    assert abs(root.start_time_unix_nano - t0) < 2_000
    assert abs(root.end_time_unix_nano - root.start_time_unix_nano - 250_000_000) < 2_000
    kw = spans["retrieve.keyword"]
    assert abs(kw.start_time_unix_nano - (t0 + 11_500_000)) < 2_000
    assert abs(kw.end_time_unix_nano - kw.start_time_unix_nano - 12_000_000) < 2_000
    # GenAI semantic conventions on the model call
    call = spans["chat qwen-mini"]
    assert call.kind == 3  # SPAN_KIND_CLIENT
    a = attrs(call.attributes)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai" and a["gen_ai.system"] == "openai"
    assert a["gen_ai.request.model"] == "qwen-mini"
    assert a["gen_ai.response.model"] == "qwen-mini-2025"
    assert a["gen_ai.usage.input_tokens"] == 120 and a["gen_ai.usage.output_tokens"] == 30
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["tether.model"] == "cheap"
    # the failed first call: error status; the fallback decision is an event on the root
    failed = spans["chat broken"]
    assert failed.status.code == 2  # STATUS_CODE_ERROR
    assert attrs(failed.attributes)["error.type"] == "ProviderError"
    events = {e.name: attrs(e.attributes) for e in root.events}
    assert events["fallback"] == {"tether.from": "broken", "tether.to": "cheap"}
    # other spans: tether.* attributes, admin ones exported, the question only as redacted
    assert attrs(spans["retrieve.dense"].attributes) == {"tether.hits": 50, "tether.admin.acl_filtered": 7}
    ra = attrs(root.attributes)
    assert ra["tether.question"] == "How many days of [PERSON] leave?"
    assert ra["tether.trace.status"] == "answered" and ra["tether.retrieval.top_score"] == 0.62
    assert ra["tether.usage.input_tokens"] == 129 and ra["tether.principal.name"] == "ana"
    # lists of dicts become JSON strings
    assert '"verdict": "supported"' in attrs(spans["ground"].attributes)["tether.sentences"]


def test_dead_collector_never_slows_or_fails_the_caller():
    with OtlpReceiver(status=503) as rx:
        exp = _exporter(rx.url)
        try:
            t0 = time.perf_counter()
            for _ in range(20):
                exp(ask_trace())
            elapsed = time.perf_counter() - t0
        finally:
            exp.shutdown()
    assert elapsed < 1.0  # queued; the 503s happen on the processor's thread
    # nothing listening at all
    exp = _exporter("http://127.0.0.1:9")
    try:
        exp(ask_trace())
    finally:
        exp.shutdown()


def test_install_only_with_an_endpoint():
    class Engine:
        secrets: dict = {}

    class S:
        observe = ObserveSettings()

    e = Engine()
    e.settings = S()
    assert install(e) is None and hooks.listeners(e) == []
    with OtlpReceiver() as rx:
        e.settings.observe = ObserveSettings(otlp_endpoint=rx.url + "/")
        exp = install(e)
        assert exp is not None and hooks.listeners(e) == [exp]
        for listener in hooks.listeners(e):
            listener(ask_trace())
        exp.flush(10)
        assert rx.wait_for(1)
        exp.shutdown()


def test_helpers():
    assert traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"
    assert parse_headers("a=1, b = x=y ,junk") == {"a": "1", "b": "x=y"}


def test_a_stuck_exporter_drops_rather_than_blocks():
    import threading

    release = threading.Event()
    exp = OtelExporter(ObserveSettings(otlp_endpoint="http://127.0.0.1:9", otlp_timeout_s=1), max_queue=1)
    real_export = exp.export
    exp.export = lambda trace: (release.wait(10), real_export(trace))  # conversion thread stuck
    try:
        t0 = time.perf_counter()
        for _ in range(6):
            exp(ask_trace())
        assert time.perf_counter() - t0 < 0.5
        assert 4 <= exp.dropped <= 5  # one in the converter's hands (maybe), one queued, the rest dropped
    finally:
        release.set()
        exp.shutdown()
