"""Connection handling: resolve where PostgreSQL is, open a pool, apply migrations, and the one
place where PostgreSQL's failures become Tether's.

``open_database(settings)`` is the one entry point. With ``database_url`` empty it starts the
embedded server in the data directory; otherwise it connects to the given server (which must
have the pgvector extension available).

Every request reaches the database through :meth:`Database.connection` (or ``transaction``).
There, and only there, a lost connection, a server shutting down or restarting, or no pooled
connection in time (psycopg's ``OperationalError`` and ``InterfaceError``, the pool's
``PoolTimeout``) becomes :class:`~tether.errors.StoreUnavailable` (HTTP 503 with
``Retry-After``), ``raise ... from exc``. Transaction rollbacks (serialization failures,
deadlocks: SQLSTATE class 40) pass through unchanged for the callers that retry them.

Recovery without a restart: a connection is checked (an empty query) when it leaves the pool;
a broken one is discarded and, if the server cannot be reached either, the request fails at
once instead of waiting for the pool. While the server is down each request first tries one
direct connection (at most one try a second), so it fails in milliseconds; the pool stops
retrying in the background after a few seconds and grows again on demand once the server is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from tether.errors import StoreUnavailable
from tether.settings import Settings
from tether.store import embedded
from tether.store.migrations import apply_migrations

log = logging.getLogger(__name__)

EMBEDDED_DBNAME = "tether"
#: What a client is told to wait (seconds) before retrying while the database is unavailable.
RETRY_AFTER_S = 2
#: A background reconnection of the pool gives up after this long (it grows again on demand).
RECONNECT_S = 5.0
#: Timeout of the direct connection that tells "server down" from "this connection broke".
PROBE_TIMEOUT_S = 2
#: At most one probe this often while the server is down; requests in between fail at once.
PROBE_INTERVAL_S = 1.0
#: How long a request waits for a second (spare) connection before doing without it.
SPARE_TIMEOUT_S = 0.05

_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError)  # PoolTimeout is an OperationalError


def unavailable(exc: BaseException, action: str = "the database is unavailable") -> StoreUnavailable:
    """The typed error for a PostgreSQL failure (no query text or parameters in the message)."""
    return StoreUnavailable(f"{action} ({type(exc).__name__}); retry in a few seconds",
                            retry_after=RETRY_AFTER_S)


def _is_rollback(exc: BaseException) -> bool:
    """A serialization failure or deadlock: the server is fine, the transaction is to retry."""
    return str(getattr(exc, "sqlstate", "") or "").startswith("40")


class Database:
    """A pool of connections to one PostgreSQL database, with pgvector types registered."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, timeout_s: float = 30.0) -> None:
        self.url = url
        self.pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout_s,
            reconnect_timeout=RECONNECT_S,
            kwargs={"row_factory": dict_row, "autocommit": False},
            configure=self._configure,
            open=False,
        )
        self._down = False  # a connection-level failure was seen: probe before using the pool
        self._probe_failed_at = 0.0

    @staticmethod
    def _configure(conn: psycopg.Connection[DictRow]) -> None:
        register_vector(conn)
        conn.commit()

    def open(self) -> Database:
        try:
            self.pool.open(wait=True, timeout=30)
        except _UNAVAILABLE as exc:  # pragma: no cover - depends on server state
            raise StoreUnavailable(f"could not connect to PostgreSQL: {exc}", retry_after=RETRY_AFTER_S) from exc
        return self

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        """A pooled connection; the block's work is committed on success, rolled back on error.

        PostgreSQL becoming unavailable, here or inside the block, raises :class:`StoreUnavailable`."""
        with self._use(self._checkout()) as conn:
            yield conn

    @contextmanager
    def _use(self, conn: psycopg.Connection[DictRow]) -> Iterator[psycopg.Connection[DictRow]]:
        """Run the block on a checked-out ``conn`` (committed on success) and give it back."""
        try:
            with conn:
                yield conn
        except _UNAVAILABLE as exc:
            if _is_rollback(exc):
                raise
            if conn.closed or conn.broken:
                self._mark_down(exc)
            raise unavailable(exc) from exc
        finally:
            self.pool.putconn(conn)  # a broken connection is discarded (and replaced) by the pool

    @contextmanager
    def spare(self, timeout_s: float = SPARE_TIMEOUT_S) -> Iterator[psycopg.Connection[DictRow] | None]:
        """A second pooled connection for work that can run beside the caller's (the two searches
        of a hybrid retrieval), or ``None`` when none is free within ``timeout_s``: a request never
        waits for a second connection while holding its first (no pool deadlock under load)."""
        if self._down:
            yield None
            return
        try:
            conn = self.pool.getconn(timeout=timeout_s)
        except _UNAVAILABLE:
            yield None
            return
        try:
            ConnectionPool.check_connection(conn)
        except _UNAVAILABLE:
            self.pool.putconn(conn)
            yield None
            return
        with self._use(conn) as c:
            yield c

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[DictRow]]:
        with self.connection() as conn, conn.transaction():
            yield conn

    def _checkout(self) -> psycopg.Connection[DictRow]:
        """A working connection from the pool, or :class:`StoreUnavailable` without a long wait."""
        if self._down:
            self._probe()
        for _ in range(self.pool.max_size + 1):  # every pooled connection may have broken at once
            try:
                conn = self.pool.getconn()
            except _UNAVAILABLE as exc:
                self._probe()  # the server is gone, or every connection is busy
                raise unavailable(exc, "no database connection was free in time") from exc
            try:
                ConnectionPool.check_connection(conn)
            except _UNAVAILABLE as exc:
                self.pool.putconn(conn)
                log.info("discarding a broken pooled connection: %s", exc)
                self._mark_down(exc)
                self._probe()  # raises if the server cannot be reached; else try the next one
                continue
            return conn
        raise StoreUnavailable("no working database connection; retry in a few seconds", retry_after=RETRY_AFTER_S)

    def _mark_down(self, exc: BaseException) -> None:
        if not self._down:
            log.warning("lost the connection to PostgreSQL (%s: %s)", type(exc).__name__, exc)
        self._down = True

    def _probe(self) -> None:
        """Raise :class:`StoreUnavailable` unless a direct connection to the server succeeds."""
        if self._down and time.monotonic() - self._probe_failed_at < PROBE_INTERVAL_S:
            raise StoreUnavailable("the database is unavailable; retry in a few seconds", retry_after=RETRY_AFTER_S)
        try:
            psycopg.connect(self.url, connect_timeout=PROBE_TIMEOUT_S, autocommit=True).close()
        except _UNAVAILABLE as exc:
            self._down, self._probe_failed_at = True, time.monotonic()
            raise unavailable(exc) from exc
        if self._down:
            log.warning("PostgreSQL is reachable again")
        self._down = False

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_url(settings: Settings, *, keep_running: bool = True) -> str:
    """The URL to connect to: the configured one, or the embedded server's (started if needed)."""
    if settings.database_url:
        return settings.database_url
    uri = embedded.start(settings.data_dir, keep_running=keep_running)
    if settings.retrieve.keyword_backend == "pg_textsearch":
        from tether.store.extensions import ensure_pg_textsearch

        ensure_pg_textsearch(uri, settings.data_dir)
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
                if settings.retrieve.keyword_backend == "pg_textsearch":
                    from tether.store.extensions import ensure_bm25_index

                    ensure_bm25_index(conn, k1=settings.retrieve.k1, b=settings.retrieve.b)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"could not connect to PostgreSQL: {exc}", retry_after=RETRY_AFTER_S) from exc
    return Database(url, min_size=settings.pool_min, max_size=settings.pool_max,
                    timeout_s=settings.pool_timeout_s).open()


@contextmanager
def scratch_database(settings: Settings, *, keep: bool = False, prefix: str = "tether_scratch") -> Iterator[str]:
    """A new, migrated database on the same server, dropped afterwards unless ``keep``."""
    import uuid

    base = resolve_url(settings)
    info = psycopg.conninfo.conninfo_to_dict(base)
    admin = psycopg.conninfo.make_conninfo("", **{**info, "dbname": "postgres"})
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo("", **{**info, "dbname": name})
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn)
        yield url
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
