"""Prometheus metrics, one registry per app (tests build many apps in one process).

Routes are labelled by their template (``/v1/documents/{doc_id}``), never the raw path, so
the number of series stays bounded.

Request traces feed the rest (``Metrics.observe_trace`` is a trace listener the app adds to
``engine.trace_listeners``): per-stage latency (stage = span name, from a fixed set), tokens and
cost by model, abstentions, blocks by guard stage, fallbacks, retries, cache hits and misses,
requests by status. Job-queue depth and ingest totals are read from PostgreSQL when scraped
(cached for a few seconds, so frequent scrapes cost one query per interval).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.observe.stages import GUARD_STAGES, MODEL_CALL, STAGES, stage_label, status_label
from tether.observe.trace import Trace

log = logging.getLogger(__name__)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("tether_http_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("tether_http_request_duration_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.asks = Counter("tether_asks_total", "Questions answered", ["endpoint"], registry=self.registry)
        self.abstentions = Counter("tether_abstentions_total", "Questions the system abstained on",
                                   ["endpoint"], registry=self.registry)
        self.ingest_jobs = Counter("tether_ingest_jobs_enqueued_total", "Ingest jobs enqueued through the API",
                                   ["kind"], registry=self.registry)
        # from request traces (observe_trace)
        r = self.registry
        self.trace_requests = Counter("tether_requests_total", "Traced requests by kind and outcome",
                                      ["kind", "status"], registry=r)
        self.request_duration = Histogram("tether_request_duration_seconds", "Traced request latency, end to end",
                                          ["kind"], registry=r, buckets=_BUCKETS)
        self.stage_duration = Histogram("tether_stage_duration_seconds", "Latency of each stage of a request",
                                        ["stage"], registry=r, buckets=_BUCKETS)
        self.tokens = Counter("tether_model_tokens_total", "Model tokens by model and direction (input|output)",
                              ["model", "kind", "direction"], registry=r)
        self.cost = Counter("tether_model_cost_usd_total", "Model cost in USD by model", ["model"], registry=r)
        self.model_calls = Counter("tether_model_calls_total", "Model calls by model, kind and outcome",
                                   ["model", "kind", "outcome"], registry=r)
        self.trace_abstentions = Counter("tether_abstained_total", "Requests answered with an abstention",
                                         ["kind"], registry=r)
        self.blocks = Counter("tether_blocks_total", "Requests a guard blocked or withheld, by stage", ["stage"],
                              registry=r)
        self.fallbacks = Counter("tether_fallbacks_total", "Model fallbacks and cascade escalations", ["kind"],
                                 registry=r)
        self.retries = Counter("tether_retries_total", "Model call retries", registry=r)
        self.breaker = Counter("tether_breaker_transitions_total", "Circuit breaker transitions by state",
                               ["state"], registry=r)
        self.cache = Counter("tether_cache_requests_total", "Answer cache lookups by result (hit|miss)",
                             ["result"], registry=r)
        self.drift_alerts = Counter("tether_drift_alerts_total", "Drift alerts raised, by monitor", ["monitor"],
                                    registry=r)
        for stage in STAGES:  # every stage's series exists from the start (dashboards, rate())
            self.stage_duration.labels(stage)
        self.store = StoreCollector()
        r.register(self.store)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def record_answer(self, endpoint: str, abstained: bool) -> None:
        self.asks.labels(endpoint).inc()
        if abstained:
            self.abstentions.labels(endpoint).inc()

    def bind(self, engine: Any) -> None:
        """Read queue depth and ingest totals from this engine's database at scrape time."""
        self.store.engine = engine

    def observe_trace(self, trace: Trace) -> None:
        """Trace listener: count one finished request."""
        kind = trace.kind if trace.kind in ("ask", "stream", "chat") else "other"
        status = status_label(trace.status)
        self.trace_requests.labels(kind, status).inc()
        self.request_duration.labels(kind).observe(max(trace.duration_ms, 0.0) / 1000)
        for call in trace.calls:
            self.tokens.labels(call.model, call.kind, "input").inc(max(call.input_tokens, 0))
            self.tokens.labels(call.model, call.kind, "output").inc(max(call.output_tokens, 0))
            if call.cost_usd > 0:
                self.cost.labels(call.model).inc(call.cost_usd)
            self.model_calls.labels(call.model, call.kind, "ok" if call.ok else "error").inc()
        if status in ("abstained", "escalated") or (status == "answered" and trace.attrs.get("abstained") is True):
            self.trace_abstentions.labels(kind).inc()
        blocked: set[str] = set()
        if status == "blocked" or trace.attrs.get("blocked") is True:
            stage = trace.attrs.get("blocked.stage")
            blocked.add(stage if stage in GUARD_STAGES else "input_guard")
        if status == "refused":
            blocked.add("budget")
        for span in trace.root.walk():
            name = span.name
            if span is not trace.root and (span.duration_ms > 0 or name in STAGES):
                self.stage_duration.labels(stage_label(name)).observe(max(span.duration_ms, 0.0) / 1000)
            if (name in GUARD_STAGES and span.attrs.get("verdict") == "block") or (
                    name == "context_guard" and span.attrs.get("dropped")):
                blocked.add(name)
            elif name == "cache" or name.startswith("cache."):
                result = _cache_result(span.attrs, name)
                if result:
                    self.cache.labels(result).inc()
            elif "fallback" in name or name == "route.escalate":
                self.fallbacks.labels("escalate" if name == "route.escalate" else "fallback").inc()
            elif name in ("breaker.open", "breaker.close"):
                self.breaker.labels(name.split(".", 1)[1]).inc()
            elif "retry" in name and name != MODEL_CALL:
                self.retries.inc(int(span.attrs.get("count", 1)) if isinstance(span.attrs.get("count"), int) else 1)
        cache = trace.attrs.get("cache")
        if cache in ("hit", "miss") and not any(s.name == "cache" or s.name.startswith("cache.")
                                                for s in trace.root.walk()):
            self.cache.labels(cache).inc()
        for stage in blocked:
            self.blocks.labels(stage).inc()


_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def _cache_result(attrs: dict, name: str) -> str | None:
    if name in ("cache.hit", "cache.miss"):
        return name.split(".", 1)[1]
    hit = attrs.get("hit")
    if isinstance(hit, bool):
        return "hit" if hit else "miss"
    result = attrs.get("result")
    return result if result in ("hit", "miss") else None


class StoreCollector(Collector):
    """Job-queue depth and ingest totals from PostgreSQL, read at scrape time (cached ``ttl_s``)."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.engine: Any = None
        self.ttl_s = ttl_s
        self._at = 0.0
        self._cached: list = []
        self._lock = threading.Lock()

    def collect(self):
        if self.engine is None:
            return []
        with self._lock:
            if time.monotonic() - self._at >= self.ttl_s:
                try:
                    self._cached = self._read()
                except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
                    log.warning("metrics: could not read the job queue: %s", exc)
                    self._cached = []
                self._at = time.monotonic()
            return list(self._cached)

    def describe(self):
        return []  # read lazily; nothing to check at registration

    def _read(self) -> list:
        queue, ingest = self.engine.operations.job_figures()
        depth = GaugeMetricFamily("tether_job_queue_depth", "Jobs waiting or running, by kind and status",
                                  labels=["kind", "status"])
        seen = set()
        for row in queue:
            depth.add_metric([row["kind"], row["status"]], row["n"])
            seen.add((row["kind"], row["status"]))
        for status in ("queued", "running"):
            if ("ingest_file", status) not in seen:
                depth.add_metric(["ingest_file", status], 0)
        docs = CounterMetricFamily("tether_ingest_documents", "Documents the ingest workers processed, by outcome",
                                   labels=["outcome"])
        chunks = CounterMetricFamily("tether_ingest_chunks", "Chunks written by the ingest workers")
        total_chunks = 0
        for row in ingest:
            docs.add_metric([row["outcome"]], row["n"])
            total_chunks += int(row["chunks"])
        chunks.add_metric([], total_chunks)
        return [depth, docs, chunks]


class MetricsMiddleware:
    """Counts every HTTP request and times it up to the end of its response body."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or ("/static" if scope["path"].startswith("/static/") else "unmatched")
            self.metrics.requests.labels(scope["method"], label, str(status["code"])).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - t0)
