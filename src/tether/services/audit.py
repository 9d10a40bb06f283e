"""The audit log as the edges write and read it: one record per change, and the recent log for
administrators with each actor's name (the CLI's operator shown as "(operator)").

Why a service: every admin change is audited by the service that makes it; this one covers
what the edges record themselves and the ``tether audit`` view (admin-only).
"""

from __future__ import annotations

from tether.services.permissions import actor_id, require_admin
from tether.store import audit, principals
from tether.store.db import Database
from tether.types import Principal

OPERATOR = "(operator)"


class AuditService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, principal: Principal, action: str, details: dict, target: str | None = None) -> None:
        with self.db.transaction() as conn:
            audit.record(conn, action, actor_id=actor_id(principal), target=target, details=details)

    def recent(self, viewer: Principal, *, action: str | None = None, user: str | None = None,
               limit: int = 50) -> list[dict]:
        """The newest records first; ``action`` is a prefix (``admin.`` for every admin change),
        ``user`` the actor's name. Each record gets ``actor``: a name, or "(operator)"."""
        require_admin(viewer, "the audit log")
        with self.db.connection() as conn:
            actor = principals.get_principal(conn, user).id if user else None
            rows = audit.recent(conn, actor_id=actor, limit=limit if not action else 10_000)
            names = principals.names_by_id(conn)
        if action:
            rows = [r for r in rows if r["action"].startswith(action)][:limit]
        for r in rows:
            r["actor"] = names.get(r["actor_id"], OPERATOR if r["actor_id"] is None else str(r["actor_id"]))
        return rows
