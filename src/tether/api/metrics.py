"""Prometheus metrics, one registry per app (tests build many apps in one process).

Routes are labelled by their template (``/v1/documents/{doc_id}``), never the raw path, so
the number of series stays bounded.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def record_answer(self, endpoint: str, abstained: bool) -> None:
        self.asks.labels(endpoint).inc()
        if abstained:
            self.abstentions.labels(endpoint).inc()


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
