"""Budgets and usage end to end: engine.ask with a priced model (a real OpenAI-compatible HTTP
server) is refused once a hard budget is spent, soft budgets warn, the ledger equals the traces'
cost, `tether usage --json` agrees with the traces, and the HTTP API / UI page do their part."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from api.server import LiveServer, seed

from tether.engine import Tether
from tether.observe import store as obs_store
from tether.settings import ModelConfig
from tether.store import budgets
from tether.testing.fake_openai import FakeOpenAI

QUESTION = "How many days of annual leave do employees accrue?"


@pytest.fixture
def fake():
    with FakeOpenAI("quote") as f:
        yield f


@pytest.fixture
def engine(settings, tmp_path, fake):
    settings.generate.models["paid"] = ModelConfig(kind="openai", base_url=fake.base_url, model="m",
                                                   price_in_per_mtok=2.0, price_out_per_mtok=8.0)
    if hasattr(settings, "cache"):  # a cache hit calls no model (and costs nothing): ask for real every time
        settings.cache.enabled = False
    t = Tether(settings)
    t.keys = seed(t, tmp_path / "docs")
    yield t
    t.close()


def _span(trace: dict, name: str) -> dict:
    def walk(node):
        if node["name"] == name:
            return node
        for c in node["children"]:
            found = walk(c)
            if found:
                return found
        return None

    return walk(trace["root"])


def _trace(engine, trace_id: str) -> dict:
    with engine.db.connection() as conn:
        return obs_store.get(conn, trace_id, viewer_id=None, admin=True)


def _cli(settings, *args: str) -> dict:
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "tether.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    if "--json" not in args:
        return proc.stdout  # type: ignore[return-value]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


def test_hard_budget_refuses_once_spent_and_usage_matches_traces(engine, settings, fake):
    eve = engine.principal("eve")
    # no budget: the estimate is still computed and shown in the trace; one query decides "no budget"
    free = engine.ask(eve, QUESTION, model="paid")
    assert not free.answer.abstained and free.cost_usd > 0 and free.warnings == []
    span = _span(_trace(engine, free.trace_id), "budget")
    assert span["attrs"]["decision"] == "no_budget"
    estimate = span["attrs"]["estimate_usd"]
    assert estimate >= free.cost_usd  # the worst case bounds the actual cost

    # a hard daily budget that fits exactly one more request
    with engine.db.transaction() as conn:
        b = budgets.set_budget(conn, scope="user", target="eve", period="day", limit_usd=estimate)
    paid = engine.ask(eve, QUESTION, model="paid")
    assert not paid.answer.abstained
    t = _trace(engine, paid.trace_id)
    assert _span(t, "budget")["attrs"]["decision"] == "reserved"
    calls = len(fake.requests)

    refused = engine.ask(eve, QUESTION, model="paid")
    assert len(fake.requests) == calls  # no model was called
    a = refused.answer
    assert a.abstained and a.escalate and a.reasons == ["budget_exceeded"]
    assert "daily hard budget of user 'eve'" in a.text and refused.to_dict()["answer"]["reasons"] == ["budget_exceeded"]
    rt = _trace(engine, refused.trace_id)
    assert rt["status"] == "refused" and _span(rt, "budget")["attrs"]["decision"] == "refused"
    assert not [c for c in rt["calls"] if c["kind"] == "generate"]
    with engine.db.connection() as conn:
        led = budgets.get_budget(conn, b["id"])
        # the ledger holds the whole recorded cost of the admitted request, nothing in flight
        assert led["spent_usd"] == pytest.approx(paid.cost_usd, abs=1e-8) and led["reserved_usd"] == 0
        assert led["spent_usd"] <= led["limit_usd"]
        audit = conn.execute("SELECT details FROM audit_log WHERE action = 'budget.refuse'").fetchall()
        assert len(audit) == 1 and audit[0]["details"]["trace_id"] == refused.trace_id
        if conn.execute("SELECT to_regclass('review_items') AS t").fetchone()["t"]:
            items = conn.execute("SELECT source, trace_id FROM review_items WHERE source = 'budget_refusal'").fetchall()
            assert [i["trace_id"] for i in items] == [refused.trace_id]
        traced = conn.execute("SELECT coalesce(sum(cost_usd), 0) AS c FROM traces WHERE principal_id = %s",
                              (eve.id,)).fetchone()["c"]
        gen = conn.execute("SELECT coalesce(sum(cost_usd), 0) AS c, count(*) AS n FROM usage_events"
                           " WHERE model = 'paid'").fetchone()

    # `tether usage --json`: the same figures as the traces
    by_user = _cli(settings, "usage", "--by", "user", "--json")
    row = next(r for r in by_user["rows"] if r["label"] == "eve")
    assert row["cost_usd"] == pytest.approx(float(traced), abs=1e-8)
    assert row["cost_usd"] == pytest.approx(free.cost_usd + paid.cost_usd, abs=1e-8)
    by_model = _cli(settings, "usage", "--by", "model", "--json")
    paid_row = next(r for r in by_model["rows"] if r["label"] == "paid")
    assert paid_row["calls"] == gen["n"] == len(fake.requests)
    assert paid_row["cost_usd"] == pytest.approx(float(gen["c"]), abs=1e-8)
    mine = _cli(settings, "usage", "--by", "day", "--user", "eve", "--json")
    assert mine["total"]["cost_usd"] == pytest.approx(float(traced), abs=1e-8)
    listed = _cli(settings, "budget", "list", "--json")["budgets"]
    assert listed[0]["spent_usd"] == pytest.approx(paid.cost_usd, abs=1e-8)

    # an admin raises the limit: answered again
    with engine.db.transaction() as conn:
        budgets.set_budget(conn, scope="user", target="eve", period="day", limit_usd=1.0)
    assert not engine.ask(eve, QUESTION, model="paid").answer.abstained


def test_soft_budget_warns_in_result_and_trace(engine):
    with engine.db.transaction() as conn:
        budgets.set_budget(conn, scope="user", target="eve", period="month", limit_usd=0, kind="soft")
    res = engine.ask(engine.principal("eve"), QUESTION, model="paid")
    assert not res.answer.abstained
    assert res.warnings == ["the monthly soft budget of user 'eve' is exceeded"]
    assert res.to_dict()["warnings"] == res.warnings
    assert _trace(engine, res.trace_id)["attrs"]["budget_warnings"] == res.warnings


def test_default_free_model_is_not_refused_but_spent_budget_is(engine):
    """The extractive model costs nothing: a budget with room lets it through; a spent one does not."""
    eve = engine.principal("eve")
    with engine.db.transaction() as conn:
        b = budgets.set_budget(conn, scope="user", target="eve", period="day", limit_usd=0.001)
    assert not engine.ask(eve, QUESTION).answer.abstained
    with engine.db.transaction() as conn:
        conn.execute("UPDATE budget_spend SET spent_usd = 0.002 WHERE budget_id = %s", (b["id"],))
    assert engine.ask(eve, QUESTION).answer.reasons == ["budget_exceeded"]


def test_settles_when_generation_raises(engine, monkeypatch):
    eve = engine.principal("eve")
    with engine.db.transaction() as conn:
        b = budgets.set_budget(conn, scope="user", target="eve", period="day", limit_usd=1.0)
    from tether.answer import steps

    real = steps.ground

    def ground_then_fail(*args, **kwargs):
        real(*args, **kwargs)  # the model was called and paid for
        raise RuntimeError("crash after generation")

    monkeypatch.setattr(steps, "ground", ground_then_fail)
    with pytest.raises(RuntimeError):
        engine.ask(eve, QUESTION, model="paid")
    with engine.db.connection() as conn:
        led = budgets.get_budget(conn, b["id"])
        cost = conn.execute("SELECT sum(cost_usd) AS c FROM usage_events WHERE model = 'paid'").fetchone()["c"]
        holds = conn.execute("SELECT count(*) AS n FROM budget_holds").fetchone()["n"]
    assert cost > 0 and led["spent_usd"] == pytest.approx(float(cost), abs=1e-8)
    assert led["reserved_usd"] == 0 and holds == 0


def test_stream_is_refused_too(engine):
    eve = engine.principal("eve")
    with engine.db.transaction() as conn:
        b = budgets.set_budget(conn, scope="user", target="eve", period="day", limit_usd=0)
        conn.execute("INSERT INTO budget_spend (budget_id, period_start, spent_usd)"
                     " VALUES (%s, (now() AT TIME ZONE 'UTC')::date, 0.01)", (b["id"],))
    events = list(engine.ask_stream(eve, QUESTION, model="paid"))
    assert [e["type"] for e in events] == ["done"]
    assert events[0]["answer"]["reasons"] == ["budget_exceeded"]
    assert _trace(engine, events[0]["trace_id"])["status"] == "refused"


def test_usage_and_budgets_over_http_and_ui(engine):
    eve = engine.principal("eve")
    engine.ask(eve, QUESTION, model="paid")
    engine.ask(engine.principal("ana"), QUESTION, model="paid")
    keys = engine.keys
    with LiveServer(engine) as server:
        def client(user):
            return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys[user]}"}, timeout=60)

        with client("root") as root, client("eve") as ev:
            everyone = root.get("/v1/usage", params={"by": "user"}).json()
            assert {"ana", "eve"} <= {r["label"] for r in everyone["rows"]} and everyone["scope"] == "all"
            own = ev.get("/v1/usage", params={"by": "user"}).json()
            assert [r["label"] for r in own["rows"]] == ["eve"] and own["scope"] == "self"
            eve_row = next(r for r in everyone["rows"] if r["label"] == "eve")
            assert own["total"]["cost_usd"] == pytest.approx(eve_row["cost_usd"])
            assert ev.get("/v1/usage", params={"user": "ana"}).status_code == 403
            assert ev.get("/v1/usage", params={"by": "colour"}).status_code == 422

            assert ev.get("/v1/budgets").status_code == 403
            assert ev.post("/v1/budgets", json={"scope": "user", "target": "eve", "limit_usd": 5}).status_code == 403
            made = root.post("/v1/budgets", json={"scope": "group", "target": "hr", "period": "day",
                                                  "limit_usd": 0.5, "kind": "soft"})
            assert made.status_code == 201, made.text
            bid = made.json()["id"]
            again = root.post("/v1/budgets", json={"scope": "group", "target": "hr", "period": "day",
                                                   "limit_usd": 0.75, "kind": "soft"})
            assert again.status_code == 200 and again.json()["id"] == bid
            nope = {"scope": "group", "target": "nope", "limit_usd": 1}
            assert root.post("/v1/budgets", json=nope).status_code == 422
            listed = root.get("/v1/budgets").json()["budgets"]
            assert [(b["id"], b["limit_usd"], b["scope_name"]) for b in listed] == [(bid, 0.75, "hr")]

            page = ev.get("/ui/usage")
            assert page.status_code == 200 and 'data-testid="chart-day"' in page.text and "<svg" in page.text
            assert "Your model calls" in page.text and 'href="/ui/usage"' in page.text
            admin_page = root.get("/ui/usage")
            assert 'data-testid="usage-users"' in admin_page.text and "group hr" in admin_page.text
            assert "http://" not in admin_page.text.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
                "http://www.w3.org", "")  # no external asset in the chart

            assert root.delete(f"/v1/budgets/{bid}").json() == {"deleted": bid}
            assert root.delete(f"/v1/budgets/{bid}").status_code == 404
    with engine.db.connection() as conn:
        actions = [r["action"] for r in conn.execute(
            "SELECT action FROM audit_log WHERE action LIKE 'admin.budget.%' ORDER BY id").fetchall()]
    assert actions == ["admin.budget.set", "admin.budget.set", "admin.budget.delete"]


def test_budget_and_usage_cli(engine, settings):
    engine.ask(engine.principal("eve"), QUESTION, model="paid")
    made = _cli(settings, "budget", "set", "--group", "hr", "--period", "day", "--limit", "2.5", "--soft", "--json")
    assert (made["scope"], made["scope_name"], made["kind"], made["limit_usd"]) == ("group", "hr", "soft", 2.5)
    text = _cli(settings, "budget", "set", "--user", "eve", "--limit", "1")
    assert "hard monthly limit 1.00 USD for user eve (created)" in text
    table = _cli(settings, "budget", "list")
    assert "hr" in table and "eve" in table and "month" in table
    usage = _cli(settings, "usage", "--by", "model", "--since", "2000-01-01")
    assert "paid" in usage and "total" in usage
    assert _cli(settings, "budget", "rm", str(made["id"]), "--json") == {"deleted": made["id"]}
    assert [b["scope"] for b in _cli(settings, "budget", "list", "--json")["budgets"]] == ["user"]
    with engine.db.connection() as conn:
        actions = [r["action"] for r in conn.execute(
            "SELECT action FROM audit_log WHERE action LIKE 'admin.budget.%' ORDER BY id").fetchall()]
    assert actions == ["admin.budget.set", "admin.budget.set", "admin.budget.delete"]
