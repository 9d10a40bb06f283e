"""`tether traces list|show|purge` and `tether monitor [ack]` as a user runs them (subprocesses),
plus `tether ask` exporting its trace to a real OTLP receiver when an endpoint is configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from otlp_receiver import OtlpReceiver
from sample_traces import ask_trace, at

from tether.observe import store as obs_store
from tether.store import principals


@pytest.fixture
def run(settings):
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}

    def _run(*args: str, code: int = 0, extra_env: dict | None = None):
        proc = subprocess.run([sys.executable, "-m", "tether.cli.main", *args], env={**env, **(extra_env or {})},
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == code, proc.stderr + proc.stdout
        if "--json" in args:
            lines = proc.stdout.strip().splitlines()
            assert len(lines) == 1, proc.stdout
            return json.loads(lines[0])
        return proc.stdout

    return _run


@pytest.fixture
def people(db):
    with db.transaction() as conn:
        ids = {n: principals.ensure_user(conn, n, role="admin" if n == "root" else "member")
               for n in ("root", "ana", "eve")}
    return {n: (i if isinstance(i, int) else i["id"]) for n, i in ids.items()}


def test_list_show_purge(run, db, people):
    ana_t = ask_trace(principal_id=people["ana"], principal_name="ana")
    eve_t = ask_trace(principal_id=people["eve"], principal_name="eve", status="abstained")
    old = ask_trace(principal_id=people["eve"], principal_name="eve")
    with db.transaction() as conn:
        for t in (ana_t, eve_t, old):
            obs_store.save(conn, t, question=t.attrs["question"], model="cheap")
        conn.execute("UPDATE traces SET started_at = now() - interval '40 days' WHERE id = %s", (old.id,))

    everything = run("traces", "list", "--json")
    assert {t["id"] for t in everything["traces"]} == {ana_t.id, eve_t.id, old.id}
    assert [t["id"] for t in run("traces", "list", "--as", "ana", "--json")["traces"]] == [ana_t.id]
    assert [t["id"] for t in run("traces", "list", "--principal", "eve", "--status", "abstained", "--json")["traces"]] \
        == [eve_t.id]
    assert len(run("traces", "list", "--limit", "1", "--json")["traces"]) == 1
    assert ana_t.id in run("traces", "list")

    # someone else's trace: not found (exit 2, one JSON error)
    err = run("traces", "show", ana_t.id, "--as", "eve", "--json", code=2)
    assert err["error"]["code"] == "not_found"
    mine = run("traces", "show", ana_t.id, "--as", "ana", "--json")
    assert mine["id"] == ana_t.id and "admin." not in json.dumps(mine["root"])
    assert "admin.acl_filtered" in json.dumps(run("traces", "show", ana_t.id, "--json")["root"])

    text = run("traces", "show", ana_t.id)
    for needle in ("input_guard", "retrieve.keyword", "model.call", "gen_ai.request.model=qwen-mini",
                   "verdict=allow", "grounding", "sentence 1: unsupported", "model calls", "admin.acl_filtered"):
        assert needle in text, needle
    assert "admin." not in run("traces", "show", ana_t.id, "--as", "ana")

    assert run("traces", "purge", "--older-than-days", "30", "--json") == {"deleted": 1, "older_than_days": 30.0}
    assert {t["id"] for t in run("traces", "list", "--json")["traces"]} == {ana_t.id, eve_t.id}


def test_monitor_raises_dedupes_and_acks(run, db, people):
    with db.transaction() as conn:
        for i in range(25):
            obs_store.save(conn, ask_trace(started_at=at(5 + i), duration_ms=150))
        for i in range(25):
            obs_store.save(conn, ask_trace(started_at=at(0.02 * (i + 1)), duration_ms=1500, cost=0.01))
    report = run("monitor", "--json")
    raised = {a["metric"] for a in report["raised"]}
    assert raised == {"latency_p50_ms", "latency_p95_ms", "cost_per_request_usd"}
    assert run("monitor", "--json")["raised"] == []
    assert "open alerts" in run("monitor")
    dry = run("monitor", "--no-alert", "--json")
    assert dry["raised"] == [] and len(dry["open"]) == 3
    first = report["raised"][0]
    err = run("monitor", "ack", str(first["id"]), "--as", "ana", "--json", code=2)
    assert err["error"]["code"] in ("permission_denied", "forbidden")
    acked = run("monitor", "ack", str(first["id"]), "--as", "root", "--json")
    assert acked["acknowledged_by"] == people["root"]
    assert run("monitor", "ack", "424242", "--json", code=2)["error"]["code"] == "not_found"
    assert [a["metric"] for a in run("monitor", "--json")["raised"]] == [first["metric"]]


def test_ask_exports_its_trace_over_otlp(run, settings, tmp_path):
    from api.server import seed

    from tether.engine import Tether

    engine = Tether(settings)
    try:
        seed(engine, tmp_path / "docs")
    finally:
        engine.close()
    with OtlpReceiver() as rx:
        out = run("ask", "How many days of annual leave do employees accrue?", "--as", "eve", "--json",
                  extra_env={"TETHER_OBSERVE__OTLP_ENDPOINT": rx.url})
        spans = rx.wait_for(5, timeout=10)
    assert out["trace_id"] and {s.trace_id.hex() for _, s in spans} == {out["trace_id"]}
    names = {s.name for _, s in spans}
    assert {"tether.ask", "retrieve", "retrieve.keyword", "ground", "chat extractive"} <= names
