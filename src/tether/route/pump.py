"""A model stream advanced in a helper thread, so a caller can wait for the next delta with a
timeout (first-token and deadline limits of :mod:`tether.route.resilience`) without running the
provider's iterator alongside the caller."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)


class WaitTimeout(Exception):
    """The helper thread did not produce the next item in time."""


class Pump:
    """Advances an iterator in a helper thread, one item per :meth:`next` call, so the caller can
    wait with a timeout. Lockstep: the iterator only runs while the caller waits for it, never
    alongside the caller. On a timeout the iterator is abandoned: the helper closes it as soon as
    the blocked step returns (bounded by the provider's own timeout)."""

    _END = object()

    def __init__(self, it: Iterator[str]) -> None:
        self._it = it
        self._cmd: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._out: queue.SimpleQueue[tuple[object, BaseException | None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._abandoned = False
        self._done = False
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while self._cmd.get():
            try:
                res: tuple[object, BaseException | None] = (next(self._it), None)
            except StopIteration:
                res = (self._END, None)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                res = (None, exc)
            with self._lock:
                if not self._abandoned:
                    self._out.put(res)
                    if res[0] is self._END or res[1] is not None:
                        return
                    continue
            _close(self._it)
            return

    def next(self, timeout: float) -> str:
        if self._done:
            raise StopIteration
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tether-stream", daemon=True)
            self._thread.start()
        self._cmd.put(True)
        try:
            item, exc = self._out.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            with self._lock:
                try:
                    item, exc = self._out.get_nowait()  # it arrived just now
                except queue.Empty:
                    self._abandoned = self._done = True
                    raise WaitTimeout from None
        if exc is not None:
            self._done = True
            raise exc
        if item is self._END:
            self._done = True
            raise StopIteration
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the helper and close the iterator (unless a timed-out step still owns it)."""
        with self._lock:
            if self._abandoned:
                return
            self._abandoned = True
        if self._thread is not None:
            self._cmd.put(False)
        _close(self._it)


def _close(it: Iterator[str]) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - closing a broken stream must not raise
            log.debug("closing a model stream failed", exc_info=True)
