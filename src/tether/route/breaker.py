"""Circuit breakers per model provider, shared by every request of a process.

    breakers = Breakers(failures=5, cooldown_s=30)       # owned by the engine, one per process
    if breakers.allow(key): ... breakers.success(key) / breakers.failure(key)

A breaker is *closed* (calls pass) until ``failures`` consecutive failures; it is then *open*
(calls are refused at once) for ``cooldown_s``; after that it is *half-open*: ONE call (the probe)
is let through, others are still refused. The probe's success closes the breaker, its failure
re-opens it for another cooldown. A probe that never reports back (its thread died) is given up
after one more cooldown, so a breaker never stays stuck half-open. Thread-safe; the clock is
injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tether.settings import ResilienceSettings

State = Literal["closed", "open", "half_open"]


@dataclass
class _Breaker:
    failures: int = 0
    opened_at: float | None = None  # None: closed
    probe_since: float | None = None  # a half-open probe in flight since


class Breakers:
    def __init__(self, failures: int = 5, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = max(1, failures)
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._lock = threading.Lock()
        self._b: dict[str, _Breaker] = {}

    @classmethod
    def from_settings(cls, rs: ResilienceSettings, clock: Callable[[], float] = time.monotonic) -> Breakers:
        """From the ``[generate.resilience]`` settings."""
        return cls(rs.breaker_failures, rs.breaker_cooldown_s, clock)

    def _state(self, b: _Breaker, now: float) -> State:
        if b.opened_at is None:
            return "closed"
        return "open" if now - b.opened_at < self.cooldown_s else "half_open"

    def state(self, key: str) -> State:
        with self._lock:
            return self._state(self._b.get(key) or _Breaker(), self.clock())

    def allow(self, key: str) -> bool:
        """May a call to ``key`` go ahead now? (In half-open state this claims the one probe.)"""
        with self._lock:
            b = self._b.setdefault(key, _Breaker())
            now = self.clock()
            state = self._state(b, now)
            if state == "closed":
                return True
            if state == "open":
                return False
            if b.probe_since is not None and now - b.probe_since < max(self.cooldown_s, 1e-9):
                return False  # another request is probing
            b.probe_since = now
            return True

    def success(self, key: str) -> bool:
        """Record a success; True when this closed an open/half-open breaker."""
        with self._lock:
            b = self._b.setdefault(key, _Breaker())
            was_open = b.opened_at is not None
            b.failures, b.opened_at, b.probe_since = 0, None, None
            return was_open

    def failure(self, key: str) -> bool:
        """Record a failure; True when this (re-)opened the breaker."""
        with self._lock:
            b = self._b.setdefault(key, _Breaker())
            b.failures += 1
            probing = b.probe_since is not None
            b.probe_since = None
            if probing or (b.opened_at is None and b.failures >= self.threshold):
                b.opened_at = self.clock()
                return True
            return False

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Every known breaker's state and consecutive failures (for status pages and tests)."""
        with self._lock:
            now = self.clock()
            return {k: {"state": self._state(b, now), "failures": b.failures} for k, b in self._b.items()}
