"""Fixtures for the ingest tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_samples import write_samples


@pytest.fixture
def samples(tmp_path: Path) -> dict[str, Path]:
    return write_samples(tmp_path)
