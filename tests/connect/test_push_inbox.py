"""The push API's inbox: pushed items are stored durably and ingested by a worker's sync run,
idempotent by external id, crash-safe (a real SIGKILL), and a bad push stores nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from helpers import SYSTEM, docs

from tether.errors import FileTooLarge, InvalidInput, UnknownPrincipal


def _page(i: int, text: str | None = None) -> dict:
    return {"external_id": f"pages/{i}", "filename": f"page-{i}.md", "title": f"Page {i}",
            "content": text or f"# Page {i}\n\nWiki page number {i} says the meeting room is {i}B. " * 10}


def _inbox(settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM connector_inbox").fetchone()
        return int(row[0]) if row else -1


def test_a_push_is_stored_then_ingested_by_a_worker_idempotently(engine, settings) -> None:
    engine.connectors.add(SYSTEM, "wiki", "push", collection="wiki", config={"acl": ["public"]})
    out = engine.connectors.push(SYSTEM, "wiki", [_page(1), _page(2)])
    assert [i["status"] for i in out["items"]] == ["queued", "queued"] and out["run_id"] is not None
    assert docs(engine, "wiki") == {} and _inbox(settings) == 2  # nothing ingested in the request
    assert engine.connectors.show(SYSTEM, "wiki")["pending_items"] == 2

    again = engine.connectors.push(SYSTEM, "wiki", [_page(1)])  # the same while it waits: one run
    assert again["run_id"] == out["run_id"] and again["items"][0]["status"] == "queued"
    engine.work()
    run = engine.connectors.run(SYSTEM, out["run_id"])
    assert (run["status"], run["added"], run["failed"]) == ("done", 2, 0)
    assert sorted(docs(engine, "wiki")) == ["connector://wiki/pages/1", "connector://wiki/pages/2"]
    assert _inbox(settings) == 0  # the bytes live on only as the documents

    same = engine.connectors.push(SYSTEM, "wiki", [_page(1)])
    assert same["items"][0]["status"] == "unchanged" and same["run_id"] is None
    changed = engine.connectors.push(SYSTEM, "wiki", [_page(1, "# Page 1\n\nThe meeting room moved to 7C.\n")])
    assert changed["items"][0]["status"] == "queued"
    engine.work()
    held = docs(engine, "wiki")["connector://wiki/pages/1"]
    assert held["version"] == 2 and "7C" in engine.documents.get(SYSTEM, held["id"])["body"]
    assert engine.connectors.run(SYSTEM, changed["run_id"])["updated"] == 1


def test_deleting_a_waiting_push_withdraws_it_and_delete_is_idempotent(engine, settings) -> None:
    engine.connectors.add(SYSTEM, "wiki", "push", config={"acl": ["public"]})
    out = engine.connectors.push(SYSTEM, "wiki", [_page(1), _page(2)])
    assert engine.connectors.unpush(SYSTEM, "wiki", ["pages/2"]) == [{"external_id": "pages/2", "status": "deleted"}]
    engine.work()
    assert sorted(docs(engine, "default")) == ["connector://wiki/pages/1"]
    assert engine.connectors.run(SYSTEM, out["run_id"])["added"] == 1 and _inbox(settings) == 0
    assert engine.connectors.unpush(SYSTEM, "wiki", ["pages/1"])[0]["status"] == "deleted"
    assert engine.connectors.unpush(SYSTEM, "wiki", ["pages/1"])[0]["status"] == "unchanged"
    assert docs(engine, "default") == {}


def test_a_bad_push_is_refused_whole_and_stores_nothing(engine, settings) -> None:
    engine.connectors.add(SYSTEM, "wiki", "push", config={"acl": ["public"]})
    engine.settings.ingest.max_file_bytes = 500
    cases = [([_page(1, "small"), _page(2, "x" * 501)], FileTooLarge, "limit is 500"),
             ([_page(1, "small"), {"external_id": "pages/3", "content_base64": "%%%"}], InvalidInput, "base64"),
             ([_page(1, "small"), {**_page(4, "y"), "acl": ["group:nobody"]}], UnknownPrincipal, "ACL"),
             ([_page(1, "small"), _page(1, "again")], InvalidInput, "twice")]
    for items, error, words in cases:
        with pytest.raises(error, match=words):
            engine.connectors.push(SYSTEM, "wiki", items)
    assert _inbox(settings) == 0 and engine.connectors.show(SYSTEM, "wiki")["runs"] == []
    engine.connectors.add(SYSTEM, "share", "folder", config={"path": "/tmp", "acl": ["public"]})
    with pytest.raises(InvalidInput, match="push connector"):
        engine.connectors.push(SYSTEM, "share", [_page(1)])


class _PushWhileEmbedding:
    """The session's embedder; its first call (the run is ingesting, its inbox already listed)
    pushes one more item, as a webhook arriving mid-run would."""

    def __init__(self, inner, push) -> None:
        self.inner, self.push, self.pushed = inner, push, None

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def embed(self, texts):
        if self.pushed is None:
            self.pushed = self.push()
        return self.inner.embed(texts)


def test_an_item_pushed_while_a_run_ingests_gets_its_own_run(engine, embedder) -> None:
    engine.connectors.add(SYSTEM, "wiki", "push", config={"acl": ["public"]})
    first = engine.connectors.push(SYSTEM, "wiki", [_page(1)])
    hook = _PushWhileEmbedding(embedder, lambda: engine.connectors.push(SYSTEM, "wiki", [_page(2)]))
    engine._embedder = hook
    engine.work()  # runs the first run, then the one its last transaction enqueued
    assert hook.pushed["run_id"] == first["run_id"]  # the push saw the run it joined (already listing)
    assert sorted(docs(engine, "default")) == ["connector://wiki/pages/1", "connector://wiki/pages/2"]
    runs = engine.connectors.show(SYSTEM, "wiki")["runs"]
    assert [(r["trigger"], r["status"], r["added"]) for r in runs] == [("push", "done", 1), ("push", "done", 1)]


def test_a_worker_killed_mid_push_loses_and_duplicates_nothing(engine, settings) -> None:
    engine.connectors.add(SYSTEM, "wiki", "push", config={"acl": ["public"]})
    n = 30
    out = engine.connectors.push(SYSTEM, "wiki", [_page(i) for i in range(n)])
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "HF_HUB_OFFLINE": "1", "TETHER_INGEST__JOB_LEASE_S": "3", "TETHER_INGEST__HEARTBEAT_S": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tether.cli.main", "worker", "--once"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while engine.connectors.run(SYSTEM, out["run_id"])["processed"] < 3:
            assert proc.poll() is None and time.monotonic() < deadline, "the worker stopped before the kill"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 0 < _inbox(settings) < n  # what was applied left the inbox with its document, the rest waits
    engine.settings.ingest.job_lease_s = 3
    engine.work(batch_id=out["batch_id"])
    run = engine.connectors.run(SYSTEM, out["run_id"])
    assert (run["status"], run["added"], run["processed"], run["failed"]) == ("done", n, n, 0)
    held = docs(engine, "default")
    assert len(held) == n and {d["version"] for d in held.values()} == {1} and _inbox(settings) == 0
