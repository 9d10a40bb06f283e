"""Fixtures for the connector tests: an engine on a fresh database."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def engine(settings, embedder):
    from tether.engine import Tether

    t = Tether(settings, secrets={})
    t._embedder = embedder  # the session's warmed-up embedder (same model)
    yield t
    t.close()
