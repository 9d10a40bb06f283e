"""The job worker: claims jobs from PostgreSQL and runs them until the queue is empty (or forever).

Each worker keeps one session connection for claims and work, and a heartbeat thread on its
own connection. A job's document write and its ``done`` mark commit together, so a worker
killed at any instant leaves either nothing or the whole document, and the job is re-claimed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

import psycopg
from psycopg.rows import DictRow, dict_row

from tether.embed.base import Embedder
from tether.errors import Conflict, IngestError, InvalidInput, NotFound, PermissionDenied, QuotaExceeded
from tether.ingest.pipeline import IngestRequest, error_dict, ingest_one
from tether.settings import Settings
from tether.store import jobs

log = logging.getLogger(__name__)

INGEST_FILE = "ingest_file"

#: Errors that a retry would only repeat (the input, a right or a deletion): the job fails at
#: once and the batch goes on. PostgreSQL refusing the data itself (a value out of range, a row
#: over a size limit) is final too. Anything else (the store, a model server) is retried.
FINAL_ERRORS = (InvalidInput, PermissionDenied, NotFound, Conflict, QuotaExceeded,
                psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded)

#: Runs a job of another kind (``connector_sync``...) on the worker's connection: it commits the
#: job's effects with ``jobs.complete`` itself and returns the result shown to ``on_result``.
JobHandler = Callable[[psycopg.Connection[DictRow], jobs.Job, Embedder], dict]


class Worker:
    def __init__(self, url: str, embedder: Embedder, settings: Settings, *, name: str | None = None,
                 handlers: Mapping[str, JobHandler] | None = None,
                 on_idle: Callable[[psycopg.Connection[DictRow]], None] | None = None) -> None:
        self.url = url
        self.embedder = embedder
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10000}"
        self._stop = threading.Event()
        self.handlers = dict(handlers or {})
        #: Called when the queue is empty (the connectors' scheduler enqueues due syncs there).
        self.on_idle = on_idle

    def stop(self) -> None:
        self._stop.set()

    def run(
        self, *, batch_id: str | None = None, until_empty: bool = True, poll_s: float = 0.5,
        on_result: Callable[[dict], None] | None = None,
    ) -> int:
        """Process jobs; return how many this worker finished."""
        lease, max_att = self.settings.ingest.job_lease_s, self.settings.ingest.max_attempts
        done = 0
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            from pgvector.psycopg import register_vector

            register_vector(conn)
            conn.commit()
            while not self._stop.is_set():
                job = jobs.claim(conn, self.name, lease_s=lease, max_attempts=max_att, batch_id=batch_id)
                if job is None and self.on_idle is not None:
                    self.on_idle(conn)
                    job = jobs.claim(conn, self.name, lease_s=lease, max_attempts=max_att, batch_id=batch_id)
                if job is None:
                    if until_empty and (batch_id is None or self._batch_finished(conn, batch_id)):
                        break
                    time.sleep(poll_s)
                    continue
                self._run_job(conn, job, on_result)
                done += 1
        return done

    def _batch_finished(self, conn: psycopg.Connection[DictRow], batch_id: str) -> bool:
        st = jobs.batch_status(conn, batch_id)
        conn.commit()
        return st["queued"] == 0 and st["running"] == 0

    def _run_job(self, conn: psycopg.Connection[DictRow], job: jobs.Job,
                 on_result: Callable[[dict], None] | None) -> None:
        beat = _Heartbeat(self.url, job, self.settings.ingest.heartbeat_s)
        beat.start()
        try:
            if job.kind in self.handlers:
                out = self.handlers[job.kind](conn, job, self.embedder)
            elif job.kind != INGEST_FILE:
                raise IngestError(f"unknown job kind {job.kind!r}")
            else:
                req = IngestRequest(**job.payload)

                def finish(c: psycopg.Connection[DictRow], result) -> None:
                    jobs.complete(c, job, result.to_dict())

                result = ingest_one(conn, self.embedder, self.settings, req, on_commit=finish)
                out = result.to_dict()
        except FINAL_ERRORS as exc:  # bad input, a refused right, a deleted document: no retry
            conn.rollback()
            with conn.transaction():
                jobs.fail(conn, job, error_dict(exc), retry=False)
            out = {"path": job.payload.get("path"), "status": "failed", "error": error_dict(exc)}
        except Exception as exc:  # unexpected: retry up to max_attempts
            log.exception("job %s failed", job.id)
            conn.rollback()
            retry = job.attempts < self.settings.ingest.max_attempts
            with conn.transaction():
                jobs.fail(conn, job, error_dict(exc), retry=retry)
            out = {"path": job.payload.get("path"), "status": "retry" if retry else "failed", "error": error_dict(exc)}
        finally:
            beat.stop()
        if on_result:
            on_result(out)


class _Heartbeat(threading.Thread):
    def __init__(self, url: str, job: jobs.Job, every_s: float) -> None:
        super().__init__(daemon=True)
        self.url, self.job, self.every_s = url, job, every_s
        self._stop_evt = threading.Event()

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                while not self._stop_evt.wait(self.every_s):
                    jobs.heartbeat(conn, self.job.id, self.job.attempts)
        except psycopg.Error:  # pragma: no cover - the lease covers a missed beat
            log.warning("heartbeat for job %s stopped", self.job.id)

    def stop(self) -> None:
        self._stop_evt.set()
