"""One live server per test module (a fresh database cloned from the migrated template)."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from .server import LiveServer, seed
from tether.engine import Tether
from tether.settings import Settings


def _with_db(url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="module")
def module_settings(pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory):
    name = f"t_api_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield Settings(data_dir=tmp_path_factory.mktemp("api") / "data", database_url=_with_db(pg_server, name))
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def live(module_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    """(server, keys): a running server over a seeded database; keys by user name."""
    engine = Tether(module_settings)
    keys = seed(engine, tmp_path_factory.mktemp("docs"))
    with LiveServer(engine) as server:
        yield server, keys
    engine.close()
