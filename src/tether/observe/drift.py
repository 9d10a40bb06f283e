"""Drift monitors: figures of recent requests (from the ``traces`` table) against a baseline.

For the current window (``observe.drift_window_hours``, default the last hour) and the baseline
window before it (``observe.drift_baseline_days``, default the 7 days before), each figure is
computed in one SQL pass:

==========================  ====================================================  ==============
metric                      definition                                            worse when
==========================  ====================================================  ==============
``top_score``               mean best dense cosine of retrieval (attr             down
                            ``retrieval.top_score``)
``abstention_rate``         (abstained + escalated) / (those + answered)          up
``groundedness_rate``       answers with every shown sentence supported (attr     down
                            ``grounded``) / answered
``block_rate``              blocked / all requests                                up
``latency_p50_ms``,         percentiles of the request duration                   up
``latency_p95_ms``
``cost_per_request_usd``    mean cost of a request                                up
==========================  ====================================================  ==============

A figure drifts when its change in the bad direction exceeds every threshold its rule sets
(``observe.drift_rules``: ``absolute`` in the figure's unit, ``relative`` as a share of the
baseline) and both windows hold at least ``observe.drift_min_samples`` requests that count for
it. A drift inserts an alert (one open alert per monitor: while one is unacknowledged, no new
one), logs a WARNING and calls ``on_alert`` (the server counts it in Prometheus).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from tether.errors import NotFound
from tether.settings import DriftRule, ObserveSettings
from tether.store.rows import one

log = logging.getLogger(__name__)

#: metric -> (direction in which it gets worse, the requests it is computed over)
METRICS: dict[str, tuple[str, str]] = {
    "top_score": ("down", "with_score"),
    "abstention_rate": ("up", "decided"),
    "groundedness_rate": ("down", "answered"),
    "block_rate": ("up", "all"),
    "latency_p50_ms": ("up", "all"),
    "latency_p95_ms": ("up", "all"),
    "cost_per_request_usd": ("up", "all"),
}
_LOCK_KEY = 0x7E7E_0D81

_FIGURES_SQL = """
SELECT count(*) AS n_all,
       count(*) FILTER (WHERE status IN ('answered', 'abstained', 'escalated')) AS n_decided,
       count(*) FILTER (WHERE status = 'answered') AS n_answered,
       count(*) FILTER (WHERE jsonb_typeof(attrs->'retrieval.top_score') = 'number') AS n_with_score,
       avg((attrs->>'retrieval.top_score')::float8)
           FILTER (WHERE jsonb_typeof(attrs->'retrieval.top_score') = 'number') AS top_score,
       avg(CASE WHEN status IN ('abstained', 'escalated') THEN 1.0 ELSE 0.0 END)
           FILTER (WHERE status IN ('answered', 'abstained', 'escalated')) AS abstention_rate,
       avg(CASE WHEN attrs->>'grounded' = 'true' THEN 1.0 ELSE 0.0 END)
           FILTER (WHERE status = 'answered') AS groundedness_rate,
       avg(CASE WHEN status = 'blocked' THEN 1.0 ELSE 0.0 END) AS block_rate,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS latency_p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS latency_p95_ms,
       avg(cost_usd)::float8 AS cost_per_request_usd
  FROM traces
 WHERE started_at >= %s AND started_at < %s
"""


@dataclass
class Figure:
    metric: str
    direction: str
    current: float | None
    baseline: float | None
    samples: int
    baseline_samples: int
    threshold: float | None = None  # the limit the current value must not cross
    status: str = "ok"  # ok | drift | insufficient | unmonitored
    alert_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("current", "baseline", "threshold"):
            if d[k] is not None:
                d[k] = round(float(d[k]), 8)
        return d


def rules(cfg: ObserveSettings) -> dict[str, DriftRule]:
    from tether.settings.observe import _default_drift_rules

    return {**_default_drift_rules(), **cfg.drift_rules}


def windows(cfg: ObserveSettings, now: datetime | None = None) -> dict[str, datetime]:
    now = now or datetime.now(UTC)
    cur_start = now - timedelta(hours=cfg.drift_window_hours)
    return {"now": now, "current_start": cur_start,
            "baseline_start": cur_start - timedelta(days=cfg.drift_baseline_days)}


def _figures_row(conn: psycopg.Connection[DictRow], start: datetime, end: datetime) -> dict:
    return one(conn.execute(_FIGURES_SQL, (start, end)))


def evaluate(rule: DriftRule | None, direction: str, current: float | None,
             baseline: float | None) -> tuple[bool, float | None]:
    """(drifted?, the limit): worse than baseline by more than every threshold the rule sets."""
    if rule is None or current is None or baseline is None or (rule.absolute <= 0 and rule.relative <= 0):
        return False, None
    sign = 1.0 if direction == "up" else -1.0
    worse_by = (current - baseline) * sign
    allowed = max(rule.absolute if rule.absolute > 0 else 0.0,
                  rule.relative * abs(baseline) if rule.relative > 0 else 0.0)
    limit = baseline + sign * allowed
    if worse_by <= 0:
        return False, limit
    ok_abs = rule.absolute <= 0 or worse_by > rule.absolute
    ok_rel = rule.relative <= 0 or baseline == 0 or worse_by > rule.relative * abs(baseline)
    return ok_abs and ok_rel, limit


def figures(conn: psycopg.Connection[DictRow], cfg: ObserveSettings, now: datetime | None = None) -> list[Figure]:
    w = windows(cfg, now)
    cur = _figures_row(conn, w["current_start"], w["now"])
    base = _figures_row(conn, w["baseline_start"], w["current_start"])
    rs = rules(cfg)
    out = []
    for metric, (direction, population) in METRICS.items():
        n_cur, n_base = int(cur[f"n_{population}"]), int(base[f"n_{population}"])
        c = None if cur[metric] is None else float(cur[metric])
        b = None if base[metric] is None else float(base[metric])
        fig = Figure(metric, direction, c, b, n_cur, n_base)
        rule = rs.get(metric)
        drifted, fig.threshold = evaluate(rule, direction, c, b)
        if rule is None or (rule.absolute <= 0 and rule.relative <= 0):
            fig.status = "unmonitored"
        elif n_cur < cfg.drift_min_samples or n_base < cfg.drift_min_samples:
            fig.status = "insufficient"
        elif drifted:
            fig.status = "drift"
        out.append(fig)
    return out


def check(conn: psycopg.Connection[DictRow], cfg: ObserveSettings, *, now: datetime | None = None,
          on_alert: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Compute the figures; raise an alert for each drifted one without an open alert. Commits.

    Returns ``{"windows", "figures", "raised", "open"}``. Concurrent checkers (several server
    replicas) serialise on an advisory lock; the unique index keeps one open alert per monitor."""
    w = windows(cfg, now)
    raised: list[dict] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        figs = figures(conn, cfg, now)
        rs = rules(cfg)
        for fig in figs:
            if fig.status != "drift":
                continue
            rule = rs[fig.metric]
            message = (f"{fig.metric} drifted: {_fmt(fig.current)} in the last {cfg.drift_window_hours:g} h "
                       f"vs {_fmt(fig.baseline)} over the {cfg.drift_baseline_days:g} days before "
                       f"(limit {_fmt(fig.threshold)}; {fig.samples} vs {fig.baseline_samples} requests)")
            row = conn.execute(
                "INSERT INTO alerts (monitor, metric, window_hours, baseline_days, baseline_value, current_value,"
                " threshold, rule, samples, baseline_samples, message, created_at)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (monitor) WHERE acknowledged_at IS NULL DO NOTHING RETURNING *",
                (f"drift.{fig.metric}", fig.metric, cfg.drift_window_hours, cfg.drift_baseline_days, fig.baseline,
                 fig.current, fig.threshold, Jsonb({**rule.model_dump(), "direction": fig.direction}),
                 fig.samples, fig.baseline_samples, message, w["now"]),
            ).fetchone()
            if row is None:
                fig.alert_id = _open_id(conn, f"drift.{fig.metric}")
                continue
            fig.alert_id = row["id"]
            raised.append(_alert(row))
            log.warning("drift alert %s: %s", row["id"], message)
        open_ = list_alerts(conn, open_only=True)
    for alert in raised:
        if on_alert is not None:
            try:
                on_alert(alert)
            except Exception:  # noqa: BLE001
                log.warning("drift alert callback failed", exc_info=True)
    return {"windows": {k: v.isoformat() for k, v in w.items()}, "min_samples": cfg.drift_min_samples,
            "figures": [f.to_dict() for f in figs], "raised": raised, "open": open_}


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _open_id(conn: psycopg.Connection[DictRow], monitor: str) -> int | None:
    r = conn.execute("SELECT id FROM alerts WHERE monitor = %s AND acknowledged_at IS NULL", (monitor,)).fetchone()
    return None if r is None else int(r["id"])


def _alert(r: dict) -> dict:
    out = dict(r)
    for k in ("created_at", "acknowledged_at"):
        if out.get(k) is not None:
            out[k] = out[k].isoformat()
    return out


def list_alerts(conn: psycopg.Connection[DictRow], *, open_only: bool = False, limit: int = 100) -> list[dict]:
    sql = ("SELECT a.*, p.name AS acknowledged_by_name FROM alerts a"
           " LEFT JOIN principals p ON p.id = a.acknowledged_by")
    if open_only:
        sql += " WHERE a.acknowledged_at IS NULL"
    rows = conn.execute(sql + " ORDER BY a.created_at DESC, a.id DESC LIMIT %s", (limit,)).fetchall()
    return [_alert(r) for r in rows]


def acknowledge(conn: psycopg.Connection[DictRow], alert_id: int, principal_id: int | None) -> dict:
    row = conn.execute(
        "UPDATE alerts SET acknowledged_by = %s, acknowledged_at = now()"
        " WHERE id = %s AND acknowledged_at IS NULL RETURNING *", (principal_id, alert_id)).fetchone()
    if row is None:
        exists = conn.execute("SELECT 1 FROM alerts WHERE id = %s", (alert_id,)).fetchone()
        if exists is None:
            raise NotFound(f"no alert {alert_id}")
        row = one(conn.execute("SELECT * FROM alerts WHERE id = %s", (alert_id,)))
    return _alert(row)


def hourly(conn: psycopg.Connection[DictRow], *, hours: int = 24, now: datetime | None = None) -> list[dict]:
    """Per-hour figures over the last ``hours`` hours (for charts): every hour, empty ones too."""
    now = now or datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rows = conn.execute(
        "SELECT date_trunc('hour', started_at, 'UTC') AS hour, count(*) AS n,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS latency_p50_ms,"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS latency_p95_ms,"
        " avg(cost_usd)::float8 AS cost_per_request_usd,"
        " avg(CASE WHEN status IN ('abstained', 'escalated') THEN 1.0 ELSE 0.0 END)"
        "   FILTER (WHERE status IN ('answered', 'abstained', 'escalated'))::float8 AS abstention_rate"
        " FROM traces WHERE started_at >= %s AND started_at < %s GROUP BY 1 ORDER BY 1",
        (start, end)).fetchall()
    by_hour = {r["hour"].astimezone(UTC): r for r in rows}
    out = []
    for i in range(hours):
        h = start + timedelta(hours=i)
        r = by_hour.get(h)
        out.append({"hour": h.isoformat(), "n": int(r["n"]) if r else 0,
                    **{k: (None if r is None or r[k] is None else float(r[k]))
                       for k in ("latency_p50_ms", "latency_p95_ms", "cost_per_request_usd", "abstention_rate")}})
    return out
