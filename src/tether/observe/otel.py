"""OpenTelemetry export of finished traces (OTLP over HTTP, protobuf). Off unless
``observe.otlp_endpoint`` is set; needs the ``otel`` extra (``pip install 'tether[otel]'``).

A :class:`Trace` is recorded by Tether itself (cheap, always stored in PostgreSQL); this listener
replays a finished one as OpenTelemetry spans with their real timestamps (``trace.started_at`` +
each span's offset) and the same trace id (``Trace.id``, 32 hex digits), so a trace found in the
collector is the one ``tether traces show ID`` prints. The request thread only queues the finished
trace (microseconds); a background thread converts it to spans for a ``BatchSpanProcessor``,
which exports on its own thread. A slow or dead collector never slows or fails a request: full
queues drop (counted in ``dropped``, logged) and export errors are logged by the SDK.

Mapping:

* the root span is ``tether.<kind>`` (``tether.ask``) with the trace's attributes as ``tether.*``
  (the question is already redacted there), status, cost and token totals;
* ``model.call`` spans follow the GenAI semantic conventions: name ``chat <gen_ai.request.model>``,
  kind CLIENT, ``gen_ai.operation.name``, ``gen_ai.provider.name`` (and the older
  ``gen_ai.system``), ``gen_ai.request.model``, ``gen_ai.response.model``,
  ``gen_ai.usage.input_tokens`` / ``output_tokens``, ``gen_ai.response.finish_reasons``;
* other spans keep their names, their attributes prefixed ``tether.`` (``admin.*`` ones too: the
  collector is the operator's);
* zero-length leaf spans (``trace.event``: a fallback, a retry, a cache hit) become span events
  of their parent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tether.observe.stages import MODEL_CALL, STAGES
from tether.observe.trace import Span, Trace
from tether.settings import ObserveSettings

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: a base URL gets ``/v1/traces`` appended (as the OTel env vars do)."""
    endpoint = endpoint.strip()
    if endpoint.rstrip("/").endswith("/v1/traces"):
        return endpoint
    return endpoint.rstrip("/") + "/v1/traces"


def parse_headers(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` (the OTEL_EXPORTER_OTLP_HEADERS format) into a dict."""
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def attr_value(value: Any) -> Any:
    """An OpenTelemetry attribute value (primitives or homogeneous lists); None for nothing."""
    if value is None:
        return None
    if isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        items = list(value)
        if all(isinstance(v, str) for v in items):
            return items
        if all(isinstance(v, bool) for v in items):
            return items
        if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return items
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            return [float(v) for v in items]
    return json.dumps(value, default=str, ensure_ascii=False)


def _attrs(attrs: Mapping[str, Any], *, keep: tuple[str, ...] = ("tether.",)) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        v = attr_value(value)
        if v is None:
            continue
        name = key if key.startswith(keep) else f"tether.{key}"
        out[name] = v
    return out


def _ns(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tether")
    except PackageNotFoundError:
        return "0"


def _is_event(span: Span) -> bool:
    """A decision marked with ``trace.event`` (zero length, no children, not a stage)."""
    return span.duration_ms == 0.0 and not span.children and span.name not in STAGES


class OtelExporter:
    """A trace listener: ``exporter(trace)`` queues the finished trace; a thread converts and exports it."""

    def __init__(self, settings: ObserveSettings, secrets: Mapping[str, str] | None = None, *,
                 span_exporter: Any = None, schedule_delay_ms: float = 1000, max_queue: int = 2048) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

        class _TraceIds(RandomIdGenerator):
            """Root spans take the Tether trace's id (set under the exporter's lock)."""

            next_trace_id: int | None = None

            def generate_trace_id(self) -> int:
                if self.next_trace_id is not None:
                    return self.next_trace_id
                return super().generate_trace_id()

        if span_exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            headers = dict(settings.otlp_headers)
            if settings.otlp_headers_env and secrets is not None:
                headers.update(parse_headers(secrets.get(settings.otlp_headers_env, "")))
            span_exporter = OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint), headers=headers or None,
                                             timeout=settings.otlp_timeout_s)
        version = _version()
        self._ids = _TraceIds()
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name, "service.version": version}),
            id_generator=self._ids, shutdown_on_exit=False,
        )
        self.processor = BatchSpanProcessor(span_exporter, schedule_delay_millis=schedule_delay_ms,
                                            export_timeout_millis=settings.otlp_timeout_s * 1000)
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("tether", version)
        self._lock = threading.Lock()
        self._closed = False
        self.dropped = 0
        self._queue: queue.Queue[Trace | None] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="tether-otel-convert", daemon=True)
        self._thread.start()

    def __call__(self, trace: Trace) -> None:
        """The trace listener: queue the finished trace (never blocks, never raises)."""
        if self._closed or not trace.enabled or not trace.id:
            return
        try:
            self._queue.put_nowait(trace)
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("OpenTelemetry export queue full: %d traces dropped", self.dropped)

    def _run(self) -> None:
        while True:
            trace = self._queue.get()
            try:
                if trace is None:
                    return
                self.export(trace)
            except Exception:  # noqa: BLE001 - one bad trace must not stop the exporter
                log.warning("could not export trace %s to OpenTelemetry", getattr(trace, "id", "?"), exc_info=True)
            finally:
                self._queue.task_done()

    def export(self, trace: Trace) -> None:
        """Convert one trace to spans now (in the caller's thread) and hand them to the processor."""
        if not trace.enabled or not trace.id:
            return
        from opentelemetry.context import Context

        base = _ns(trace.started_at)
        with self._lock:
            self._ids.next_trace_id = int(trace.id, 16)
            try:
                self._emit(trace.root, Context(), base, trace, root=True)
            finally:
                self._ids.next_trace_id = None

    def _emit(self, span: Span, context: Any, base: int, trace: Trace, *, root: bool = False) -> None:
        from opentelemetry import trace as otel
        from opentelemetry.trace import SpanKind, Status, StatusCode

        start = base + int(span.start_ms * 1_000_000)
        end = start + int(max(span.duration_ms, 0.0) * 1_000_000)
        kind = SpanKind.INTERNAL
        if root:
            name = f"tether.{trace.kind}"
            attributes = _attrs(trace.attrs)
            attributes.update({
                "tether.trace.id": trace.id, "tether.trace.status": trace.status, "tether.kind": trace.kind,
                "tether.cost_usd": round(trace.cost_usd, 8), "tether.usage.input_tokens": trace.input_tokens,
                "tether.usage.output_tokens": trace.output_tokens, "tether.model_calls": len(trace.calls),
            })
            if trace.principal_id is not None:
                attributes["tether.principal.id"] = trace.principal_id
            if trace.principal_name:
                attributes["tether.principal.name"] = trace.principal_name
            if trace.api_key_id is not None:
                attributes["tether.api_key.id"] = trace.api_key_id
            attributes.update({k: v for k, v in _attrs(span.attrs).items() if k not in attributes})
        elif span.name == MODEL_CALL or any(k.startswith("gen_ai.") for k in span.attrs):
            kind = SpanKind.CLIENT
            attributes = _attrs(span.attrs, keep=("gen_ai.", "tether."))
            operation = str(attributes.setdefault("gen_ai.operation.name", "chat"))
            provider = attributes.get("gen_ai.provider.name") or attributes.get("gen_ai.system")
            if provider:
                attributes.setdefault("gen_ai.provider.name", provider)
                attributes.setdefault("gen_ai.system", provider)
            model = attributes.get("gen_ai.request.model") or attributes.get("tether.model") or ""
            name = f"{operation} {model}".strip()
        else:
            name = span.name
            attributes = _attrs(span.attrs)
        otel_span = self.tracer.start_span(name, context=context, kind=kind, attributes=attributes, start_time=start)
        child_context = otel.set_span_in_context(otel_span, context)
        for child in span.children:
            if _is_event(child):
                otel_span.add_event(child.name, attributes=_attrs(child.attrs, keep=("gen_ai.", "tether.")),
                                    timestamp=base + int(child.start_ms * 1_000_000))
            else:
                self._emit(child, child_context, base, trace)
        failed = span.status == "error" or (root and trace.status == "error")
        if failed:
            reason = span.attrs.get("error.code") or span.attrs.get("error") or trace.status
            otel_span.set_status(Status(StatusCode.ERROR, str(reason)))
            if "error" in span.attrs:
                otel_span.set_attribute("error.type", str(span.attrs["error"]))
        otel_span.end(end_time=max(end, start))

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued trace is converted and the processor has exported its spans."""
        import time

        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        left = max(deadline - time.monotonic(), 0.1)
        return not self._queue.unfinished_tasks and bool(self.processor.force_flush(int(left * 1000)))

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Convert and export what is queued (up to ``timeout_s`` plus the export timeout), then stop."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)
        self._thread.join(timeout=timeout_s)
        try:
            self.provider.shutdown()
        except Exception:  # noqa: BLE001
            log.warning("OpenTelemetry exporter did not shut down cleanly", exc_info=True)


def install(engine: Any, settings: ObserveSettings | None = None) -> OtelExporter | None:
    """Add an exporter to ``engine.trace_listeners`` when an endpoint is configured; None otherwise
    (also when the ``otel`` extra is not installed: a warning, never an error)."""
    from tether.observe import hooks

    cfg = settings or engine.settings.observe
    if not cfg.otlp_endpoint:
        return None
    try:
        exporter = OtelExporter(cfg, getattr(engine, "secrets", None))
    except ImportError:
        log.warning("observe.otlp_endpoint is set but OpenTelemetry is not installed: pip install 'tether[otel]'")
        return None
    hooks.listeners(engine).append(exporter)
    log.info("exporting traces to %s", traces_url(cfg.otlp_endpoint))
    return exporter


def uninstall(engine: Any, exporter: OtelExporter | None) -> None:
    if exporter is None:
        return
    from tether.observe import hooks

    hooks.remove(engine, exporter)
    exporter.shutdown()
