"""Budgets hold: concurrent reservations at a hard budget admit exactly what fits; soft budgets
warn; group and API-key scopes apply; periods roll over; holds of dead requests expire."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg.rows import dict_row

from tether.errors import BudgetExceeded, InvalidInput, NotFound
from tether.store import api_keys, budgets, principals

EST = 0.001
NOON = datetime(2025, 5, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def people(db):
    with db.transaction() as conn:
        for name in ("ana", "ben", "eve"):
            principals.add_user(conn, name)
        principals.ensure_group(conn, "hr")
        principals.add_member(conn, "ana", "hr")
        principals.add_member(conn, "ben", "hr")
        key = api_keys.create_key(conn, "eve", name="bot")
        out = {n: principals.get_principal(conn, n) for n in ("ana", "ben", "eve")}
    out["eve_key"] = dataclasses.replace(out["eve"], api_key_id=key["id"])
    out["key_id"] = key["id"]
    return out


def _ledger(db, budget_id: int, now: datetime | None = None) -> dict:
    with db.connection() as conn:
        return budgets.get_budget(conn, budget_id, now=now)



def _run_concurrently(threads: list[threading.Thread], conns: list[psycopg.Connection]) -> None:
    """Start every thread, wait for all, close their connections."""
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for c in conns:
            c.close()

def test_hard_budget_admits_exactly_what_fits_under_concurrency(db, db_url, people):
    """THE key property: 50 concurrent requests, each on its own connection, at a hard budget
    that fits exactly 10 estimates: 10 are admitted, 40 refused, spent never exceeds the limit."""
    with db.transaction() as conn:
        b = budgets.set_budget(conn, scope="user", target="eve", period="day", limit_usd=10 * EST)
        # a second applicable budget (a roomy group-less key budget is not hers; a monthly one is)
        budgets.set_budget(conn, scope="user", target="eve", period="month", limit_usd=1.0)
    eve = people["eve"]
    n = 50
    conns = [psycopg.connect(db_url, row_factory=dict_row) for _ in range(n)]
    barrier = threading.Barrier(n)
    admitted: list[budgets.Reservation] = []
    refused: list[BudgetExceeded] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(conn: psycopg.Connection) -> None:
        try:
            barrier.wait(timeout=60)
            r = budgets.reserve(conn, eve, EST)
            with lock:
                admitted.append(r)
            budgets.settle(conn, r, EST)  # worst case: each costs its whole estimate (less frees room)
        except BudgetExceeded as exc:
            with lock:
                refused.append(exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    _run_concurrently([threading.Thread(target=one, args=(c,)) for c in conns], conns)
    assert not errors, errors
    assert len(admitted) == 10 and len(refused) == 40
    assert all(e.code == "budget_exceeded" and e.status == 402 for e in refused)
    led = _ledger(db, b["id"])
    assert led["spent_usd"] == pytest.approx(10 * EST) and led["spent_usd"] <= led["limit_usd"]
    assert led["reserved_usd"] == 0
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM budget_holds").fetchone()["n"] == 0


def test_shared_group_budget_under_concurrency_with_overlapping_budgets(db, db_url, people):
    """Two members of one group, each with budgets of their own (different lock sets that
    overlap on the group's row): exactly what the group budget fits is admitted, no deadlock."""
    with db.transaction() as conn:
        g = budgets.set_budget(conn, scope="group", target="hr", period="day", limit_usd=10 * EST)
        budgets.set_budget(conn, scope="user", target="ana", period="month", limit_usd=1.0)
        budgets.set_budget(conn, scope="user", target="ben", period="day", limit_usd=1.0, kind="soft")
        key = api_keys.create_key(conn, "ben", name="ci")
        budgets.set_budget(conn, scope="api_key", target=str(key["id"]), period="month", limit_usd=1.0)
    who = [people["ana"], dataclasses.replace(people["ben"], api_key_id=key["id"])] * 20
    conns = [psycopg.connect(db_url, row_factory=dict_row) for _ in who]
    barrier = threading.Barrier(len(who))
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(conn: psycopg.Connection, principal) -> None:
        try:
            barrier.wait(timeout=60)
            r = budgets.reserve(conn, principal, EST)
            budgets.settle(conn, r, EST)
            out = "ok"
        except BudgetExceeded:
            out = "refused"
        except BaseException as exc:  # noqa: BLE001 - counted as a failure below
            out = repr(exc)
        with lock:
            outcomes.append(out)

    _run_concurrently([threading.Thread(target=one, args=(c, p)) for c, p in zip(conns, who)], conns)
    assert sorted(set(outcomes)) == ["ok", "refused"] and outcomes.count("ok") == 10, outcomes
    assert _ledger(db, g["id"])["spent_usd"] == pytest.approx(10 * EST)


def test_refusals_name_scope_and_period_never_figures(db, people):
    with db.transaction() as conn:
        budgets.set_budget(conn, scope="group", target="hr", period="month", limit_usd=0.0123)
        r = budgets.reserve(conn, people["ana"], 0.01)
        budgets.settle(conn, r, 0.01)
    with db.connection() as conn, pytest.raises(BudgetExceeded) as info:
        budgets.reserve(conn, people["ben"], 0.01)  # ben pays for ana's spend: same group budget
    msg = info.value.message
    assert "monthly hard budget of group 'hr'" in msg and "0.01" not in msg and "ana" not in msg
    assert info.value.details["scope"] == "group" and info.value.details["period"] == "month"
    assert info.value.to_dict()["error"]["code"] == "budget_exceeded"


def test_soft_budget_warns_but_allows(db, people):
    with db.transaction() as conn:
        b = budgets.set_budget(conn, scope="user", target="ana", period="day", limit_usd=0.0015, kind="soft")
    with db.connection() as conn:
        first = budgets.reserve(conn, people["ana"], EST)
        assert first.warnings == []
        budgets.settle(conn, first, EST)
        second = budgets.reserve(conn, people["ana"], EST)
        assert second.warnings == ["the daily soft budget of user 'ana' is exceeded"]
        budgets.settle(conn, second, EST)
    assert _ledger(db, b["id"])["spent_usd"] == pytest.approx(2 * EST)


def test_soft_and_hard_on_one_scope(db, people):
    with db.transaction() as conn:
        budgets.set_budget(conn, scope="user", target="ana", period="day", limit_usd=0.0015, kind="soft")
        budgets.set_budget(conn, scope="user", target="ana", period="day", limit_usd=0.003, kind="hard")
    with db.connection() as conn:
        for _ in range(3):
            budgets.settle(conn, budgets.reserve(conn, people["ana"], EST), EST)
        with pytest.raises(BudgetExceeded):
            budgets.reserve(conn, people["ana"], EST)


def test_group_and_api_key_scopes_apply(db, people):
    with db.transaction() as conn:
        g = budgets.set_budget(conn, scope="group", target="hr", period="day", limit_usd=2 * EST)
        k = budgets.set_budget(conn, scope="api_key", target=str(people["key_id"]), period="day", limit_usd=EST)
    with db.connection() as conn:
        budgets.settle(conn, budgets.reserve(conn, people["ana"], EST), EST)
        budgets.settle(conn, budgets.reserve(conn, people["ben"], EST), EST)
        with pytest.raises(BudgetExceeded, match="group 'hr'"):
            budgets.reserve(conn, people["ana"], EST)
        # eve is in no group: the hr budget does not apply to her; her key budget applies to
        # requests made with that key only
        assert budgets.reserve(conn, people["eve"], EST).empty
        budgets.settle(conn, budgets.reserve(conn, people["eve_key"], EST), EST)
        with pytest.raises(BudgetExceeded, match=f"API key #{people['key_id']}"):
            budgets.reserve(conn, people["eve_key"], EST)
        # a membership removed: the group budget stops applying at once
        principals.remove_member(conn, "ana", "hr")
        conn.commit()
        ana = principals.get_principal(conn, "ana")
        assert budgets.reserve(conn, ana, EST).empty
    assert _ledger(db, g["id"])["spent_usd"] == pytest.approx(2 * EST)
    assert _ledger(db, k["id"])["spent_usd"] == pytest.approx(EST)


def test_period_rollover(db, people):
    with db.transaction() as conn:
        day = budgets.set_budget(conn, scope="user", target="ana", period="day", limit_usd=EST)
        month = budgets.set_budget(conn, scope="user", target="ana", period="month", limit_usd=3 * EST)
    late = datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC)
    with db.connection() as conn:
        budgets.settle(conn, budgets.reserve(conn, people["ana"], EST, now=late), EST)
        with pytest.raises(BudgetExceeded, match="daily") as info:
            budgets.reserve(conn, people["ana"], EST, now=late)
        assert info.value.details["resets_at"] == "2025-04-01T00:00:00+00:00"
        # the next UTC day is a new day AND a new month
        budgets.settle(conn, budgets.reserve(conn, people["ana"], EST, now=late + timedelta(seconds=1)), EST)
        # two more days in April: the daily budget resets, the monthly one fills up
        april = late + timedelta(seconds=1)
        budgets.settle(conn, budgets.reserve(conn, people["ana"], EST, now=april + timedelta(days=1)), EST)
        budgets.settle(conn, budgets.reserve(conn, people["ana"], EST, now=april + timedelta(days=2)), EST)
        with pytest.raises(BudgetExceeded, match="monthly"):
            budgets.reserve(conn, people["ana"], EST, now=april + timedelta(days=3))
        rows = conn.execute("SELECT budget_id, period_start, spent_usd FROM budget_spend ORDER BY 1, 2").fetchall()
    spend = {(r["budget_id"], r["period_start"].isoformat()): r["spent_usd"] for r in rows}
    assert spend[(day["id"], "2025-03-31")] == Decimal("0.001")
    assert spend[(month["id"], "2025-03-01")] == Decimal("0.001")
    assert spend[(month["id"], "2025-04-01")] == Decimal("0.003")


def test_stale_reservations_expire(db, people):
    """A process that reserved and died must not block the budget forever."""
    with db.transaction() as conn:
        b = budgets.set_budget(conn, scope="user", target="ana", period="month", limit_usd=2 * EST)
    now = NOON
    with db.connection() as conn:
        crashed = budgets.reserve(conn, people["ana"], EST, now=now - timedelta(minutes=11))
        budgets.reserve(conn, people["ana"], EST, now=now - timedelta(minutes=2))  # in flight: not stale
        assert _ledger(db, b["id"], now)["reserved_usd"] == pytest.approx(2 * EST)
        # the next reservation releases the dead request's hold (and only that one)
        fresh = budgets.reserve(conn, people["ana"], EST, now=now)
        assert _ledger(db, b["id"], now)["reserved_usd"] == pytest.approx(2 * EST)
        with pytest.raises(BudgetExceeded):
            budgets.reserve(conn, people["ana"], EST, now=now)
        # the "dead" request finally settles: its hold is gone, its cost is still recorded
        budgets.settle(conn, crashed, EST / 2)
        budgets.settle(conn, fresh, EST / 2)
    led = _ledger(db, b["id"], now)
    assert led["spent_usd"] == pytest.approx(EST) and led["reserved_usd"] == pytest.approx(EST)


def test_stale_holds_are_released_even_when_the_request_is_refused(db, people):
    with db.transaction() as conn:
        b = budgets.set_budget(conn, scope="user", target="ana", period="month", limit_usd=EST)
        budgets.set_budget(conn, scope="user", target="ana", period="day", limit_usd=EST / 2)
    now = NOON
    with db.connection() as conn:
        budgets.reserve(conn, people["ana"], EST / 2, now=now - timedelta(minutes=20))
        with pytest.raises(BudgetExceeded, match="daily"):
            budgets.reserve(conn, people["ana"], EST, now=now)
    assert _ledger(db, b["id"], now)["reserved_usd"] == 0
    with db.connection() as conn:
        assert budgets.expire_stale(conn) == 0


def test_expire_stale_housekeeping(db, people):
    with db.transaction() as conn:
        b = budgets.set_budget(conn, scope="user", target="ana", period="month", limit_usd=1)
    with db.connection() as conn:
        budgets.reserve(conn, people["ana"], EST, now=datetime.now(UTC) - timedelta(hours=1))
        assert budgets.expire_stale(conn) == 1
    assert _ledger(db, b["id"])["reserved_usd"] == 0


def test_zero_estimate_is_refused_only_once_over(db, people):
    with db.transaction() as conn:
        budgets.set_budget(conn, scope="user", target="ana", period="day", limit_usd=EST)
    with db.connection() as conn:
        r = budgets.reserve(conn, people["ana"], 0.0)
        assert not r.empty and not r.held
        budgets.settle(conn, r, EST)
        budgets.reserve(conn, people["ana"], 0.0)  # spent == limit: a free request still fits
        budgets.settle(conn, budgets.reserve(conn, people["ben"], 0.0), 0.0)
        conn.execute("UPDATE budget_spend SET spent_usd = spent_usd + 0.00000001")
        with pytest.raises(BudgetExceeded):
            budgets.reserve(conn, people["ana"], 0.0)


def test_set_list_delete(db, people):
    with db.transaction() as conn:
        a = budgets.set_budget(conn, scope="user", target="ana", period="day", limit_usd=1)
        again = budgets.set_budget(conn, scope="user", target="ana", period="day", limit_usd=2)
        assert again["id"] == a["id"] and not again["created"] and again["limit_usd"] == 2
        budgets.set_budget(conn, scope="group", target="hr", period="month", limit_usd=5, kind="soft")
        budgets.set_budget(conn, scope="api_key", target=str(people["key_id"]), period="day", limit_usd=1)
        with pytest.raises(InvalidInput):
            budgets.set_budget(conn, scope="user", target="ana", period="week", limit_usd=1)
        with pytest.raises(InvalidInput):
            budgets.set_budget(conn, scope="user", target="ana", period="day", limit_usd=-1)
        with pytest.raises(NotFound):
            budgets.set_budget(conn, scope="api_key", target="999999", period="day", limit_usd=1)
    with db.connection() as conn:
        budgets.settle(conn, budgets.reserve(conn, people["ana"], 0.25), 0.2)
        rows = budgets.list_budgets(conn)
        assert [(r["scope"], r["scope_name"], r["period"], r["kind"]) for r in rows] == [
            ("user", "ana", "day", "hard"), ("group", "hr", "month", "soft"),
            ("api_key", rows[2]["scope_name"], "day", "hard")]
        assert rows[0]["spent_usd"] == pytest.approx(0.2) and rows[0]["remaining_usd"] == pytest.approx(1.8)
        assert rows[1]["spent_usd"] == pytest.approx(0.2)
        # what a member may see: budgets whose figures are theirs alone
        assert [r["scope"] for r in budgets.list_budgets(conn, principal=people["ana"], own_only=True)] == ["user"]
        assert [r["scope"] for r in budgets.list_budgets(conn, principal=people["eve"], own_only=True)] == ["api_key"]
    with db.transaction() as conn:
        budgets.delete_budget(conn, a["id"])
        with pytest.raises(NotFound):
            budgets.delete_budget(conn, a["id"])
        left = conn.execute("SELECT count(*) AS n FROM budget_spend WHERE budget_id = %s", (a["id"],)).fetchone()
        assert left["n"] == 0
