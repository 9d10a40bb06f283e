"""Connectors as administrators manage them: add, list, show, remove, sync, push and watch.

Why a service: the CLI (``tether connectors``), the API (``/v1/connectors``) and the workers
share these rules: only administrators manage connectors; a config holds no secret (only the
names of environment variables or files); one sync run at a time per connector; scheduled
runs are enqueued by whichever worker is idle first (:meth:`schedule_due`), and run by any.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import psycopg
from psycopg.rows import DictRow

from tether.connect.base import Item, ItemRef
from tether.connect.registry import kinds, make_connector, validate_config
from tether.connect.sync import ItemWriter, context, run_sync, signature, workdir
from tether.embed.base import Embedder
from tether.errors import FileTooLarge, InvalidInput, NotFound
from tether.services.ingest import IngestService, valid_label
from tether.services.permissions import require_admin
from tether.settings import Settings
from tether.store import connector_inbox as inbox
from tether.store import connectors as store
from tether.store import jobs
from tether.store.db import Database
from tether.types import Principal

SYNC_JOB = store.SYNC_JOB
MAX_EXTERNAL_ID = 1000


class ConnectorService:
    def __init__(self, db: Database, settings: Settings, embedder: Callable[[], Embedder],
                 secrets: Mapping[str, str], ingest: IngestService) -> None:
        self.db = db
        self.settings = settings
        self._embedder = embedder
        self.secrets = secrets
        self.ingest = ingest
        ingest.job_handlers[SYNC_JOB] = self._sync_job
        ingest.idle_hooks.append(self.schedule_due)

    # managing -------------------------------------------------------------------------------
    @staticmethod
    def kinds() -> list[str]:
        return kinds()

    def add(self, actor: Principal, name: str, kind: str, *, collection: str = "default",
            config: dict[str, Any] | None = None, interval_s: int | None = None) -> dict:
        require_admin(actor, "adding a connector")
        valid_label("connector name", name)
        valid_label("collection", collection)
        if interval_s is not None and interval_s <= 0:
            raise InvalidInput("interval_s must be a positive number of seconds (or none: sync on demand)")
        stored = validate_config(kind, dict(config or {}))
        for target in (stored.get("folder_collections") or {}).values():
            valid_label("collection", target)
        acl = stored.get("acl")
        if acl:
            self.ingest.check_acl(list(acl), None)
        with self.db.transaction() as conn:
            return _view(store.create(conn, name=name, kind=kind, collection=collection, config=stored,
                                      interval_s=interval_s))

    def list(self, actor: Principal) -> builtins.list[dict]:
        require_admin(actor, "listing connectors")
        with self.db.connection() as conn:
            rows = store.list_all(conn)
            for r in rows:
                runs = store.recent_runs(conn, int(r["id"]), limit=1)
                r["last_run"] = runs[0] if runs else None
        return [_view(r) for r in rows]

    def show(self, actor: Principal, ref: str | int) -> dict:
        """The connector with its last runs and failed items (their typed errors)."""
        require_admin(actor, "reading a connector")
        with self.db.connection() as conn:
            row = _view(store.get(conn, ref))
            row["runs"] = store.recent_runs(conn, int(row["id"]))
            row["failed_items"] = store.items(conn, int(row["id"]), failed_only=True)
            row["pending_items"] = inbox.count(conn, int(row["id"]))
        row["last_run"] = row["runs"][0] if row["runs"] else None
        return row

    def remove(self, actor: Principal, ref: str | int, *, keep_documents: bool = False) -> dict:
        """Delete the connector and (unless ``keep_documents``) every document it made."""
        require_admin(actor, "removing a connector")
        with self.db.transaction() as conn:
            row = store.get(conn, ref, lock=True)
            n = store.delete(conn, int(row["id"]), documents=not keep_documents)
        shutil.rmtree(workdir(self.settings, row["name"]), ignore_errors=True)
        return {"removed": row["name"], "documents_deleted": n}

    # syncing --------------------------------------------------------------------------------
    def sync(self, actor: Principal, ref: str | int) -> dict:
        """Enqueue a sync run (or return the one queued or running): run_id, batch_id, created."""
        require_admin(actor, "syncing a connector")
        with self.db.transaction() as conn:
            row = store.get(conn, ref)
            run, batch, created = store.enqueue_run(conn, int(row["id"]), trigger="manual")
        return {"connector": row["name"], "run_id": int(run["id"]), "batch_id": batch, "created": created}

    def run(self, actor: Principal, run_id: int) -> dict:
        require_admin(actor, "reading a sync run")
        with self.db.connection() as conn:
            return store.get_run(conn, run_id)

    def schedule_due(self, conn: psycopg.Connection[DictRow]) -> builtins.list[int]:
        """Enqueue a run of each scheduled connector whose time has come (a worker's idle hook)."""
        with conn.transaction():
            due = store.due_connectors(conn)
            return [int(store.enqueue_run(conn, cid, trigger="schedule")[0]["id"]) for cid in due]

    def _sync_job(self, conn: psycopg.Connection[DictRow], job: jobs.Job, embedder: Embedder) -> dict:
        cid = int(job.payload["connector_id"])

        def finish(c: psycopg.Connection[DictRow], summary: dict) -> None:
            jobs.complete(c, job, summary)
            if inbox.waiting(c, cid):  # pushed after this run listed the inbox: the next run takes it
                store.enqueue_run(c, cid, trigger="push")

        try:
            return run_sync(conn, embedder, self.settings, self.secrets, cid, int(job.payload["run_id"]),
                            finish=finish)
        except NotFound:  # the connector was removed meanwhile
            conn.rollback()
            with conn.transaction():
                jobs.complete(conn, job, {"status": "gone"})
            return {"status": "gone", "connector_id": job.payload["connector_id"]}

    def watch(self, actor: Principal, ref: str | int, stop: threading.Event) -> Iterator[dict]:
        """For a folder connector: a sync run enqueued after each batch of changes (until ``stop``)."""
        require_admin(actor, "watching a connector")
        with self.db.connection() as conn:
            row = store.get(conn, ref)
        if row["kind"] != "folder":
            raise InvalidInput(f"only folder connectors can be watched; {row['name']} is {row['kind']}")
        source = make_connector("folder", row["config"], context(self.settings, self.secrets, row["name"]))
        for _ in source.watch(stop):  # type: ignore[attr-defined]
            yield self.sync(actor, row["name"])

    # the push API ---------------------------------------------------------------------------
    def push(self, actor: Principal, ref: str | int, items: builtins.list[dict[str, Any]]) -> dict:
        """Store pushed items durably and enqueue the sync run that ingests them (a worker runs
        it; the request does not wait). Idempotent by ``external_id``: content and ACL already
        applied (and no other version waiting) are ``unchanged``; anything else is ``queued``
        (a waiting version of the same id is replaced). Every item is checked first (content,
        size, ACL): one bad item refuses the request and nothing is stored."""
        require_admin(actor, "pushing to a connector")
        parsed = [self._pushed_item(i) for i in items]
        if len({i.ref.external_id for i in parsed}) != len(parsed):
            raise InvalidInput("an external_id appears twice in one push; send each item once")
        with self.db.connection() as conn:
            row = self._push_target(conn, ref)
        limit = self.settings.ingest.max_file_bytes
        ready = []
        for item in parsed:
            if len(item.data) > limit:
                raise FileTooLarge(f"item {item.ref.external_id} is {len(item.data):,} bytes; the limit is "
                                   f"{limit:,} bytes", size=len(item.data), limit=limit)
            acl = item.ref.acl or tuple(sorted(row["config"].get("acl") or ()))
            if acl:
                self.ingest.check_acl(list(acl), None)
            ready.append(Item(ItemRef(item.ref.external_id, item.ref.version, acl), item.data, item.filename,
                              item.title))
        cid, out = int(row["id"]), []
        with self.db.transaction() as conn:
            store.get(conn, cid, lock=True)  # a finishing run sees this push or the push sees it done
            for item in ready:
                eid = item.ref.external_id
                state = store.item_state(conn, cid, eid)
                if (state and state["status"] == "ok" and state["version"] == signature(item.ref)
                        and not inbox.exists(conn, cid, eid)):
                    out.append({"external_id": eid, "status": "unchanged"})
                    continue
                inbox.put(conn, cid, eid, version=item.ref.version, data=item.data, filename=item.filename,
                          title=item.title, acl=list(item.ref.acl))
                store.retry_now(conn, cid, eid)  # a failed item backing off: new content is tried at once
                out.append({"external_id": eid, "status": "queued"})
            run_id = batch = None
            if any(o["status"] == "queued" for o in out):
                run, batch, _ = store.enqueue_run(conn, cid, trigger="push")
                run_id = int(run["id"])
        return {"connector": row["name"], "run_id": run_id, "batch_id": batch, "items": out}

    def unpush(self, actor: Principal, ref: str | int, external_ids: builtins.list[str]) -> builtins.list[dict]:
        """Delete pushed items now (their documents, and a push of them still waiting); an id
        Tether does not hold is ``unchanged``."""
        require_admin(actor, "deleting pushed items")
        out = []
        with self.db.connection() as conn:
            row = self._push_target(conn, ref)
            writer = self._writer(conn, row)
            for external_id in external_ids:
                _check_external_id(external_id)
                out.append({"external_id": external_id, "status": writer.remove(external_id, None)})
        return out

    def _push_target(self, conn: psycopg.Connection[DictRow], ref: str | int) -> dict:
        with conn.transaction():
            row = store.get(conn, ref)
        if row["kind"] != "push":
            raise InvalidInput(f"connector {row['name']} is a {row['kind']} connector; items can only be pushed"
                               " to a push connector")
        return row

    def _writer(self, conn: psycopg.Connection[DictRow], row: dict) -> ItemWriter:
        tmp = workdir(self.settings, row["name"]) / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        cid = int(row["id"])
        return ItemWriter(conn, self._embedder(), self.settings, row, None, tmp,
                          settle=lambda c, eid, version: inbox.settle(c, cid, eid, version))

    @staticmethod
    def _pushed_item(raw: dict[str, Any]) -> Item:
        external_id = str(raw.get("external_id") or "")
        _check_external_id(external_id)
        if raw.get("content_base64") is not None:
            try:
                data = base64.b64decode(str(raw["content_base64"]), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidInput(f"item {external_id}: content_base64 is not valid base64") from exc
        elif isinstance(raw.get("content"), str):
            data = raw["content"].encode("utf-8")
        else:
            raise InvalidInput(f"item {external_id}: give content (text) or content_base64")
        filename = str(raw.get("filename") or f"{external_id.rsplit('/', 1)[-1] or 'item'}.txt")
        acl = raw.get("acl") or []
        if not isinstance(acl, list) or not all(isinstance(a, str) for a in acl):
            raise InvalidInput(f"item {external_id}: acl must be a list like ['public', 'group:hr']")
        import hashlib

        ref = ItemRef(external_id, hashlib.sha256(data).hexdigest(), tuple(sorted(acl)))
        return Item(ref, data, filename, title=raw.get("title") or None)


def _check_external_id(external_id: str) -> None:
    if not external_id or len(external_id) > MAX_EXTERNAL_ID or any(ord(c) < 32 for c in external_id):
        raise InvalidInput(f"external_id must be 1..{MAX_EXTERNAL_ID} printable characters")


def _view(row: dict) -> dict:
    """A connector as the edges show it (its config holds no secret by construction)."""
    keep = ("id", "name", "kind", "collection", "config", "interval_s", "enabled", "status", "last_error",
            "next_run_at", "created_at", "updated_at", "documents", "failed_items", "last_run")
    return {k: row[k] for k in keep if k in row}


__all__ = ["ConnectorService", "signature"]
