"""The server's observability wiring: the Prometheus trace listener, the OpenTelemetry exporter
(when ``observe.otlp_endpoint`` is set) and the periodic retention purge + drift monitors.

``start`` is called from the app's lifespan once the engine exists, ``stop`` on shutdown (it
removes the listeners again: tests hand one engine to several apps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tether.api.metrics import Metrics
from tether.observe import hooks, otel
from tether.observe.maintenance import Maintenance


@dataclass
class Observability:
    engine: Any
    listener: Any
    exporter: otel.OtelExporter | None
    maintenance: Maintenance


def start(engine: Any, metrics: Metrics, *, maintenance: bool = True) -> Observability:
    metrics.bind(engine)
    listener = hooks.add(engine, metrics.observe_trace, "prometheus")
    exporter = otel.install(engine)

    def alerted(alert: dict) -> None:
        metrics.drift_alerts.labels(alert["metric"]).inc()

    jobs = Maintenance(engine, on_alert=alerted)
    if maintenance:
        jobs.start()
    return Observability(engine, listener, exporter, jobs)


def stop(obs: Observability) -> None:
    obs.maintenance.stop()
    hooks.remove(obs.engine, obs.listener)
    otel.uninstall(obs.engine, obs.exporter)
