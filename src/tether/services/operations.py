"""Running Tether: readiness, job-queue figures for metrics, the answer cache's statistics and
clearing, and the embedded PostgreSQL server's lifecycle (``tether db start|stop|status``).

Why a service: these are what operators and probes ask of the database; the edges (``/readyz``,
``/metrics``, ``tether cache``, ``tether db``) call them instead of holding SQL or touching the
store. Clearing the cache and reading its figures are for administrators.
"""

from __future__ import annotations

from typing import Any

from tether.services.permissions import require_admin
from tether.settings import Settings
from tether.store import answer_cache, embedded, health, jobs
from tether.store.db import Database, open_database
from tether.types import Principal


class OperationsService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def ping(self) -> None:
        """Raises (StoreUnavailable or the driver's error) when the database does not answer."""
        with self.db.connection() as conn:
            health.ping(conn)

    def job_figures(self) -> tuple[list[dict], list[dict]]:
        """(jobs queued or running per kind and status, finished ingest jobs per outcome)."""
        with self.db.connection() as conn:
            return jobs.active_by_kind(conn), jobs.ingest_outcomes(conn)

    def cache_stats(self, actor: Principal) -> dict[str, Any]:
        """Entries, hits (exact/semantic), misses, hit rate, savings, and the cache settings."""
        require_admin(actor, "the answer cache's figures")
        with self.db.connection() as conn:
            s = answer_cache.stats(conn)
        cfg = self.settings.cache
        return {**s, "enabled": cfg.enabled, "semantic": cfg.semantic, "threshold": cfg.threshold}

    def clear_cache(self, actor: Principal, *, reset_stats: bool = False) -> int:
        """Delete every cached answer (and the hit/miss counters with ``reset_stats``)."""
        require_admin(actor, "clearing the answer cache")
        with self.db.transaction() as conn:
            return answer_cache.clear(conn, reset_stats=reset_stats)


# the embedded server (no engine needed) ---------------------------------------------------------
def start_database(settings: Settings) -> dict[str, Any]:
    """Start the embedded server and migrate (a no-op report when ``database_url`` is set)."""
    if settings.database_url:
        return {"embedded": False, "message": "TETHER_DATABASE_URL is set; using the external server"}
    open_database(settings, keep_running=True).close()
    st = embedded.status(settings.data_dir)
    return {"embedded": True, "running": st.running, "pid": st.pid, "pgdata": str(st.pgdata)}


def stop_database(settings: Settings) -> bool:
    """Stop the embedded server; whether it was running."""
    return embedded.stop(settings.data_dir)


def database_status(settings: Settings) -> dict[str, Any]:
    st = embedded.status(settings.data_dir)
    return {"external": bool(settings.database_url), "running": st.running, "pid": st.pid, "pgdata": str(st.pgdata)}
