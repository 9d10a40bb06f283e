"""What requests cost, and the budgets that cap it.

Why a service: ``GET /v1/usage``, the usage page and ``tether usage`` roll up the same ledger
under one rule (administrators see everyone's and may pick a user; anyone else sees only their
own calls, whatever they ask for), and budgets are administered, and audited, the same way from
the API and the CLI.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tether.errors import InvalidInput, PermissionDenied
from tether.services.permissions import actor_id, require_admin
from tether.store import audit, budgets, principals
from tether.store import usage as ledger
from tether.store.db import Database
from tether.types import Principal


class UsageService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def rollup(self, principal: Principal, *, by: str = "user", since: str | date | None = None,
               until: str | date | None = None, user: str | None = None, kind: str | None = None) -> dict:
        """Calls, tokens, cost and mean latency per ``by`` key, plus the total. Administrators:
        everyone's, or ``user``'s; anyone else: their own (another ``user``: PermissionDenied)."""
        with self.db.connection() as conn:
            if principal.is_admin:
                pid = principals.get_principal(conn, user).id if user else None
            else:
                if user and user != principal.name:
                    raise PermissionDenied("you may only see your own usage")
                pid = principal.id
            out = ledger.rollup(conn, by=by, since=since, until=until, principal_id=pid, kind=kind)
        if pid is not None:
            out["user"] = user or principal.name
        return out

    def page(self, principal: Principal, since: str | None = None, until: str | None = None) -> dict[str, Any]:
        """The usage page's figures for a day range (default: the last 30 days; a bad date in
        the URL falls back to it): per day and per model for everyone (their own calls unless an
        administrator), per user for administrators; the budgets they may see (administrators:
        all; others: their user and API-key budgets, whose figures are theirs alone)."""
        today = datetime.now(UTC).date()
        try:
            end = ledger.parse_day(until) or today
            start = ledger.parse_day(since) or end - timedelta(days=29)
        except InvalidInput:
            start, end = today - timedelta(days=29), today
        if start > end:
            start, end = end, start
        pid = None if principal.is_admin else principal.id
        with self.db.connection() as conn:
            per_day = ledger.rollup(conn, by="day", since=start, until=end, principal_id=pid)
            per_model = ledger.rollup(conn, by="model", since=start, until=end, principal_id=pid)
            per_user = ledger.rollup(conn, by="user", since=start, until=end) if principal.is_admin else None
            rows = budgets.list_budgets(conn) if principal.is_admin else budgets.list_budgets(
                conn, principal=principal, own_only=True)
        return {"since": start, "until": end, "per_day": per_day, "per_model": per_model, "per_user": per_user,
                "budgets": rows, "everyone": principal.is_admin}

    # budgets (administrators) --------------------------------------------------------------------
    def budgets(self, actor: Principal) -> list[dict]:
        """Every budget with the current period's spend, holds in flight and what remains."""
        require_admin(actor, "the budget list")
        with self.db.connection() as conn:
            return budgets.list_budgets(conn)

    def set_budget(self, actor: Principal, *, scope: str, target: str, period: str = "month",
                   limit_usd: float, kind: str = "hard", via: str | None = None) -> dict:
        """Create or change a budget (same scope, target, period and kind: changed), audited."""
        require_admin(actor, "setting budgets")
        with self.db.transaction() as conn:
            b = budgets.set_budget(conn, scope=scope, target=target, period=period, limit_usd=limit_usd, kind=kind)
            audit.record(conn, "admin.budget.set", actor_id=actor_id(actor), target=f"budget:{b['id']}",
                         details={**({"via": via} if via else {}), "scope": scope, "target": b["scope_name"],
                                  "period": period, "kind": b["kind"], "limit_usd": b["limit_usd"],
                                  "created": b["created"]})
        return b

    def delete_budget(self, actor: Principal, budget_id: int, *, via: str | None = None) -> dict:
        """Delete a budget and its ledger, audited; returns what it was."""
        require_admin(actor, "deleting budgets")
        with self.db.transaction() as conn:
            b = budgets.delete_budget(conn, budget_id)
            audit.record(conn, "admin.budget.delete", actor_id=actor_id(actor), target=f"budget:{budget_id}",
                         details={**({"via": via} if via else {}), "scope": b["scope"], "target": b["scope_name"],
                                  "period": b["period"], "kind": b["kind"], "limit_usd": b["limit_usd"]})
        return b
