"""Shared fixtures: a real embedded PostgreSQL (one server per test session) and fresh databases.

Every test that needs a database gets its own, cloned from a migrated template, so tests never
see each other's rows. ``TETHER_TEST_DATABASE_URL`` (a server URL with a superuser) makes the
suite use an external PostgreSQL instead of the embedded one.
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path

import psycopg
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tether.settings import Settings  # noqa: E402
from tether.store import embedded  # noqa: E402
from tether.store.db import Database  # noqa: E402
from tether.store.migrations import apply_migrations  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
_counter = itertools.count()


def _with_db(url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory):
    """Admin URL of a PostgreSQL server for the whole session."""
    external = os.environ.get("TETHER_TEST_DATABASE_URL")
    if external:
        yield external
        return
    data_dir = Path("/tmp") / f"tether-test-{os.getpid()}"
    uri = embedded.start(data_dir, keep_running=True)
    yield uri
    embedded.stop(data_dir)
    import shutil

    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> str:
    name = f"tether_tpl_{os.getpid()}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(_with_db(pg_server, name), autocommit=True) as conn:
        apply_migrations(conn)
    return name


@pytest.fixture
def db_url(pg_server: str, template_db: str) -> str:
    """URL of a fresh, migrated, empty database for one test."""
    name = f"t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield _with_db(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
def db(db_url: str):
    database = Database(db_url, min_size=1, max_size=4).open()
    yield database
    database.close()


@pytest.fixture(scope="session")
def embedder():
    from tether.embed.onnx_minilm import OnnxEmbedder
    from tether.settings import EmbedSettings

    e = OnnxEmbedder(EmbedSettings())
    e.warm_up()
    return e
