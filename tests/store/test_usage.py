"""Usage rollups against hand-computed sums: per user, group (current memberships), API key,
model, kind, day and month, over inclusive UTC date ranges, own-only for non-admins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tether.errors import InvalidInput
from tether.store import api_keys, principals, usage


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def events(db):
    with db.transaction() as conn:
        ids = {n: principals.add_user(conn, n) for n in ("ana", "ben", "dev", "eve")}
        for g, members in (("hr", ["ana", "dev"]), ("eng", ["ben", "dev"])):
            principals.ensure_group(conn, g)
            for m in members:
                principals.add_member(conn, m, g)
        key = api_keys.create_key(conn, "ana", name="laptop")
        # (user, key?, model, kind, in, out, cost, latency, at, ok)
        rows = [
            ("ana", True, "paid", "generate", 100, 20, 0.5, 100.0, _at(1), True),
            ("ana", False, "paid", "generate", 200, 40, 1.0, 300.0, _at(1, 23), True),
            ("ana", False, "minilm", "embed", 10, 0, 0.0, 2.0, _at(2), True),
            ("ben", False, "paid", "generate", 50, 10, 0.25, 50.0, _at(2), True),
            ("ben", False, "cheap", "generate", 0, 0, 0.0, 10.0, _at(2), False),
            ("dev", False, "cheap", "generate", 1000, 100, 0.125, 200.0, _at(3), True),
            ("eve", False, "paid", "generate", 300, 60, 2.0, 400.0, _at(4), True),
            ("eve", False, "paid", "generate", 1, 1, 4.0, 1.0, datetime(2025, 4, 1, 0, 30, tzinfo=UTC), True),
        ]
        for user, with_key, model, kind, i, o, cost, lat, at, ok in rows:
            conn.execute(
                "INSERT INTO usage_events (trace_id, at, principal_id, api_key_id, kind, model, input_tokens,"
                " output_tokens, cost_usd, latency_ms, ok) VALUES (NULL,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (at, ids[user], key["id"] if with_key else None, kind, model, i, o, cost, lat, ok))
    return {"ids": ids, "key": key}


def _by(result: dict) -> dict:
    return {r["label"]: r for r in result["rows"]}


def test_rollup_by_user(db, events):
    with db.connection() as conn:
        out = usage.rollup(conn, by="user")
    rows = _by(out)
    assert rows["ana"]["calls"] == 3 and rows["ana"]["input_tokens"] == 310 and rows["ana"]["output_tokens"] == 60
    assert rows["ana"]["cost_usd"] == pytest.approx(1.5) and rows["ana"]["mean_latency_ms"] == pytest.approx(134.0)
    assert rows["ben"]["failed_calls"] == 1 and rows["ben"]["cost_usd"] == pytest.approx(0.25)
    assert rows["eve"]["cost_usd"] == pytest.approx(6.0)
    assert [r["label"] for r in out["rows"]] == ["eve", "ana", "ben", "dev"]  # most expensive first
    assert out["total"]["calls"] == 8 and out["total"]["cost_usd"] == pytest.approx(7.875)
    assert out["rows"][0]["key"] == events["ids"]["eve"]


def test_rollup_by_group_uses_current_memberships(db, events):
    with db.connection() as conn:
        rows = _by(usage.rollup(conn, by="group"))
    # dev is in both groups: counted in each; eve is in none
    assert rows["hr"]["cost_usd"] == pytest.approx(1.5 + 0.125) and rows["hr"]["calls"] == 4
    assert rows["eng"]["cost_usd"] == pytest.approx(0.25 + 0.125) and rows["eng"]["calls"] == 3
    assert rows["(no group)"]["cost_usd"] == pytest.approx(6.0)
    with db.transaction() as conn:
        principals.remove_member(conn, "dev", "hr")
    with db.connection() as conn:
        assert _by(usage.rollup(conn, by="group"))["hr"]["cost_usd"] == pytest.approx(1.5)


def test_rollup_by_model_kind_and_key(db, events):
    with db.connection() as conn:
        models = _by(usage.rollup(conn, by="model"))
        kinds = _by(usage.rollup(conn, by="kind"))
        keys = _by(usage.rollup(conn, by="api_key"))
    assert models["paid"]["calls"] == 5 and models["paid"]["cost_usd"] == pytest.approx(7.75)
    assert models["paid"]["input_tokens"] == 651 and models["paid"]["output_tokens"] == 131
    assert models["cheap"]["calls"] == 2 and models["cheap"]["cost_usd"] == pytest.approx(0.125)
    assert kinds["embed"]["calls"] == 1 and kinds["generate"]["calls"] == 7
    assert keys[f"tth_{events['key']['prefix']} (laptop)"]["cost_usd"] == pytest.approx(0.5)
    assert keys["(no key)"]["calls"] == 7


def test_rollup_by_day_and_month_with_range(db, events):
    with db.connection() as conn:
        days = usage.rollup(conn, by="day", since="2025-03-01", until="2025-03-02")
        months = usage.rollup(conn, by="month")
        mine = usage.rollup(conn, by="day", principal_id=events["ids"]["ana"])
    assert [(r["key"], r["calls"], r["cost_usd"]) for r in days["rows"]] == [
        ("2025-03-01", 2, 1.5), ("2025-03-02", 3, 0.25)]  # 23:00 UTC stays on the 1st; until is inclusive
    assert days["total"]["calls"] == 5 and days["total"]["cost_usd"] == pytest.approx(1.75)
    assert [(r["label"], r["cost_usd"]) for r in months["rows"]] == [("2025-03", 3.875), ("2025-04", 4.0)]
    assert mine["scope"] == "self" and mine["total"]["cost_usd"] == pytest.approx(1.5)
    assert {r["key"] for r in mine["rows"]} == {"2025-03-01", "2025-03-02"}


def test_rollup_rejects_bad_input(db, events):
    with db.connection() as conn:
        with pytest.raises(InvalidInput):
            usage.rollup(conn, by="colour")
        with pytest.raises(InvalidInput):
            usage.rollup(conn, since="yesterday")
        with pytest.raises(InvalidInput):
            usage.rollup(conn, since="2025-03-02", until="2025-03-01")
        empty = usage.rollup(conn, since="2030-01-01")
    assert empty["rows"] == [] and empty["total"]["calls"] == 0 and empty["total"]["cost_usd"] == 0
