"""Usage rollups over ``usage_events`` (one row per model call: generation, embedding, reranking,
guard) by user, group, API key, model, kind, UTC day or UTC month, over a date range.

    rollup(conn, by="model", since=date(2025, 1, 1), until=date(2025, 1, 31))
    -> {"by": "model", "since": ..., "until": ..., "rows": [{"key", "label", "calls", "failed_calls",
        "input_tokens", "output_tokens", "cost_usd", "mean_latency_ms"}, ...], "total": {...}}

Groups are those of the CURRENT memberships: a call of a user in two groups counts in both (so
group rows may add up to more than the total), a user in none counts under ``(no group)``.
``since`` and ``until`` are inclusive UTC dates. ``principal_id`` restricts the rollup to one
principal's own calls (what a non-admin may see).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg.rows import DictRow

from tether.errors import InvalidInput
from tether.store.rows import one

BY = ("user", "group", "api_key", "model", "kind", "day", "month")

_KEY = {
    "user": ("e.principal_id", "coalesce(p.name, '(deleted user)')",
             " LEFT JOIN principals p ON p.id = e.principal_id", "e.principal_id, p.name"),
    "group": ("g.id", "coalesce(g.name, '(no group)')",
              " LEFT JOIN memberships m ON m.principal_id = e.principal_id LEFT JOIN groups g ON g.id = m.group_id",
              "g.id, g.name"),
    "api_key": ("e.api_key_id", "CASE WHEN e.api_key_id IS NULL THEN '(no key)' ELSE coalesce("
                "'tth_' || k.prefix || CASE WHEN k.name <> '' THEN ' (' || k.name || ')' ELSE '' END,"
                " '#' || e.api_key_id) END", " LEFT JOIN api_keys k ON k.id = e.api_key_id",
                "e.api_key_id, k.prefix, k.name"),
    "model": ("e.model", "e.model", "", "e.model"),
    "kind": ("e.kind", "e.kind", "", "e.kind"),
    "day": ("(e.at AT TIME ZONE 'UTC')::date", "to_char((e.at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')", "",
            "1"),
    "month": ("date_trunc('month', e.at AT TIME ZONE 'UTC')::date",
              "to_char(date_trunc('month', e.at AT TIME ZONE 'UTC'), 'YYYY-MM')", "", "1"),
}

_AGG = ("count(*) AS calls, count(*) FILTER (WHERE NOT e.ok) AS failed_calls,"
        " coalesce(sum(e.input_tokens), 0) AS input_tokens, coalesce(sum(e.output_tokens), 0) AS output_tokens,"
        " coalesce(sum(e.cost_usd), 0) AS cost_usd, coalesce(avg(e.latency_ms), 0) AS mean_latency_ms")


def parse_day(value: str | date | None) -> date | None:
    """``YYYY-MM-DD`` (or a date) to a date; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput("not a date (use YYYY-MM-DD)") from None
    if not 1000 <= day.year <= 2999:  # "the day after" must not overflow (the API's Day type agrees)
        raise InvalidInput("dates must lie between 1000-01-01 and 2999-12-31")
    return day


def _where(since: date | None, until: date | None, principal_id: int | None, kind: str | None,
           model: str | None) -> tuple[str, list[Any]]:
    sql = " WHERE true"
    params: list[Any] = []
    if since is not None:
        sql += " AND e.at >= %s"
        params.append(datetime.combine(since, time(0), tzinfo=UTC))
    if until is not None:
        sql += " AND e.at < %s"
        params.append(datetime.combine(until + timedelta(days=1), time(0), tzinfo=UTC))
    if principal_id is not None:
        sql += " AND e.principal_id = %s"
        params.append(principal_id)
    if kind:
        sql += " AND e.kind = %s"
        params.append(kind)
    if model:
        sql += " AND e.model = %s"
        params.append(model)
    return sql, params


def _figures(r: dict) -> dict:
    return {"calls": int(r["calls"]), "failed_calls": int(r["failed_calls"]),
            "input_tokens": int(r["input_tokens"]), "output_tokens": int(r["output_tokens"]),
            "cost_usd": round(float(r["cost_usd"]), 8), "mean_latency_ms": round(float(r["mean_latency_ms"]), 3)}


def rollup(conn: psycopg.Connection[DictRow], *, by: str = "user", since: str | date | None = None,
           until: str | date | None = None, principal_id: int | None = None, kind: str | None = None,
           model: str | None = None) -> dict:
    """Calls, tokens in/out, cost and mean latency per ``by`` key, plus the total."""
    if by not in BY:
        raise InvalidInput(f"cannot roll usage up by {by!r}; valid: {', '.join(BY)}")
    since, until = parse_day(since), parse_day(until)
    if since and until and since > until:
        raise InvalidInput("'since' is after 'until'")
    key, label, join, group = _KEY[by]
    where, params = _where(since, until, principal_id, kind, model)
    group_by = f"{key}, {label}" if group == "1" else group
    order = "key" if by in ("day", "month") else "cost_usd DESC, calls DESC, label"
    rows = conn.execute(
        f"SELECT {key} AS key, {label} AS label, {_AGG} FROM usage_events e{join}{where}"
        f" GROUP BY {group_by} ORDER BY {order}", params).fetchall()
    total = one(conn.execute(f"SELECT {_AGG} FROM usage_events e{where}", params))
    out_rows = []
    for r in rows:
        k = r["key"]
        out_rows.append({"key": k.isoformat() if isinstance(k, date) else k, "label": r["label"], **_figures(r)})
    return {"by": by, "since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
            "scope": "all" if principal_id is None else "self", "rows": out_rows, "total": _figures(total)}
