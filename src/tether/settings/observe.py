"""``[observe]``: traces, their OpenTelemetry export and retention, and the drift monitors."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DriftRule(BaseModel):
    """When a monitored figure counts as drifted: its change in the bad direction (current window
    vs baseline) exceeds every threshold that is set (> 0): ``absolute`` in the figure's own unit,
    ``relative`` as a share of the baseline (0.5 = 50% worse)."""

    absolute: float = 0.0
    relative: float = 0.0


def _default_drift_rules() -> dict[str, DriftRule]:
    return {
        "top_score": DriftRule(absolute=0.1),
        "abstention_rate": DriftRule(absolute=0.15),
        "groundedness_rate": DriftRule(absolute=0.1),
        "block_rate": DriftRule(absolute=0.1),
        "latency_p50_ms": DriftRule(relative=0.5, absolute=50),
        "latency_p95_ms": DriftRule(relative=0.5, absolute=100),
        "cost_per_request_usd": DriftRule(relative=0.5, absolute=0.0001),
    }


class ObserveSettings(BaseModel):
    """Traces, their export (OpenTelemetry) and retention, and the drift monitors."""

    #: Record a trace per request (off: a NullTrace, nothing stored or exported).
    tracing: bool = True
    #: Redact PII from the question text kept in traces.
    redact_traces: bool = True
    #: OTLP/HTTP endpoint (a collector's base URL, or the full .../v1/traces URL); empty = no export.
    otlp_endpoint: str = ""
    otlp_headers: dict[str, str] = Field(default_factory=dict)
    #: Name of an environment variable holding extra headers as ``k=v,k2=v2`` (e.g. an auth token).
    otlp_headers_env: str = ""
    otlp_timeout_s: float = 10.0
    service_name: str = "tether"
    trace_retention_days: float = 30
    #: How often the server purges old traces and evaluates the drift monitors (0 = never).
    purge_interval_s: float = 3600
    drift_interval_s: float = 300
    #: The current window (hours) compared with the baseline window before it (days).
    drift_window_hours: float = 1
    drift_baseline_days: float = 7
    #: Fewer requests than this in either window: no verdict.
    drift_min_samples: int = 20
    drift_rules: dict[str, DriftRule] = Field(default_factory=_default_drift_rules)
