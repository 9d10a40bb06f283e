"""Spending budgets that hold under concurrency: per user, group or API key, per UTC day or month,
``soft`` (warn) or ``hard`` (refuse).

    b = set_budget(conn, scope="group", target="hr", period="month", limit_usd=50)
    r = reserve(conn, principal, estimate_usd=0.004)   # BudgetExceeded, or a Reservation (+ warnings)
    ...generate...
    settle(conn, r, actual_usd=trace.cost_usd)         # reserved -> spent (the actual cost)

The ledger (``budget_spend``) has one row per budget and period start with ``spent_usd`` (settled)
and ``reserved_usd`` (requests in flight); ``budget_holds`` has one row per reservation and budget.

**Atomicity.** ``reserve`` is one transaction: it locks the ledger rows of every applicable
budget (the principal's user budget, each of their groups', their API key's) in one statement,
``INSERT .. ON CONFLICT DO UPDATE`` over the keys sorted by (budget_id, period_start), which
creates a period's row on first use and row-locks existing ones, in that stable order, so two
reservations that share budgets serialise instead of deadlocking. Under those locks it releases
stale holds, checks ``spent + reserved + estimate <= limit`` for every hard budget and adds the
estimate to each ``reserved_usd``. N concurrent requests at a hard budget that fits exactly k
estimates: exactly k succeed. ``settle`` takes the same locks in the same order.

**Crashed processes.** A hold older than ``ttl_s`` (10 minutes) belongs to a request that
died without settling; the next ``reserve`` on that budget deletes it and gives its amount back
(committed even when that reservation is then refused). A request that settles after its hold
expired still records its actual cost as spent.

Money is ``numeric(14, 8)``: estimates are rounded up, actual costs to the nearest 1e-8.
Refusal messages name the scope and period only: a group's figures include other users' spend.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
from psycopg.rows import DictRow

from tether.errors import BudgetExceeded, InvalidInput, NotFound, UnknownPrincipal
from tether.store.rows import one
from tether.types import Principal

SCOPES = ("user", "group", "api_key")
PERIODS = ("day", "month")
KINDS = ("soft", "hard")
RESERVATION_TTL_S = 600.0
_Q = Decimal("0.00000001")
_PERIOD_WORD = {"day": "daily", "month": "monthly"}


def money_up(usd: float | Decimal) -> Decimal:
    """An estimate in ledger precision, rounded up (a reservation never under-holds)."""
    return Decimal(str(usd)).quantize(_Q, rounding=ROUND_CEILING)


def money(usd: float | Decimal) -> Decimal:
    return Decimal(str(usd)).quantize(_Q, rounding=ROUND_HALF_UP)


def period_start(period: str, now: datetime) -> date:
    """The first UTC day of the period that contains ``now``."""
    d = now.astimezone(UTC).date() if now.tzinfo else now.date()
    return d if period == "day" else d.replace(day=1)


def period_end(period: str, start: date) -> datetime:
    """When the period starting at ``start`` ends (the next one starts), UTC."""
    if period == "day":
        nxt = start + timedelta(days=1)
    else:
        nxt = start.replace(day=calendar.monthrange(start.year, start.month)[1]) + timedelta(days=1)
    return datetime.combine(nxt, time(0), tzinfo=UTC)


@dataclass
class Hold:
    budget_id: int
    period_start: date
    amount_usd: Decimal


@dataclass
class Reservation:
    """What ``reserve`` held. Empty (no budget applies) reservations settle without a query."""

    id: str
    estimate_usd: float
    holds: list[Hold] = field(default_factory=list)
    #: The applicable budgets (id, scope, name, period, kind): for the trace, never figures of others.
    budgets: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    held: bool = False  # rows were written to budget_holds (estimate > 0)
    settled: bool = False

    @property
    def empty(self) -> bool:
        return not self.holds

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "estimate_usd": round(self.estimate_usd, 8), "budgets": self.budgets,
                "warnings": self.warnings}


def _label(row: dict) -> str:
    return f"{_PERIOD_WORD[row['period']]} {row['kind']} budget of {_scope_label(row)}"


def _scope_label(row: dict) -> str:
    if row["scope"] == "api_key":
        return f"API key #{row['scope_id']}"
    return f"{row['scope']} {row['scope_name']!r}"


# administration ----------------------------------------------------------------------------------
def _target_id(conn: psycopg.Connection[DictRow], scope: str, target: str | int) -> int:
    if scope == "api_key":
        t = str(target)
        row = conn.execute("SELECT id FROM api_keys WHERE id = %s" if t.isdigit() else
                           "SELECT id FROM api_keys WHERE prefix = %s", (int(t) if t.isdigit() else t,)).fetchone()
        if row is None:
            raise NotFound(f"no API key {t!r}")
        return int(row["id"])
    table = "principals" if scope == "user" else "groups"
    row = conn.execute(f"SELECT id FROM {table} WHERE name = %s", (str(target),)).fetchone()
    if row is None:
        raise UnknownPrincipal(f"unknown {scope} {str(target)!r}")
    return int(row["id"])


def set_budget(conn: psycopg.Connection[DictRow], *, scope: str, target: str | int, period: str, limit_usd: float,
               kind: str = "hard") -> dict:
    """Create or change (same scope, target, period and kind) a budget; returns it."""
    if scope not in SCOPES:
        raise InvalidInput(f"unknown budget scope {scope!r}; valid: {', '.join(SCOPES)}")
    if period not in PERIODS:
        raise InvalidInput(f"unknown budget period {period!r}; valid: {', '.join(PERIODS)}")
    if kind not in KINDS:
        raise InvalidInput(f"unknown budget kind {kind!r}; valid: {', '.join(KINDS)}")
    if not limit_usd >= 0 or limit_usd >= 1e6:
        raise InvalidInput("a budget's limit must be between 0 and 1,000,000 USD")
    tid = _target_id(conn, scope, target)
    col = {"user": "principal_id", "group": "group_id", "api_key": "api_key_id"}[scope]
    row = one(conn.execute(
        f"INSERT INTO budgets (scope, {col}, period, kind, limit_usd) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (scope, scope_id, period, kind) DO UPDATE SET limit_usd = EXCLUDED.limit_usd, updated_at = now()"
        " RETURNING id, (xmax = 0) AS created",
        (scope, tid, period, kind, money(limit_usd)),
    ))
    out = get_budget(conn, int(row["id"]))
    out["created"] = bool(row["created"])
    return out


_LIST = (
    "SELECT b.id, b.scope, b.scope_id, coalesce(p.name, g.name, k.prefix) AS scope_name, b.period, b.kind,"
    " b.limit_usd, b.created_at, b.updated_at,"
    " coalesce(s.spent_usd, 0) AS spent_usd, coalesce(s.reserved_usd, 0) AS reserved_usd, ps.start AS period_start"
    " FROM budgets b LEFT JOIN principals p ON p.id = b.principal_id LEFT JOIN groups g ON g.id = b.group_id"
    " LEFT JOIN api_keys k ON k.id = b.api_key_id"
    " CROSS JOIN LATERAL (SELECT CASE b.period WHEN 'day' THEN (t.at AT TIME ZONE 'UTC')::date"
    "   ELSE date_trunc('month', t.at AT TIME ZONE 'UTC')::date END AS start"
    "   FROM (SELECT coalesce(%s::timestamptz, now()) AS at) t) ps"
    " LEFT JOIN budget_spend s ON s.budget_id = b.id AND s.period_start = ps.start"
)


def _out(r: dict) -> dict:
    out = dict(r)
    for k in ("limit_usd", "spent_usd", "reserved_usd"):
        out[k] = float(out[k])
    out["remaining_usd"] = round(max(out["limit_usd"] - out["spent_usd"] - out["reserved_usd"], 0.0), 8)
    out["resets_at"] = period_end(out["period"], out["period_start"])
    return out


def get_budget(conn: psycopg.Connection[DictRow], budget_id: int, *, now: datetime | None = None) -> dict:
    r = conn.execute(_LIST + " WHERE b.id = %s", (now, budget_id)).fetchone()
    if r is None:
        raise NotFound(f"no budget {budget_id}")
    return _out(r)


def list_budgets(conn: psycopg.Connection[DictRow], *, now: datetime | None = None, principal: Principal | None = None,
                 own_only: bool = False) -> list[dict]:
    """Every budget with its current period's spend; with ``principal`` only those that apply to
    them, and with ``own_only`` only those whose figures are theirs alone (user and API-key scopes)."""
    sql = _LIST
    params: list[Any] = [now]
    if principal is not None:
        sql += " WHERE (b.principal_id = %s OR b.api_key_id IN (SELECT id FROM api_keys WHERE principal_id = %s)"
        params += [principal.id, principal.id]
        if not own_only:
            sql += " OR b.group_id = ANY(%s)"
            params.append(list(principal.group_ids))
        sql += ")"
    return [_out(r) for r in conn.execute(sql + " ORDER BY b.id", params).fetchall()]


def delete_budget(conn: psycopg.Connection[DictRow], budget_id: int) -> dict:
    """Delete a budget (its ledger and holds go with it); returns what it was."""
    out = get_budget(conn, budget_id)
    conn.execute("DELETE FROM budgets WHERE id = %s", (budget_id,))
    return out


# the request path --------------------------------------------------------------------------------
def applicable(conn: psycopg.Connection[DictRow], principal: Principal) -> list[dict]:
    """The budgets that apply to a request of ``principal`` (one indexed query)."""
    return conn.execute(
        "SELECT b.id, b.scope, b.scope_id, b.period, b.kind, b.limit_usd,"
        " coalesce(p.name, g.name, '') AS scope_name, now() AS db_now"
        " FROM budgets b LEFT JOIN principals p ON p.id = b.principal_id LEFT JOIN groups g ON g.id = b.group_id"
        " WHERE b.principal_id = %s OR b.group_id = ANY(%s) OR b.api_key_id = %s ORDER BY b.id",
        (principal.id, list(principal.group_ids), principal.api_key_id),
    ).fetchall()


_LOCK = (
    "INSERT INTO budget_spend (budget_id, period_start)"
    " SELECT b, p FROM unnest(%s::bigint[], %s::date[]) AS t(b, p) ORDER BY b, p"
    " ON CONFLICT (budget_id, period_start) DO UPDATE SET spent_usd = budget_spend.spent_usd"
    " RETURNING budget_id, period_start, spent_usd, reserved_usd"
)


def _lock(conn: psycopg.Connection[DictRow], keys: list[tuple[int, date]]) -> dict[tuple[int, date], dict]:
    """Create-or-lock the ledger rows of ``keys`` in (budget_id, period_start) order."""
    keys = sorted(set(keys))
    rows = conn.execute(_LOCK, ([k[0] for k in keys], [k[1] for k in keys])).fetchall()
    return {(int(r["budget_id"]), r["period_start"]): r for r in rows}


def reserve(conn: psycopg.Connection[DictRow], principal: Principal, estimate_usd: float, *,
            now: datetime | None = None, ttl_s: float = RESERVATION_TTL_S, trace_id: str | None = None) -> Reservation:
    """Hold ``estimate_usd`` against every budget that applies to ``principal`` for the current
    period, atomically, or raise :class:`BudgetExceeded` naming the first hard budget it would
    exceed. Soft budgets it would exceed become ``warnings``. Call it outside a transaction:
    released stale holds are committed even when the request is refused."""
    est = money_up(max(estimate_usd, 0.0))
    res = Reservation(uuid.uuid4().hex, float(est))
    refused: dict | None = None
    with conn.transaction():
        rows = applicable(conn, principal)
        if not rows:
            return res
        at = now or rows[0]["db_now"]
        current = {int(r["id"]): period_start(r["period"], at) for r in rows}
        cutoff = at - timedelta(seconds=ttl_s)
        stale = conn.execute(
            "SELECT DISTINCT budget_id, period_start FROM budget_holds WHERE budget_id = ANY(%s) AND created_at < %s",
            (list(current), cutoff),
        ).fetchall()
        keys = sorted(set(current.items()) | {(int(s["budget_id"]), s["period_start"]) for s in stale})
        ledger = _lock(conn, keys)
        if stale:  # holds of requests that died: give their amounts back (rows are locked)
            conn.execute(
                "WITH gone AS (DELETE FROM budget_holds h USING unnest(%s::bigint[], %s::date[]) AS k(b, p)"
                "   WHERE h.budget_id = k.b AND h.period_start = k.p AND h.created_at < %s"
                "   RETURNING h.budget_id, h.period_start, h.amount_usd),"
                " sums AS (SELECT budget_id, period_start, sum(amount_usd) AS amount FROM gone GROUP BY 1, 2)"
                " UPDATE budget_spend s SET reserved_usd = greatest(s.reserved_usd - sums.amount, 0) FROM sums"
                " WHERE s.budget_id = sums.budget_id AND s.period_start = sums.period_start",
                ([k[0] for k in keys], [k[1] for k in keys], cutoff),
            )
            ledger = {(int(r["budget_id"]), r["period_start"]): r for r in conn.execute(  # re-read (locked)
                "SELECT budget_id, period_start, spent_usd, reserved_usd FROM budget_spend s"
                " JOIN unnest(%s::bigint[], %s::date[]) AS k(b, p) ON s.budget_id = k.b AND s.period_start = k.p",
                ([k[0] for k in keys], [k[1] for k in keys])).fetchall()}
        for r in rows:
            key = (int(r["id"]), current[int(r["id"])])
            spent, reserved, limit = ledger[key]["spent_usd"], ledger[key]["reserved_usd"], r["limit_usd"]
            res.budgets.append({"id": key[0], "scope": r["scope"], "scope_id": int(r["scope_id"]),
                                "name": r["scope_name"], "period": r["period"], "kind": r["kind"]})
            if spent + reserved + est > limit:
                if r["kind"] == "hard":
                    refused = refused or {**r, "period_start": key[1]}
                else:
                    res.warnings.append(f"the {_label(r)} is exceeded")
            res.holds.append(Hold(key[0], key[1], est))
        if refused is None and est > 0:
            ids, starts = [h.budget_id for h in res.holds], [h.period_start for h in res.holds]
            conn.execute(
                "UPDATE budget_spend s SET reserved_usd = s.reserved_usd + %s FROM unnest(%s::bigint[], %s::date[])"
                " AS k(b, p) WHERE s.budget_id = k.b AND s.period_start = k.p", (est, ids, starts))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO budget_holds (reservation_id, budget_id, period_start, amount_usd, created_at,"
                    " trace_id) VALUES (%s, %s, %s, %s, %s, %s)",
                    [(res.id, h.budget_id, h.period_start, est, at, trace_id) for h in res.holds])
            res.held = True
    if refused is not None:  # raised after the commit: released stale holds stay released
        raise BudgetExceeded(
            f"this request would exceed the {_label(refused)}; it resets at "
            f"{period_end(refused['period'], refused['period_start']).isoformat()}",
            scope=refused["scope"], period=refused["period"],
            resets_at=period_end(refused["period"], refused["period_start"]).isoformat())
    return res


def settle(conn: psycopg.Connection[DictRow], reservation: Reservation, actual_usd: float) -> None:
    """Release the reservation's holds and add ``actual_usd`` to each budget's spend for the
    period it was reserved in. Idempotent per Reservation object; a no-op (no query) when no
    budget applied."""
    if reservation.settled or reservation.empty:
        reservation.settled = True
        return
    actual = money(max(actual_usd, 0.0))
    if actual == 0 and not reservation.held:
        reservation.settled = True
        return
    keys = sorted({(h.budget_id, h.period_start) for h in reservation.holds})
    with conn.transaction():
        conn.execute(
            "SELECT 1 FROM budget_spend s JOIN unnest(%s::bigint[], %s::date[]) AS k(b, p)"
            " ON s.budget_id = k.b AND s.period_start = k.p ORDER BY s.budget_id, s.period_start FOR UPDATE OF s",
            ([k[0] for k in keys], [k[1] for k in keys]),
        ).fetchall()
        released = {(int(r["budget_id"]), r["period_start"]): r["amount_usd"] for r in conn.execute(
            "DELETE FROM budget_holds WHERE reservation_id = %s RETURNING budget_id, period_start, amount_usd",
            (reservation.id,)).fetchall()} if reservation.held else {}
        conn.execute(
            "UPDATE budget_spend s SET spent_usd = s.spent_usd + %s, reserved_usd = greatest(s.reserved_usd - k.r, 0)"
            " FROM unnest(%s::bigint[], %s::date[], %s::numeric[]) AS k(b, p, r)"
            " WHERE s.budget_id = k.b AND s.period_start = k.p",
            (actual, [k[0] for k in keys], [k[1] for k in keys], [released.get(k, Decimal(0)) for k in keys]),
        )
    reservation.settled = True


def expire_stale(conn: psycopg.Connection[DictRow], *, ttl_s: float = RESERVATION_TTL_S,
                 now: datetime | None = None) -> int:
    """Release every hold older than ``ttl_s`` (housekeeping; ``reserve`` does it per budget)."""
    with conn.transaction():
        at = now or one(conn.execute("SELECT now() AS n"))["n"]
        cutoff = at - timedelta(seconds=ttl_s)
        keys = [(int(r["budget_id"]), r["period_start"]) for r in conn.execute(
            "SELECT DISTINCT budget_id, period_start FROM budget_holds WHERE created_at < %s", (cutoff,)).fetchall()]
        if not keys:
            return 0
        _lock(conn, keys)
        n = one(conn.execute(
            "WITH gone AS (DELETE FROM budget_holds h USING unnest(%s::bigint[], %s::date[]) AS k(b, p)"
            "   WHERE h.budget_id = k.b AND h.period_start = k.p AND h.created_at < %s"
            "   RETURNING h.budget_id, h.period_start, h.amount_usd),"
            " sums AS (SELECT budget_id, period_start, sum(amount_usd) AS amount, count(*) AS n"
            "   FROM gone GROUP BY 1, 2),"
            " upd AS (UPDATE budget_spend s SET reserved_usd = greatest(s.reserved_usd - sums.amount, 0) FROM sums"
            "   WHERE s.budget_id = sums.budget_id AND s.period_start = sums.period_start)"
            " SELECT coalesce(sum(n), 0) AS n FROM sums",
            ([k[0] for k in sorted(keys)], [k[1] for k in sorted(keys)], cutoff),
        ))["n"]
    return int(n)
