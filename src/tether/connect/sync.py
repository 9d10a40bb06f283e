"""The sync engine: drives any connector through the ingest pipeline, item by item, crash-safe.

One run: ``list(cursor)``; compare each entry's version (with its permissions) to what Tether
applied last; fetch and ingest what changed (:func:`tether.ingest.pipeline.ingest_one`, the
same pipeline as files); delete what is gone; store the new cursor. Every item's effect (its
document written or deleted, its state row, the run's counters) commits in one transaction,
so a worker killed at any instant leaves each item either done or untouched: the job is
claimed again, the run resumes, items already applied by this run are skipped, nothing is
lost or counted twice. The cursor moves only when the run finishes.

Failures: a bad item (an ``InvalidInput``: over the size limit, unreadable, unknown principal)
fails until its version changes; any other failure of one item is retried after a backoff
(``retry_base_s`` doubling up to ``retry_max_s``) and the rest of the run goes on. An item whose
permissions changed and which then fails loses its document (never stale permissions). A
source that fails as a whole (:class:`~tether.errors.ConnectorError`) fails the run, and the
connector's status carries the typed error. An item listed with no readers at all is revoked:
its document is deleted.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg.rows import DictRow

from tether.connect.base import CommonConfig, Connector, ConnectorContext, Item, ItemGone, ItemRef
from tether.connect.push import Inbox
from tether.connect.registry import make_connector
from tether.embed.base import Embedder
from tether.errors import ConnectorError, FileTooLarge, InvalidInput, StoreUnavailable
from tether.ingest.pipeline import IngestRequest, IngestResult, error_dict, ingest_one
from tether.settings import Settings
from tether.store import connectors as store
from tether.store import documents as docs

log = logging.getLogger(__name__)

_COUNTER = {"created": "added", "updated": "updated", "metadata": "updated", "unchanged": "unchanged"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Items refused from the listing alone (over the size limit) are recorded this many per transaction.
_FAIL_BATCH = 500


def source_uri(connector_name: str, external_id: str) -> str:
    return f"connector://{connector_name}/{quote(external_id, safe='/:@')}"


def signature(ref: ItemRef) -> str:
    """What must match for an item to be unchanged: its version and its permissions."""
    return f"{ref.version}\x1f{','.join(sorted(ref.acl))}|{ref.owner or ''}"


def _acl_part(sig: str | None) -> str | None:
    return sig.partition("\x1f")[2] if sig else None


def workdir(settings: Settings, name: str) -> Path:
    return Path(settings.data_dir) / "connectors" / name


def context(settings: Settings, secrets: Mapping[str, str], name: str, inbox: Inbox | None = None) -> ConnectorContext:
    return ConnectorContext(secrets, str(workdir(settings, name)), settings.ingest.max_file_bytes, inbox)


#: ``settle(conn, external_id, version)``: a connector's own bookkeeping for an item, run in the
#: transaction that applies, fails for good or removes it (the push inbox deletes its row):
#: ``settled``, ``superseded`` (a newer version waits) or ``missing``.
Settle = Callable[[psycopg.Connection[DictRow], str, "str | None"], str]


@dataclass
class ItemWriter:
    """Applies one item (or its deletion) for a connector, with its state and counters, in one
    transaction. Used by a sync run and by the push API."""

    conn: psycopg.Connection[DictRow]
    embedder: Embedder
    settings: Settings
    connector: dict
    run_id: int | None
    tmp: Path
    settle: Settle | None = None

    @property
    def config(self) -> CommonConfig:
        return CommonConfig.model_validate({k: v for k, v in self.connector["config"].items()
                                            if k in CommonConfig.model_fields})

    def apply(self, item: Item, state: dict | None) -> str:
        """Ingest ``item``; returns the counter it went to (added, updated, unchanged, deleted)."""
        ref, cid = item.ref, int(self.connector["id"])
        sig = signature(ref)
        if not ref.acl and not ref.owner:  # nobody may read it at the source any more
            return self.remove(ref.external_id, state, keep_state_version=sig, version=ref.version)
        if len(item.data) > self.settings.ingest.max_file_bytes:
            raise FileTooLarge(f"{ref.external_id} is {len(item.data):,} bytes; the limit is "
                               f"{self.settings.ingest.max_file_bytes:,} bytes", size=len(item.data),
                               limit=self.settings.ingest.max_file_bytes)
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        path = folder / (_UNSAFE.sub("_", Path(item.filename).name) or "item.txt")
        path.write_bytes(item.data)
        req = IngestRequest(path=str(path), collection=item.collection or self.connector["collection"],
                            acl=list(ref.acl),
                            owner=ref.owner, classification=self.config.classification, title=item.title,
                            source_uri=source_uri(self.connector["name"], ref.external_id))
        outcome: list[str] = []

        def on_commit(c: psycopg.Connection[DictRow], result: IngestResult) -> None:
            if self.settle is not None and self.settle(c, ref.external_id, ref.version) == "missing":
                raise ItemGone(ref.external_id)  # deleted meanwhile: this write is rolled back
            store.save_item(c, cid, ref.external_id, version=sig, document_id=result.document_id,
                            run_id=self.run_id)
            outcome.append(_COUNTER.get(result.status, "updated"))
            store.count(c, self.run_id, processed=1, **{outcome[0]: 1})

        try:
            ingest_one(self.conn, self.embedder, self.settings, req, on_commit=on_commit)
        finally:
            path.unlink(missing_ok=True)
            folder.rmdir()
        return outcome[0]

    def remove(self, external_id: str, state: dict | None, *, keep_state_version: str | None = None,
               version: str | None = None) -> str:
        """Delete the item's document (chunks, vectors and postings cascade; the same statement
        deletes the cached answers built on it and scrubs its quotes from conversations and
        review items, migration 0020) and its state (or keep the state, revoked). A waiting
        push of it (``version``, or any when None) goes too."""
        cid = int(self.connector["id"])
        with self.conn.transaction():
            current = store.item_state(self.conn, cid, external_id, lock=True) or state
            doc_id = current["document_id"] if current else None
            if doc_id is None:  # the push API or an older state may know it only by its URI
                found = docs.find(self.conn, self.connector["collection"],
                                  source_uri(self.connector["name"], external_id))
                doc_id = found["id"] if found else None
            deleted = doc_id is not None and docs.delete_document(self.conn, int(doc_id))
            if self.settle is not None and self.settle(self.conn, external_id, version) == "settled":
                deleted = True  # a push that had not been ingested yet is withdrawn
            if keep_state_version is not None:
                store.save_item(self.conn, cid, external_id, version=keep_state_version, document_id=None,
                                run_id=self.run_id)
            else:
                store.drop_item(self.conn, cid, external_id)
            store.count(self.conn, self.run_id, processed=1, **({"deleted": 1} if deleted else {"unchanged": 1}))
        return "deleted" if deleted else "unchanged"

    def fail(self, ref: ItemRef, exc: BaseException, state: dict | None, *, count: bool = True) -> None:
        cid, cfg, sig = int(self.connector["id"]), self.config, signature(ref)
        permanent = isinstance(exc, InvalidInput)
        attempts = (int(state["attempts"]) if state and state["status"] == "failed" else 0) + 1
        with self.conn.transaction():
            doc_id = state["document_id"] if state else None
            if doc_id is not None and _acl_part(state["version"] if state else None) != _acl_part(sig):
                docs.delete_document(self.conn, int(doc_id))  # fail closed: no stale permissions
                doc_id = None
            retry = None if permanent else min(cfg.retry_max_s, cfg.retry_base_s * 2 ** (attempts - 1))
            old_version = state["version"] if state and state["status"] == "ok" else None
            store.save_item(self.conn, cid, ref.external_id, version=sig if permanent else old_version,
                            document_id=doc_id, status="failed", attempts=attempts, retry_after_s=retry,
                            error=error_dict(exc), ref=ref.to_dict(), run_id=self.run_id)
            if permanent and self.settle is not None:
                self.settle(self.conn, ref.external_id, ref.version)  # its bytes are known bad: not kept
            if count:
                store.count(self.conn, self.run_id, processed=1, failed=1)


def _plan(listing_refs: list[ItemRef], states: dict[str, dict], run_id: int, now) -> tuple[
        list[ItemRef], int, int]:
    """(refs to apply, unchanged, deferred) for this attempt of the run."""
    todo: list[ItemRef] = []
    unchanged = deferred = 0
    for ref in listing_refs:
        st = states.get(ref.external_id)
        if st is None:
            todo.append(ref)
        elif st["run_id"] == run_id and st["status"] == "ok" and st["version"] == signature(ref):
            continue  # applied by an earlier attempt of this run (counted then)
        elif st["run_id"] == run_id and st["status"] == "failed":
            continue  # failed in an earlier attempt of this run (counted then)
        elif st["status"] == "ok":
            if st["version"] == signature(ref):
                unchanged += 1
            else:
                todo.append(ref)
        elif st["next_attempt_at"] is None and st["version"] == signature(ref):
            deferred += 1  # a bad item: retried when it changes
        elif st["next_attempt_at"] is not None and st["next_attempt_at"] > now:
            deferred += 1  # backing off
        else:
            todo.append(ref)
    return todo, unchanged, deferred


def run_sync(conn: psycopg.Connection[DictRow], embedder: Embedder, settings: Settings,
             secrets: Mapping[str, str], connector_id: int, run_id: int, *,
             finish: Callable[[psycopg.Connection[DictRow], dict], None] | None = None,
             connector: Connector | None = None) -> dict:
    """One sync run of a stored connector (``conn`` idle, not in a transaction). ``finish(conn,
    summary)`` runs in the run's last transaction (the worker completes its job there)."""
    with conn.transaction():
        row = store.get(conn, connector_id)
        store.start_run(conn, run_id)
        store.set_status(conn, connector_id, "running", error=row["last_error"])
    error: dict | None = None
    try:
        source = connector or make_connector(row["kind"], row["config"], context(
            settings, secrets, row["name"], Inbox(conn, connector_id, run_id)))
        try:
            _run_items(conn, embedder, settings, row, run_id, source)
        finally:
            source.close()
    except (ConnectorError, InvalidInput) as exc:  # the source as a whole failed (or its config)
        conn.rollback()
        error = error_dict(exc)
        log.warning("connector %s: sync failed: %s", row["name"], error["message"])
    with conn.transaction():
        run = store.get_run(conn, run_id)
        failed_items = run["failed"] + run["deferred"]
        if error is None:
            status = "degraded" if failed_items else "ok"
            first = store.items(conn, connector_id, failed_only=True, limit=1)
            last_error = {**first[0]["error"], "item": first[0]["external_id"]} if first else None
            store.set_status(conn, connector_id, status, error=last_error)
        else:
            store.set_status(conn, connector_id, "error", error=error)
        store.finish_run(conn, run_id, "done" if error is None else "failed", error)
        summary = {**{k: run[k] for k in ("listed", "added", "updated", "unchanged", "deleted", "failed",
                                          "deferred")}, "run_id": run_id, "connector": row["name"], "path": f"connector://{row['name']}",
                   "status": "done" if error is None else "failed", "error": error}
        if finish is not None:
            finish(conn, summary)
    return summary


def _run_items(conn: psycopg.Connection[DictRow], embedder: Embedder, settings: Settings, row: dict,
               run_id: int, source: Connector) -> None:
    cid = int(row["id"])
    listing = source.list(row["cursor"])
    with conn.transaction():
        states = store.item_states(conn, cid)
        now = store.db_now(conn)
    todo, unchanged, deferred = _plan(listing.items, states, run_id, now)
    listed = {r.external_id for r in listing.items}
    if listing.complete:
        gone = [e for e in states if e not in listed]
    else:
        gone = [e for e in listing.deleted if e in states]
        todo += [ItemRef.from_dict(st["ref"]) for e, st in states.items()  # failed earlier, due now
                 if e not in listed and st["status"] == "failed" and st["ref"] and st["run_id"] != run_id
                 and st["next_attempt_at"] is not None and st["next_attempt_at"] <= now]
    with conn.transaction():
        store.set_listed(conn, run_id, listed=len(listing.items) + len(gone), unchanged=unchanged,
                         deferred=deferred)
    tmp_root = workdir(settings, row["name"]) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    writer = ItemWriter(conn, embedder, settings, row, run_id, tmp_root, settle=getattr(source, "settle", None))
    for external_id in gone:
        writer.remove(external_id, states.get(external_id))
    limit = settings.ingest.max_file_bytes
    oversize = [r for r in todo if r.size is not None and r.size > limit]
    for i in range(0, len(oversize), _FAIL_BATCH):  # known too big from the listing: not fetched
        batch = oversize[i:i + _FAIL_BATCH]
        with conn.transaction():  # a batch of typed failures and their counters at a time
            for ref in batch:
                writer.fail(ref, FileTooLarge(f"{ref.external_id} is {ref.size:,} bytes; the limit is {limit:,}"
                                              " bytes", size=ref.size, limit=limit), states.get(ref.external_id),
                            count=False)
            store.count(conn, run_id, processed=len(batch), failed=len(batch))
    for ref in todo:
        if ref.size is not None and ref.size > limit:
            continue
        state = states.get(ref.external_id)
        try:
            writer.apply(source.fetch(ref), state)
        except ItemGone:  # vanished since the listing (a pushed item deleted meanwhile)
            conn.rollback()
            writer.remove(ref.external_id, state)
        except (psycopg.Error, StoreUnavailable):
            raise  # the database, not the item: the job is retried
        except Exception as exc:  # one item failed; the rest of the run goes on
            log.info("connector %s: item %s failed: %s", row["name"], ref.external_id, exc)
            conn.rollback()
            writer.fail(ref, exc, state)
    with conn.transaction():
        store.set_status(conn, cid, "running", cursor=listing.cursor, keep_cursor=False)
