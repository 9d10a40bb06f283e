"""Scheduling, crash safety and retries of sync runs (real workers, a real SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from helpers import SYSTEM, docs, sync

from tether.connect.base import CommonConfig, Item, ItemRef, Listing
from tether.connect.registry import register


def test_a_scheduled_connector_is_synced_by_an_idle_worker_once_per_interval(engine, tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    (share / "a.md").write_text("# A\n\nThe scheduled sync found this.\n")
    engine.connectors.add(SYSTEM, "sched", "folder", config={"path": str(share), "acl": ["public"]},
                          interval_s=3600)
    engine.work()  # an idle worker: enqueues the due run, then runs it
    [row] = engine.connectors.list(SYSTEM)
    assert row["last_run"]["status"] == "done" and row["documents"] == 1
    assert row["next_run_at"] > row["last_run"]["created_at"]
    engine.work()  # not due again for an hour: no second run
    assert len(engine.connectors.show(SYSTEM, "sched")["runs"]) == 1


def test_a_worker_killed_mid_sync_loses_and_duplicates_nothing(engine, settings, tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    n = 24
    for i in range(n):
        (share / f"note-{i:02d}.md").write_text(f"# Note {i}\n\nItem number {i} of the share. " * 20)
    engine.connectors.add(SYSTEM, "big", "folder", config={"path": str(share), "acl": ["public"]})
    started = engine.connectors.sync(SYSTEM, "big")
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "HF_HUB_OFFLINE": "1", "TETHER_INGEST__JOB_LEASE_S": "3", "TETHER_INGEST__HEARTBEAT_S": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tether.cli.main", "worker", "--once"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while engine.connectors.run(SYSTEM, started["run_id"])["processed"] < 3:
            assert proc.poll() is None and time.monotonic() < deadline, "the worker stopped before the kill"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_at = engine.connectors.run(SYSTEM, started["run_id"])
    assert killed_at["status"] == "running" and 3 <= killed_at["processed"] < n

    engine.settings.ingest.job_lease_s = 3
    engine.work(batch_id=started["batch_id"])  # another worker claims the abandoned job: the run resumes
    run = engine.connectors.run(SYSTEM, started["run_id"])
    assert (run["status"], run["added"], run["processed"], run["failed"], run["updated"]) == ("done", n, n, 0, 0)
    held = docs(engine, "default")
    assert len(held) == n and {d["version"] for d in held.values()} == {1}
    with psycopg.connect(settings.database_url) as conn:
        dup = conn.execute("SELECT count(*) FROM (SELECT ordinal, document_id FROM chunks"
                           " GROUP BY 1, 2 HAVING count(*) > 1) x").fetchone()
        assert dup is not None and dup[0] == 0
    assert sync(engine, "big")["unchanged"] == n  # and the next sync has nothing to do


class _FlakyConfig(CommonConfig):
    fail_times: int = 1


@register
class FlakyConnector:
    """Two items; fetching ``b`` fails the first ``fail_times`` tries (a transient error)."""

    kind = "flaky-test"
    Config = _FlakyConfig
    tries: dict[str, int] = {}

    def __init__(self, config: _FlakyConfig) -> None:
        self.config = config

    @classmethod
    def create(cls, config: _FlakyConfig, ctx) -> FlakyConnector:
        return cls(config)

    def list(self, cursor: str | None) -> Listing:
        return Listing([ItemRef("a", "1", ("public",)), ItemRef("b", "1", ("public",))])

    def fetch(self, ref: ItemRef) -> Item:
        n = self.tries[ref.external_id] = self.tries.get(ref.external_id, 0) + 1
        if ref.external_id == "b" and n <= self.config.fail_times:
            raise ConnectionResetError("the server closed the connection")
        return Item(ref, f"item {ref.external_id}: the flaky source's text.".encode(), f"{ref.external_id}.txt")

    def close(self) -> None:
        pass


def test_a_transient_failure_is_retried_with_backoff(engine) -> None:
    FlakyConnector.tries.clear()
    engine.connectors.add(SYSTEM, "flaky", "flaky-test", config={"retry_base_s": 300, "fail_times": 1})
    run = sync(engine, "flaky")
    assert (run["added"], run["failed"]) == (1, 1)
    [item] = engine.connectors.show(SYSTEM, "flaky")["failed_items"]
    assert item["attempts"] == 1 and item["error"]["code"] == "internal"
    assert item["next_attempt_at"] is not None and "ConnectionResetError" in item["error"]["message"]
    run = sync(engine, "flaky")  # still backing off: not fetched again
    assert (run["deferred"], run["failed"], FlakyConnector.tries["b"]) == (1, 0, 1)
    engine.connectors.remove(SYSTEM, "flaky")
    FlakyConnector.tries.clear()
    engine.connectors.add(SYSTEM, "flaky2", "flaky-test", config={"retry_base_s": 0, "fail_times": 1})
    assert sync(engine, "flaky2")["failed"] == 1
    run = sync(engine, "flaky2")  # backoff over: retried, and it works now
    assert (run["added"], run["failed"], run["unchanged"]) == (1, 0, 1)
    assert engine.connectors.show(SYSTEM, "flaky2")["failed_items"] == []


def _worker_until_killed(engine, settings, run_id: int, at_least: int, env_extra: dict[str, str]) -> None:
    """A real ``tether worker`` process, SIGKILLed once the run has processed ``at_least`` items."""
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "HF_HUB_OFFLINE": "1", "TETHER_INGEST__JOB_LEASE_S": "3", "TETHER_INGEST__HEARTBEAT_S": "1", **env_extra}
    proc = subprocess.Popen([sys.executable, "-m", "tether.cli.main", "worker", "--once"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while engine.connectors.run(SYSTEM, run_id)["processed"] < at_least:
            assert proc.poll() is None and time.monotonic() < deadline, "the worker stopped before the kill"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_run_whose_worker_died_on_every_attempt_ends_failed_with_a_typed_error(engine, settings,
                                                                                  tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    n = 30
    for i in range(n):
        (share / f"note-{i:02d}.md").write_text(f"# Note {i}\n\nItem number {i} of the share. " * 20)
    engine.connectors.add(SYSTEM, "doomed", "folder", config={"path": str(share), "acl": ["public"]})
    started = engine.connectors.sync(SYSTEM, "doomed")
    for attempt in (1, 2):  # max_attempts = 2: the worker dies on both
        _worker_until_killed(engine, settings, started["run_id"], 2 * attempt, {"TETHER_INGEST__MAX_ATTEMPTS": "2"})
    assert engine.connectors.run(SYSTEM, started["run_id"])["status"] == "running"  # nobody knows yet

    engine.settings.ingest.job_lease_s, engine.settings.ingest.max_attempts = 3, 2
    engine.work(batch_id=started["batch_id"])  # the next worker finds the job out of attempts
    run = engine.connectors.run(SYSTEM, started["run_id"])
    assert run["status"] == "failed" and run["finished_at"] is not None
    assert run["error"]["code"] == "worker_lost" and run["error"]["attempts"] == 2
    shown = engine.connectors.show(SYSTEM, "doomed")
    assert shown["status"] == "error" and shown["last_error"]["code"] == "worker_lost"
    assert "2 attempt" in shown["last_error"]["message"]
    held = docs(engine, "default")  # what the dead workers committed is whole, nothing else
    assert 4 <= len(held) == run["added"] < n and {d["version"] for d in held.values()} == {1}

    again = sync(engine, "doomed")  # a new run is not blocked by the failed one, and finishes the job
    assert again["id"] != started["run_id"] and again["status"] == "done"
    assert (again["added"], again["unchanged"]) == (n - len(held), len(held))
    assert engine.connectors.show(SYSTEM, "doomed")["status"] == "ok"


class _BrokenConfig(CommonConfig):
    pass


@register
class BrokenConnector:
    """A source whose listing fails with an unexpected error every time (not a ConnectorError)."""

    kind = "broken-test"
    Config = _BrokenConfig

    @classmethod
    def create(cls, config: _BrokenConfig, ctx) -> BrokenConnector:
        return cls()

    def list(self, cursor: str | None) -> Listing:
        raise RuntimeError("the listing API returned nonsense")

    def fetch(self, ref: ItemRef) -> Item:
        raise AssertionError("never listed")

    def close(self) -> None:
        pass


def test_a_sync_job_that_fails_every_attempt_ends_its_run_failed(engine) -> None:
    engine.settings.ingest.max_attempts = 3
    engine.connectors.add(SYSTEM, "broken", "broken-test")
    run = sync(engine, "broken")  # retried by the worker until its attempts are spent
    assert run["status"] == "failed" and run["error"]["code"] == "internal"
    assert run["error"]["attempts"] == 3 and "RuntimeError" in run["error"]["message"]
    shown = engine.connectors.show(SYSTEM, "broken")
    assert shown["status"] == "error" and shown["last_error"] == run["error"]


class _HugeConfig(CommonConfig):
    items: int = 10_000


@register
class HugeListingConnector:
    """A source that lists ``items`` items: ten small texts, the rest each over the size limit
    (a bucket of videos): the listing is 10,000 entries long."""

    kind = "huge-test"
    Config = _HugeConfig
    fetched: list[str] = []

    def __init__(self, config: _HugeConfig) -> None:
        self.config = config

    @classmethod
    def create(cls, config: _HugeConfig, ctx) -> HugeListingConnector:
        return cls(config)

    def list(self, cursor: str | None) -> Listing:
        return Listing([ItemRef(f"obj/{i:05d}", "v1", ("public",), size=100 if i < 10 else 50_000_000)
                        for i in range(self.config.items)])

    def fetch(self, ref: ItemRef) -> Item:
        self.fetched.append(ref.external_id)
        return Item(ref, f"object {ref.external_id}: a small text.".encode(), f"{ref.external_id[4:]}.txt")

    def close(self) -> None:
        pass


def test_a_ten_thousand_item_listing_syncs_with_typed_failures_and_bounded_status(engine) -> None:
    HugeListingConnector.fetched.clear()
    engine.connectors.add(SYSTEM, "huge", "huge-test")
    run = sync(engine, "huge")
    assert (run["status"], run["listed"], run["added"], run["failed"], run["processed"]) == \
        ("done", 10_000, 10, 9_990, 10_000)
    assert len(HugeListingConnector.fetched) == 10  # over-size items are refused from the listing, not fetched
    shown = engine.connectors.show(SYSTEM, "huge")
    assert shown["status"] == "degraded" and shown["last_error"]["code"] == "file_too_large"
    assert len(shown["failed_items"]) == 100  # the status stays readable
    assert all(i["error"]["code"] == "file_too_large" for i in shown["failed_items"])
    [row] = engine.connectors.list(SYSTEM)
    assert (row["documents"], row["failed_items"]) == (10, 9_990)
    run = sync(engine, "huge")  # nothing changed: nothing fetched, nothing failed again
    assert (run["unchanged"], run["deferred"], run["failed"], run["added"]) == (10, 9_990, 0, 0)
    assert len(HugeListingConnector.fetched) == 10
