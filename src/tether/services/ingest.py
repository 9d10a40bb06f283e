"""Getting documents in: ingest jobs enqueued (from paths, manifests or an upload), workers run,
batches reported, folders synced.

Why a service: the API, the CLI and the evaluation setup all enqueue the same jobs and read the
same batches; who may see a batch (its uploader or an administrator) is decided here, once.
Enqueuing from server paths (``enqueue_paths``, ``enqueue``) is for trusted callers (the CLI
operator, tests, evaluation setup); what a signed-in user sends goes through ``upload``.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.embed.base import Embedder
from tether.errors import InvalidInput, NotFound, UnknownPrincipal
from tether.ingest.pipeline import IngestRequest
from tether.ingest.worker import INGEST_FILE, JobHandler, Worker
from tether.settings import Settings
from tether.store import doc_sources, documents, jobs, principals
from tether.store.collections import check_publish
from tether.store.db import Database
from tether.store.quotas import check_quota, chunk_limit
from tether.types import Acl, Principal

_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass
class Batch:
    batch_id: str
    files: list[str]


def valid_label(kind: str, value: str) -> str:
    """A collection or classification name, or InvalidInput saying what is allowed."""
    if not _LABEL.match(value):
        raise InvalidInput(f"invalid {kind} {value!r}: lower-case letters, digits, '.', '-', '_' (max 63)")
    return value


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files under the given paths (folders recursively, hidden files skipped), sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(
                f for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            out.append(p)
    return out


class IngestService:
    def __init__(self, db: Database, settings: Settings, embedder: Callable[[], Embedder]) -> None:
        self.db = db
        self.settings = settings
        self._embedder = embedder
        #: Jobs of other kinds the workers run (the connectors service adds ``connector_sync``).
        self.job_handlers: dict[str, JobHandler] = {}
        #: Called by a worker with an empty queue (not one limited to a batch): the schedulers.
        self.idle_hooks: list[Callable[[Any], object]] = []

    # enqueueing -----------------------------------------------------------------------------
    def enqueue_paths(
        self, paths: Iterable[str | Path], *, collection: str = "default", acl: list[str] | None = None,
        owner: str | None = None, classification: str = "internal", title: str | None = None,
    ) -> Batch:
        files = expand_paths(paths)
        return self.enqueue([
            IngestRequest(path=str(f.resolve()), collection=collection, acl=list(acl or []), owner=owner,
                          classification=classification, title=title if len(files) == 1 else None)
            for f in files
        ])

    def enqueue(self, requests: list[IngestRequest]) -> Batch:
        payloads = [dataclasses.asdict(r) for r in requests]
        with self.db.transaction() as conn:
            batch_id = jobs.enqueue(conn, INGEST_FILE, payloads) if payloads else jobs.new_batch_id()
        return Batch(batch_id, [p["path"] for p in payloads])

    def check_acl(self, specs: list[str], owner: str | None) -> None:
        """InvalidInput (422) now, rather than a failed job later, when an ACL names unknown
        users or groups or is malformed. The message is the same whichever entry failed and
        whether it named a user or a group, and lists no existing names: uploaders must not be
        able to enumerate accounts (one bit per request remains: the upload succeeds or not)."""
        acl = Acl.parse(specs, owner=owner)
        with self.db.connection() as conn:
            try:
                principals.acl_tokens(conn, acl)
            except UnknownPrincipal:
                raise UnknownPrincipal("the ACL names a user or group that cannot be granted access; "
                                       "check the user:NAME and group:NAME entries") from None

    def check_upload(self, principal: Principal, *, collection: str = "default", acl: list[str] | None = None,
                     classification: str = "internal") -> None:
        """What ``upload`` would refuse (call it before saving the file): InvalidInput for bad
        labels or ACLs, PermissionDenied without the right to publish into ``collection``
        (``store/collections.py``), QuotaExceeded over a per-user or per-key upload quota (``quotas``)."""
        valid_label("collection", collection)
        valid_label("classification", classification)
        self.check_acl(list(acl or []), principal.name)
        with self.db.connection() as conn:
            check_publish(conn, principal, collection)
            check_quota(conn, principal, self.settings.ingest)

    def upload(self, principal: Principal, path: Path, filename: str, *, collection: str = "default",
               acl: list[str] | None = None, classification: str = "internal", title: str | None = None) -> Batch:
        """Enqueue a file ``principal`` uploaded (saved at ``path``); they own the document."""
        self.check_upload(principal, collection=collection, acl=acl, classification=classification)
        with self.db.connection() as conn:  # the size is known now
            check_quota(conn, principal, self.settings.ingest, incoming_bytes=path.stat().st_size)
            max_chunks = chunk_limit(conn, principal, self.settings.ingest)
        return self.enqueue([IngestRequest(
            path=str(path.resolve()), collection=collection, acl=list(acl or []), owner=principal.name,
            classification=classification, title=title or None, source_uri=f"upload://{principal.name}/{filename}",
            api_key_id=principal.api_key_id, max_chunks=max_chunks,
        )])

    # working --------------------------------------------------------------------------------
    def work(
        self, *, batch_id: str | None = None, until_empty: bool = True,
        on_result: Callable[[dict], None] | None = None, stop: threading.Event | None = None,
    ) -> int:
        hooks = list(self.idle_hooks) if batch_id is None else []

        def on_idle(conn: Any) -> None:
            for hook in hooks:
                hook(conn)

        worker = Worker(self.db.url, self._embedder(), self.settings, handlers=self.job_handlers,
                        on_idle=on_idle if hooks else None)
        if stop is not None:
            threading.Thread(target=_stop_when_set, args=(stop, worker), daemon=True).start()
        return worker.run(batch_id=batch_id, until_empty=until_empty, on_result=on_result)

    # batches --------------------------------------------------------------------------------
    def batch_status(self, batch_id: str) -> dict[str, int]:
        with self.db.connection() as conn:
            return jobs.batch_status(conn, batch_id)

    def batch_report(self, batch_id: str) -> list[dict]:
        with self.db.connection() as conn:
            return jobs.batch_jobs(conn, batch_id)

    def batch(self, principal: Principal, batch_id: str) -> dict:
        """Progress and per-file results of a batch, for its uploader (every job theirs) or an
        administrator; anyone else gets NotFound, as for a batch that does not exist."""
        report = self.batch_report(batch_id)
        if not report or not (principal.is_admin or all(r["payload"].get("owner") == principal.name
                                                        for r in report)):
            raise NotFound(f"batch {batch_id} not found")
        counts = self.batch_status(batch_id)
        out = []
        for r in report:
            res = r.get("result") or {}
            out.append({"id": r["id"], "file": Path(r["payload"]["path"]).name,
                        "collection": r["payload"].get("collection"), "status": r["status"],
                        "attempts": r["attempts"], "result_status": res.get("status"),
                        "document_id": res.get("document_id"), "version": res.get("version"),
                        "chunks": res.get("chunks"), "error": r.get("error")})
        finished = counts["queued"] == 0 and counts["running"] == 0
        return {"batch_id": batch_id, "counts": counts, "finished": finished, "jobs": out}

    def sync_folder(self, folder: str | Path, collection: str, present: list[str]) -> list[dict]:
        """Delete documents of ``collection`` under ``folder`` whose file is gone."""
        prefix = Path(folder).resolve().as_uri().rstrip("/") + "/"
        keep = {Path(p).resolve().as_uri() for p in present}
        removed = []
        with self.db.transaction() as conn:
            for r in doc_sources.documents_under(conn, collection, prefix):
                if r["source_uri"] not in keep:
                    documents.delete_document(conn, int(r["id"]))
                    removed.append({"document_id": int(r["id"]), "source_uri": r["source_uri"]})
        return removed

    def source_request(self, doc_id: int) -> dict | None:
        """The ingest request that last wrote ``doc_id`` (callers check read rights first)."""
        with self.db.connection() as conn:
            return doc_sources.last_ingest_request(conn, doc_id)


def _stop_when_set(stop: threading.Event, worker: Worker) -> None:
    stop.wait()
    worker.stop()
