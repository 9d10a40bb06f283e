"""One live server per test module (a fresh database cloned from the migrated template)."""

from __future__ import annotations

import pytest

from .server import live_server


@pytest.fixture(scope="module")
def live(pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory):
    """(server, keys): a running uvicorn over a seeded database; API keys by user name."""
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("api")) as pair:
        yield pair
