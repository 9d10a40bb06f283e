"""Request traces and the drift monitors, as people may see them.

The rules, for the API, the UI and ``tether traces`` / ``tether monitor`` alike: everyone sees
their own traces; administrators see everyone's (and may filter by user) plus the attributes
starting with ``admin.``; to anyone else a trace does not exist (NotFound, as for an unknown
id). The drift figures, alerts, acknowledgements and trace purging are for administrators.
"""

from __future__ import annotations

import builtins
from typing import Any

from tether.observe import drift
from tether.observe import store as obs_store
from tether.services.permissions import actor_id, require_admin
from tether.settings import Settings
from tether.store.db import Database
from tether.types import Principal


class TraceService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    # traces ---------------------------------------------------------------------------------
    def list(self, viewer: Principal, *, principal: str | None = None, status: str | None = None,
             limit: int = 50) -> list[dict]:
        """Newest first: the viewer's own, or (administrators) everyone's / ``principal``'s."""
        with self.db.connection() as conn:
            return obs_store.list_traces(conn, viewer_id=viewer.id, admin=viewer.is_admin,
                                         principal=principal if viewer.is_admin else None, status=status,
                                         limit=max(1, min(limit, 1000)))

    def get(self, viewer: Principal, trace_id: str) -> dict:
        """One trace with its span tree and model calls, for its asker or an administrator."""
        with self.db.connection() as conn:
            return obs_store.get(conn, trace_id, viewer_id=viewer.id, admin=viewer.is_admin)

    def purge(self, actor: Principal, older_than_days: float | None = None) -> tuple[int, float]:
        """Delete traces older than the retention (model-call usage events stay: the ledger);
        returns (deleted, days)."""
        require_admin(actor, "purging traces")
        days = self.settings.observe.trace_retention_days if older_than_days is None else older_than_days
        with self.db.transaction() as conn:
            return obs_store.purge(conn, older_than_days=days), days

    # drift monitors (administrators) ----------------------------------------------------------
    def monitor(self, viewer: Principal, *, hours: int | None = 24, raise_alerts: bool = False) -> dict[str, Any]:
        """The drift figures (current window vs baseline) with the open alerts; ``hours``: the
        per-hour series too; ``raise_alerts``: run the monitors, raising alerts for breaches
        (``raised``)."""
        require_admin(viewer, "the drift monitor")
        cfg = self.settings.observe
        with self.db.connection() as conn:
            if raise_alerts:
                report = drift.check(conn, cfg)
            else:
                report = {"windows": {k: v.isoformat() for k, v in drift.windows(cfg).items()},
                          "min_samples": cfg.drift_min_samples,
                          "figures": [f.to_dict() for f in drift.figures(conn, cfg)], "raised": [],
                          "open": drift.list_alerts(conn, open_only=True)}
            if hours:
                report["hourly"] = drift.hourly(conn, hours=hours)
        return report

    def alerts(self, viewer: Principal, *, open_only: bool = False, limit: int = 100) -> builtins.list[dict]:
        require_admin(viewer, "drift alerts")
        with self.db.connection() as conn:
            return drift.list_alerts(conn, open_only=open_only, limit=limit)

    def acknowledge(self, viewer: Principal, alert_id: int) -> dict:
        """Acknowledge an alert (the monitor may raise a new one on the next breach)."""
        require_admin(viewer, "acknowledging alerts")
        with self.db.transaction() as conn:
            return drift.acknowledge(conn, alert_id, actor_id(viewer))
