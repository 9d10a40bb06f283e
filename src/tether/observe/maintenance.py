"""Periodic observability work in a server process: purge traces past their retention and run the
drift monitors, on a daemon thread (``observe.purge_interval_s`` / ``observe.drift_interval_s``;
0 turns either off). Several replicas may each run one: purging is idempotent and drift checks
serialise on an advisory lock, with at most one open alert per monitor."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from tether.observe import drift
from tether.observe import store as obs_store

log = logging.getLogger(__name__)


def purge(engine: Any, older_than_days: float | None = None) -> int:
    days = engine.settings.observe.trace_retention_days if older_than_days is None else older_than_days
    with engine.db.transaction() as conn:
        n = obs_store.purge(conn, older_than_days=days)
    if n:
        log.info("purged %d traces older than %g days", n, days)
    return n


def check_drift(engine: Any, on_alert: Callable[[dict], None] | None = None) -> dict:
    with engine.db.connection() as conn:
        return drift.check(conn, engine.settings.observe, on_alert=on_alert)


class Maintenance:
    def __init__(self, engine: Any, *, on_alert: Callable[[dict], None] | None = None,
                 first_delay_s: float = 10.0) -> None:
        self.engine = engine
        self.on_alert = on_alert
        self.first_delay_s = first_delay_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = {"purge": 0, "drift": 0}

    def _jobs(self) -> list[tuple[str, float, Callable[[], object]]]:
        cfg = self.engine.settings.observe
        jobs: list[tuple[str, float, Callable[[], object]]] = []
        if cfg.purge_interval_s > 0:
            jobs.append(("purge", cfg.purge_interval_s, lambda: purge(self.engine)))
        if cfg.drift_interval_s > 0:
            jobs.append(("drift", cfg.drift_interval_s, lambda: check_drift(self.engine, self.on_alert)))
        return jobs

    def start(self) -> Maintenance:
        jobs = self._jobs()
        if not jobs:
            return self

        def run() -> None:
            due = {name: time.monotonic() + self.first_delay_s for name, _, _ in jobs}
            while not self._stop.is_set():
                now = time.monotonic()
                for name, interval, fn in jobs:
                    if now >= due[name] and not self._stop.is_set():
                        try:
                            fn()
                            self.runs[name] += 1
                        except Exception:  # noqa: BLE001 - try again next interval
                            log.warning("observability %s failed; retrying in %g s", name, interval, exc_info=True)
                        due[name] = time.monotonic() + interval
                self._stop.wait(max(0.05, min(due.values()) - time.monotonic()))

        self._thread = threading.Thread(target=run, name="tether-observe-maintenance", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
