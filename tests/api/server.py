"""A real uvicorn server on 127.0.0.1 (random free port) in a thread, for API and UI tests."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import uvicorn

from tether.api import create_app
from tether.engine import Tether
from tether.settings import ApiSettings, Settings
from tether.store import api_keys, principals

DOC_LEAVE = (
    "# Annual leave policy\n\nEmployees accrue 27 days of annual leave per year. Leave requests go to the "
    "line manager at least two weeks in advance.\n\nUnused leave of up to five days may be carried over to "
    "the next calendar year.\n"
)
DOC_SECRET = (
    "# Project Nightingale salary bands\n\nThe salary band for a senior engineer in Project Nightingale is "
    "between 91,000 and 118,000 euro. Band reviews happen every March.\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, engine: Tether, api_settings: ApiSettings | None = None) -> None:
        self.engine = engine
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = engine.settings if api_settings is None else engine.settings.model_copy(update={"api": api_settings})
        app = create_app(settings, engine=engine)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def seed(engine: Tether, tmp: Path) -> dict[str, str]:
    """Users (admin, ana in hr, eve in no group), two documents, and a key per user."""
    keys: dict[str, str] = {}
    with engine.db.transaction() as conn:
        principals.ensure_group(conn, "hr")
        principals.ensure_user(conn, "root", role="admin")
        for name in ("ana", "eve"):
            principals.ensure_user(conn, name)
        principals.add_member(conn, "ana", "hr")
        for name in ("root", "ana", "eve"):
            keys[name] = api_keys.create_key(conn, name, name="test")["key"]
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "leave.md").write_text(DOC_LEAVE, encoding="utf-8")
    (tmp / "nightingale.md").write_text(DOC_SECRET, encoding="utf-8")
    b1 = engine.enqueue_ingest([tmp / "leave.md"], collection="handbook", acl=["public"], owner="root")
    b2 = engine.enqueue_ingest([tmp / "nightingale.md"], collection="hr", acl=["group:hr"], owner="root",
                               classification="restricted")
    engine.work(batch_id=b1.batch_id)
    engine.work(batch_id=b2.batch_id)
    return keys


@contextmanager
def module_database(pg_server: str, template_db: str, data_dir: Path) -> Iterator[Settings]:
    """Settings on a fresh database cloned from the migrated template (for module-scoped servers)."""
    name = f"t_api_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    info = psycopg.conninfo.conninfo_to_dict(pg_server)
    info["dbname"] = name
    try:
        yield Settings(data_dir=data_dir, database_url=psycopg.conninfo.make_conninfo(**info))
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def live_server(pg_server: str, template_db: str, tmp: Path) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    with module_database(pg_server, template_db, tmp / "data") as settings:
        engine = Tether(settings)
        try:
            keys = seed(engine, tmp / "docs")
            with LiveServer(engine) as server:
                yield server, keys
        finally:
            engine.close()


def ui_sign_in(client, key: str):
    """Sign ``client`` (an ``httpx.Client`` on the server) in through the UI's form, CSRF token
    included, as a browser would: fetch the form, post it back."""
    import re

    form = client.get("/ui/sign-in").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
    assert token, "the sign-in form has no CSRF token"
    return client.post("/ui/sign-in", data={"api_key": key, "csrf_token": token.group(1)})
