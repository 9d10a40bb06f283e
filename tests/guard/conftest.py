"""Guard fixtures: models loaded once per session, and a wall against network access.

Every test in this folder runs with IP sockets disabled, so a library that tries to download
(a spaCy model, tldextract's suffix list, jailguard's model) fails the test instead of
silently working on a machine that happens to be online.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tether.guard import GuardSettings, InjectionGuard, PiiDetector


class NetworkBlocked(RuntimeError):
    pass


def _local(sock: socket.socket, address: object) -> bool:
    if sock.family == socket.AF_UNIX:
        return True
    host = address[0] if isinstance(address, tuple) else address
    return host in ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    """Every guard test runs with the outside network refused (loopback stays usable), so a
    library that tries to download a model or a suffix list fails the test."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(self: socket.socket, address: object) -> object:
        if _local(self, address):
            return real_connect(self, address)
        raise NetworkBlocked(f"network access attempted: {address!r}")

    def guarded_ex(self: socket.socket, address: object) -> object:
        if _local(self, address):
            return real_connect_ex(self, address)
        raise NetworkBlocked(f"network access attempted: {address!r}")

    socket.socket.connect = guarded  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = guarded_ex  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def guard_settings() -> GuardSettings:
    return GuardSettings()


@pytest.fixture(scope="session")
def pii_full(guard_settings: GuardSettings) -> PiiDetector:
    detector = PiiDetector(guard_settings, mode="full")
    detector.warm_up()
    return detector


@pytest.fixture(scope="session")
def pii_light(guard_settings: GuardSettings) -> PiiDetector:
    return PiiDetector(guard_settings, mode="light")


@pytest.fixture(scope="session")
def input_guard(guard_settings: GuardSettings) -> InjectionGuard:
    guard = InjectionGuard(guard_settings, "input")
    guard.warm_up()
    return guard
