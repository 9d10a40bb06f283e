"""Traces and metrics over HTTP on a real server: who sees which trace, admin-only attributes,
Prometheus figures fed by real asks and by traces handed to the listeners, drift alerts."""

from __future__ import annotations

import re

import httpx
import pytest
from api.server import live_server
from sample_traces import ask_trace, at

from tether.observe import store as obs_store
from tether.observe.maintenance import check_drift

QUESTION = "How many days of annual leave do employees accrue?"


@pytest.fixture(scope="module")
def live(pg_server, template_db, tmp_path_factory):
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("traces")) as pair:
        yield pair


def _client(live, user):
    server, keys = live
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys[user]}"}, timeout=60)


def _app(live):
    return live[0].server.config.app


def _metric(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r"^([a-zA-Z_:]+)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(4))
    return total


@pytest.fixture(scope="module")
def asked(live):
    ids = {}
    for user in ("ana", "eve"):
        with _client(live, user) as c:
            r = c.post("/v1/ask", json={"question": QUESTION})
            assert r.status_code == 200, r.text
            ids[user] = r.json()["trace_id"]
    assert all(ids.values())
    return ids


def test_own_traces_only_and_admin_sees_all(live, asked):
    with _client(live, "ana") as ana, _client(live, "eve") as eve, _client(live, "root") as root:
        mine = ana.get("/v1/traces").json()["traces"]
        assert [t["id"] for t in mine] == [asked["ana"]]
        assert mine[0]["principal"] == "ana" and mine[0]["status"] == "answered"
        # a non-admin's principal filter cannot widen the view
        assert [t["id"] for t in ana.get("/v1/traces", params={"principal": "eve"}).json()["traces"]] == [asked["ana"]]
        every = {t["id"] for t in root.get("/v1/traces").json()["traces"]}
        assert {asked["ana"], asked["eve"]} <= every
        only_eve = root.get("/v1/traces", params={"principal": "eve", "status": "answered"}).json()["traces"]
        assert [t["id"] for t in only_eve] == [asked["eve"]]
        assert root.get("/v1/traces", params={"status": "blocked"}).json()["traces"] == []

        # someone else's trace does not exist for eve; an unknown id neither (same answer)
        other = eve.get(f"/v1/traces/{asked['ana']}")
        unknown = eve.get("/v1/traces/" + "0" * 32)
        assert other.status_code == unknown.status_code == 404
        assert other.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
        assert ana.get("/v1/traces").status_code == 200
        assert httpx.get(f"{live[0].url}/v1/traces").status_code == 401

        own = eve.get(f"/v1/traces/{asked['eve']}").json()
        full = root.get(f"/v1/traces/{asked['eve']}").json()
    assert own["id"] == asked["eve"] and own["root"]["children"] and own["calls"]

    def keys(node):
        yield from node["attrs"]
        for c in node["children"]:
            yield from keys(c)

    assert not [k for k in keys(own["root"]) if k.startswith("admin.")]
    assert not [k for k in own["attrs"] if k.startswith("admin.")]
    assert "admin.permission_filtered" in set(keys(full["root"]))


def test_prometheus_figures_from_traces_and_the_store(live, asked):
    engine = _app(live).state.engine
    for listener in list(engine.trace_listeners):
        listener(ask_trace(status="blocked", blocked_stage="input_guard"))
        listener(ask_trace(fallback=True, cache_hit=True, model="paid", cost=0.002))
    with _client(live, "root") as root:  # /metrics is for administrators (or the metrics token)
        text = root.get("/metrics").text
    assert _metric(text, "tether_requests_total", kind="ask", status="answered") >= 3
    assert _metric(text, "tether_requests_total", kind="ask", status="blocked") == 1
    for stage in ("input_guard", "retrieve.keyword", "retrieve.dense", "model.call", "ground", "output_guard"):
        assert _metric(text, "tether_stage_duration_seconds_count", stage=stage) >= 2, stage
    assert _metric(text, "tether_stage_duration_seconds_count", stage="other") == 0
    assert _metric(text, "tether_model_tokens_total", direction="input", kind="generate") > 0
    assert _metric(text, "tether_model_tokens_total", model="paid", direction="output") == 30
    assert _metric(text, "tether_model_cost_usd_total", model="paid") == pytest.approx(0.002)
    assert _metric(text, "tether_blocks_total", stage="input_guard") == 1
    assert _metric(text, "tether_fallbacks_total", kind="fallback") == 1
    assert _metric(text, "tether_cache_requests_total", result="hit") == 1
    assert _metric(text, "tether_request_duration_seconds_count", kind="ask") >= 4
    # read from PostgreSQL at scrape time: the seed ingested two documents
    assert _metric(text, "tether_job_queue_depth", status="queued") == 0
    assert _metric(text, "tether_ingest_documents_total", outcome="created") == 2
    assert _metric(text, "tether_ingest_chunks_total") >= 2


def test_monitor_and_alerts_are_for_admins(live, asked):
    app = _app(live)
    engine = app.state.engine
    with engine.db.transaction() as conn:
        for i in range(25):
            obs_store.save(conn, ask_trace(started_at=at(30 + i), duration_ms=100))
        for i in range(25):
            obs_store.save(conn, ask_trace(started_at=at(0.02 * (i + 1)), duration_ms=2000))
    # what the server's periodic task runs (with the callback that counts alerts in Prometheus)
    report = check_drift(engine, app.state.observability.maintenance.on_alert)
    raised = {a["metric"]: a for a in report["raised"]}
    assert "latency_p95_ms" in raised
    with _client(live, "ana") as ana, _client(live, "root") as root:
        assert ana.get("/v1/monitor").status_code == 403
        assert ana.post(f"/v1/alerts/{raised['latency_p95_ms']['id']}/ack").status_code == 403
        mon = root.get("/v1/monitor").json()
        assert {f["metric"] for f in mon["figures"]} >= {"latency_p95_ms", "abstention_rate"}
        assert any(a["metric"] == "latency_p95_ms" for a in mon["open"]) and len(mon["hourly"]) == 24
        acked = root.post(f"/v1/alerts/{raised['latency_p95_ms']['id']}/ack").json()
        assert acked["acknowledged_at"] and acked["acknowledged_by"]
        assert root.post("/v1/alerts/999999/ack").status_code == 404
        still_open = root.get("/v1/alerts", params={"open": True}).json()["alerts"]
        assert all(a["metric"] != "latency_p95_ms" for a in still_open)
        text = root.get("/metrics").text
    assert _metric(text, "tether_drift_alerts_total", monitor="latency_p95_ms") == 1


def test_trace_and_monitor_pages(live, asked):
    engine = _app(live).state.engine
    with engine.db.transaction() as conn:
        t = ask_trace(principal_id=engine.principal("ana").id, principal_name="ana", fallback=True)
        obs_store.save(conn, t, question=t.attrs["question"], model="cheap")
    with _client(live, "ana") as ana, _client(live, "root") as root:
        page = ana.get("/ui/traces")
        assert page.status_code == 200 and asked["ana"] in page.text and asked["eve"] not in page.text
        assert ana.get(f"/ui/traces/{asked['eve']}").status_code == 404
        detail = ana.get(f"/ui/traces/{t.id}")
        assert detail.status_code == 200
        for needle in ('data-span="retrieve.keyword"', 'data-span="model.call"', 'class="wf-bar', "wf-event",
                       "Grounding, sentence by sentence", "unsupported", "Model calls", "$0.000900"):
            assert needle in detail.text, needle
        assert "admin.acl_filtered" not in detail.text
        assert "admin.acl_filtered" in root.get(f"/ui/traces/{t.id}").text
        assert ana.get("/ui/monitor").status_code == 404
        mon = root.get("/ui/monitor")
        assert mon.status_code == 200 and mon.text.count("<svg") == 4 and "<circle" in mon.text
        assert 'href="/ui/monitor"' in mon.text and 'href="/ui/monitor"' not in ana.get("/ui/traces").text
        if "Acknowledge" in mon.text:  # open alerts from the drift test
            alert_id = int(re.search(r"/ui/monitor/alerts/(\d+)/ack", mon.text).group(1))
            r = root.post(f"/ui/monitor/alerts/{alert_id}/ack", follow_redirects=False)
            assert r.status_code == 303
