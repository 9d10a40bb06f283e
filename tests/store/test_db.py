"""The store's one error boundary (``Database.connection``/``transaction``) on a real PostgreSQL:
lost connections and pool timeouts become ``StoreUnavailable`` (``raise ... from``), broken pooled
connections are replaced on checkout, and transaction rollbacks pass through for their retriers."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tether.errors import StoreUnavailable
from tether.store.db import Database


def _terminate(admin_url: str, pid: int) -> None:
    """What a server restart or an admin does to a backend (SQLSTATE 57P01, admin shutdown)."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    time.sleep(0.2)  # the backend is gone


def _pid(db: Database) -> int:
    with db.connection() as conn:
        return int(conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"])


def test_a_connection_lost_mid_block_is_store_unavailable(db_url):
    with Database(db_url, min_size=1, max_size=2) as db:
        db.open()
        with pytest.raises(StoreUnavailable) as exc, db.transaction() as conn:
            pid = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
            _terminate(db_url, pid)
            conn.execute("SELECT 1")
        err = exc.value
        assert isinstance(err.__cause__, (psycopg.OperationalError, psycopg.InterfaceError))
        assert (err.status, err.code) == (503, "store_unavailable") and err.details["retry_after"] >= 1
        assert "SELECT" not in err.message  # no query text in what a client may see
        # the broken connection was discarded: the next block works, on a new backend
        with db.connection() as conn:
            assert conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"] != pid


def test_broken_idle_connections_are_replaced_on_checkout(db_url):
    with Database(db_url, min_size=2, max_size=2) as db:
        db.open()
        held = threading.Barrier(2)
        pids: list[int] = []

        def hold() -> None:  # two connections checked out at once: both pooled ones are in use
            with db.connection() as conn:
                pids.append(conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"])
                held.wait(timeout=10)

        threads = [threading.Thread(target=hold) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        for pid in set(pids):
            _terminate(db_url, pid)
        # every idle connection is dead (what a database restart leaves): requests never see it
        for _ in range(3):
            assert _pid(db) not in pids


def test_no_free_connection_in_time_is_store_unavailable(db_url):
    with Database(db_url, min_size=1, max_size=1, timeout_s=0.5) as db:
        db.open()
        with db.connection():
            t0 = time.monotonic()
            with pytest.raises(StoreUnavailable, match="no database connection was free"), db.connection():
                pass
            assert time.monotonic() - t0 < 3
        with db.connection() as conn:  # and the pool still works afterwards
            assert conn.execute("SELECT 1 AS one").fetchone()["one"] == 1


def test_transaction_rollbacks_pass_through_unchanged(db):
    with pytest.raises(psycopg.errors.SerializationFailure), db.transaction():
        raise psycopg.errors.SerializationFailure("a concurrent writer won")
    with db.connection() as conn:
        assert conn.execute("SELECT 1 AS one").fetchone()["one"] == 1
