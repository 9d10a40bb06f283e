"""Connection handling: resolve where PostgreSQL is, open a pool, apply migrations.

``open_database(settings)`` is the one entry point. With ``database_url`` empty it starts the
embedded server in the data directory; otherwise it connects to the given server (which must
have the pgvector extension available).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from tether.errors import StoreError
from tether.settings import Settings
from tether.store import embedded
from tether.store.migrations import apply_migrations

log = logging.getLogger(__name__)

EMBEDDED_DBNAME = "tether"


class Database:
    """A pool of connections to one PostgreSQL database, with pgvector types registered."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": False},
            configure=self._configure,
            open=False,
        )

    @staticmethod
    def _configure(conn: psycopg.Connection) -> None:
        register_vector(conn)
        conn.commit()

    def open(self) -> "Database":
        try:
            self.pool.open(wait=True, timeout=30)
        except psycopg.OperationalError as exc:  # pragma: no cover - depends on server state
            raise StoreError(f"could not connect to PostgreSQL: {exc}") from exc
        return self

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; the block's work is committed on success, rolled back on error."""
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            with conn.transaction():
                yield conn

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_url(settings: Settings, *, keep_running: bool = True) -> str:
    """The URL to connect to: the configured one, or the embedded server's (started if needed)."""
    if settings.database_url:
        return settings.database_url
    uri = embedded.start(settings.data_dir, keep_running=keep_running)
    _ensure_database(uri, EMBEDDED_DBNAME)
    return uri.replace("/postgres?", f"/{EMBEDDED_DBNAME}?", 1)


def _ensure_database(admin_uri: str, name: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def open_database(settings: Settings, *, keep_running: bool = True, migrate: bool = True) -> Database:
    """Start/attach PostgreSQL, apply migrations, return an open :class:`Database`."""
    url = resolve_url(settings, keep_running=keep_running)
    if migrate:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                apply_migrations(conn)
        except psycopg.OperationalError as exc:
            raise StoreError(f"could not connect to PostgreSQL: {exc}") from exc
    return Database(url, min_size=settings.pool_min, max_size=settings.pool_max).open()


@contextmanager
def scratch_database(settings: Settings, *, keep: bool = False, prefix: str = "tether_scratch") -> Iterator[str]:
    """A new, migrated database on the same server, dropped afterwards unless ``keep``."""
    import uuid

    base = resolve_url(settings)
    info = psycopg.conninfo.conninfo_to_dict(base)
    admin = psycopg.conninfo.make_conninfo(**{**info, "dbname": "postgres"})
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(**{**info, "dbname": name})
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn)
        yield url
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
