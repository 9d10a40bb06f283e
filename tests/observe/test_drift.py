"""Drift monitors over traces inserted at controlled timestamps: a breach raises exactly one
alert (deduplicated until acknowledged), small windows raise none, hourly series for charts."""

from __future__ import annotations

import logging

import pytest
from sample_traces import ask_trace, at

from tether.errors import NotFound
from tether.observe import drift
from tether.observe import store as obs_store
from tether.settings import DriftRule, ObserveSettings


def _save(db, traces) -> None:
    with db.transaction() as conn:
        for t in traces:
            obs_store.save(conn, t, question=t.attrs.get("question", ""), model="cheap")


def _baseline(n=30, **kw):
    # spread over the 7 days before the current hour
    return [ask_trace(started_at=at(2 + i * 5), duration_ms=200 + (i % 5) * 10, **kw) for i in range(n)]


def _current(n=25, **kw):
    return [ask_trace(started_at=at(0.01 + i * 0.03), **kw) for i in range(n)]


def _by_metric(report) -> dict:
    return {f["metric"]: f for f in report["figures"]}


def test_latency_breach_raises_one_alert_then_dedupes_until_acknowledged(db, caplog):
    _save(db, _baseline() + _current(duration_ms=900))
    cfg = ObserveSettings()
    seen = []
    with caplog.at_level(logging.WARNING, logger="tether.observe.drift"), db.connection() as conn:
        report = drift.check(conn, cfg, on_alert=seen.append)
    figs = _by_metric(report)
    assert figs["latency_p50_ms"]["status"] == "drift" and figs["latency_p95_ms"]["status"] == "drift"
    assert figs["latency_p50_ms"]["current"] == pytest.approx(900)
    assert 200 <= figs["latency_p50_ms"]["baseline"] <= 240
    # nothing else moved
    for m in ("top_score", "abstention_rate", "groundedness_rate", "block_rate", "cost_per_request_usd"):
        assert figs[m]["status"] == "ok", m
    assert {a["metric"] for a in report["raised"]} == {"latency_p50_ms", "latency_p95_ms"}
    assert [a["metric"] for a in seen] == [a["metric"] for a in report["raised"]]
    assert sum("drift alert" in r.message for r in caplog.records if r.levelno == logging.WARNING) == 2
    p50 = next(a for a in report["raised"] if a["metric"] == "latency_p50_ms")
    assert p50["current_value"] == pytest.approx(900) and p50["threshold"] > p50["baseline_value"]
    assert p50["samples"] == 25 and p50["baseline_samples"] == 30 and p50["monitor"] == "drift.latency_p50_ms"

    # again: still drifting, but an alert is open for each monitor: no new ones
    with db.connection() as conn:
        again = drift.check(conn, cfg, on_alert=seen.append)
        assert again["raised"] == [] and len(again["open"]) == 2 and len(seen) == 2
        assert _by_metric(again)["latency_p50_ms"]["alert_id"] == p50["id"]
        assert conn.execute("SELECT count(*) AS n FROM alerts").fetchone()["n"] == 2
    # acknowledged: the next breach raises a new alert
    with db.transaction() as conn:
        acked = drift.acknowledge(conn, p50["id"], None)
        assert acked["acknowledged_at"] is not None
        with pytest.raises(NotFound):
            drift.acknowledge(conn, 999_999, None)
    with db.connection() as conn:
        third = drift.check(conn, cfg)
        assert [a["metric"] for a in third["raised"]] == ["latency_p50_ms"]
        assert len(drift.list_alerts(conn)) == 3 and len(drift.list_alerts(conn, open_only=True)) == 2


def test_no_alert_below_the_minimum_sample_size(db):
    _save(db, _baseline() + _current(n=5, duration_ms=5000, status="abstained"))
    with db.connection() as conn:
        report = drift.check(conn, ObserveSettings(drift_min_samples=20))
        assert report["raised"] == [] and report["open"] == []
        figs = _by_metric(report)
        assert figs["latency_p95_ms"]["status"] == "insufficient" and figs["latency_p95_ms"]["samples"] == 5
        # the same data with a lower minimum does drift
        low = drift.check(conn, ObserveSettings(drift_min_samples=5))
        assert {"latency_p50_ms", "abstention_rate"} <= {a["metric"] for a in low["raised"]}


def test_quality_monitors_abstention_groundedness_score_and_blocks(db):
    current = (_current(n=12, status="abstained", top_score=0.3) + _current(n=10, top_score=0.35)
               + _current(n=8, status="blocked", blocked_stage="input_guard"))
    for t in current[12:22]:
        t.attrs["grounded"] = False
    _save(db, _baseline() + current)
    with db.connection() as conn:
        figs = _by_metric(drift.check(conn, ObserveSettings()))
    assert figs["abstention_rate"]["status"] == "drift" and figs["abstention_rate"]["current"] == pytest.approx(12 / 22)
    assert figs["groundedness_rate"]["status"] == "insufficient"  # only 10 answered in the window
    assert figs["top_score"]["status"] == "drift" and figs["top_score"]["baseline"] == pytest.approx(0.62)
    assert figs["block_rate"]["status"] == "drift" and figs["block_rate"]["current"] == pytest.approx(8 / 30)
    assert figs["latency_p50_ms"]["status"] == "ok"


def test_rules_thresholds():
    up = DriftRule(relative=0.5, absolute=50)
    assert drift.evaluate(up, "up", 320, 200) == (True, 300)  # +120: > 50 and > 100
    assert drift.evaluate(up, "up", 290, 200)[0] is False  # +90 is within 50% of 200
    assert drift.evaluate(up, "up", 40, 10)[0] is False  # +30 relative 300% but not > 50 ms
    down = DriftRule(absolute=0.1)
    assert drift.evaluate(down, "down", 0.45, 0.6) == (True, pytest.approx(0.5))
    assert drift.evaluate(down, "down", 0.9, 0.6)[0] is False
    assert drift.evaluate(DriftRule(), "up", 10, 1) == (False, None)


def test_hourly_series_for_charts(db):
    from datetime import timedelta

    now = at(0).replace(minute=30, second=0, microsecond=0)
    _save(db, [ask_trace(started_at=now - timedelta(minutes=10), duration_ms=100),
               ask_trace(started_at=now - timedelta(minutes=20), duration_ms=300),
               ask_trace(started_at=now - timedelta(hours=3), status="abstained", duration_ms=50)])
    with db.connection() as conn:
        rows = drift.hourly(conn, hours=24, now=now)
    assert len(rows) == 24 and [r["n"] for r in rows][-4:] == [1, 0, 0, 2]
    assert rows[-1]["hour"] == now.replace(minute=0).isoformat()
    assert rows[-1]["latency_p50_ms"] == pytest.approx(200) and rows[-1]["abstention_rate"] == 0
    assert rows[-4]["abstention_rate"] == 1.0
    assert all(r["latency_p95_ms"] is None for r in rows if r["n"] == 0)


def test_purge_drops_old_traces_and_keeps_the_usage_ledger(db):
    old, new = ask_trace(), ask_trace()
    _save(db, [old, new])
    with db.transaction() as conn:
        conn.execute("UPDATE traces SET started_at = now() - interval '40 days' WHERE id = %s", (old.id,))
        assert obs_store.purge(conn, older_than_days=30) == 1
        ids = [r["id"] for r in conn.execute("SELECT id FROM traces").fetchall()]
        assert ids == [new.id]
        assert conn.execute("SELECT count(*) AS n FROM usage_events WHERE trace_id = %s",
                            (old.id,)).fetchone()["n"] == 2


def test_periodic_task_purges_and_checks(db, settings):
    import time
    from types import SimpleNamespace

    from tether.observe.maintenance import Maintenance

    old = ask_trace()
    _save(db, [old] + _baseline() + _current(duration_ms=900))
    with db.transaction() as conn:
        conn.execute("UPDATE traces SET started_at = now() - interval '90 days' WHERE id = %s", (old.id,))
    settings.observe.purge_interval_s = 0.1
    settings.observe.drift_interval_s = 0.1
    alerts = []
    jobs = Maintenance(SimpleNamespace(settings=settings, db=db), on_alert=alerts.append, first_delay_s=0).start()
    try:
        deadline = time.time() + 20
        while time.time() < deadline and (jobs.runs["purge"] < 2 or jobs.runs["drift"] < 2):
            time.sleep(0.05)
    finally:
        jobs.stop()
    assert jobs.runs["purge"] >= 2 and jobs.runs["drift"] >= 2
    assert sorted(a["metric"] for a in alerts) == ["latency_p50_ms", "latency_p95_ms"]  # once each
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM traces WHERE id = %s", (old.id,)).fetchone()["n"] == 0
