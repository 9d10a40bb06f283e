"""Evaluation runs: stored, listed and reported for administrators only (a run holds answers
asked as many different principals, so its report may quote documents the viewer could not
read), and the databases evaluations run in (a scratch one, dropped afterwards).

Why a service: the API, the UI and ``tether eval`` read and write the same runs under the same
rule, and the CLI sets up scratch databases without reaching into ``store/`` itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from tether.evaluate import store as eval_store
from tether.services.permissions import require_admin
from tether.settings import Settings
from tether.store import doc_sources, principals
from tether.store.db import Database, scratch_database
from tether.types import Principal


class EvaluationService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def runs(self, viewer: Principal, *, name: str | None = None, limit: int = 50) -> list[dict]:
        """Runs, newest first."""
        require_admin(viewer, "evaluation runs")
        with self.db.connection() as conn:
            return eval_store.list_runs(conn, name=name, limit=max(1, min(limit, 500)))

    def documents(self, viewer: Principal, run_id: int, *, history: int = 5) -> list[dict]:
        """The run's whole document and up to ``history - 1`` earlier runs of its set, oldest
        first (what ``evaluate.report.render`` takes); NotFound for an unknown run."""
        require_admin(viewer, "evaluation runs")
        with self.db.connection() as conn:
            return eval_store.run_documents(conn, run_id, history=max(1, min(history, 20)))

    def save(self, actor: Principal, result: Any, *, gate: dict | None = None, passed: bool | None = None) -> int:
        """Record a run (``evaluate.runner.RunResult``) in eval_runs / eval_results; its id."""
        require_admin(actor, "recording evaluation runs")
        return eval_store.save_run(self.db, result, gate=gate, passed=passed)

    def index_texts(self, actor: Principal, embedder: Any, settings: Settings, items: list, *, reader: str,
                    collection: str, progress: Callable[[int], None] | None = None) -> Any:
        """Index a benchmark's texts (``ingest.bulk.index_texts``) readable by the user ``reader``
        (created when missing)."""
        from tether.ingest.bulk import index_texts

        require_admin(actor, "indexing benchmark data")
        with self.db.transaction() as conn:
            principals.ensure_user(conn, reader)
        return index_texts(self.db, embedder, settings, items, collection=collection, progress=progress)


@contextlib.contextmanager
def scratch_settings(settings: Settings) -> Iterator[Settings]:
    """``settings`` pointed at a new, migrated database on the same server, dropped afterwards."""
    with scratch_database(settings) as url:
        yield settings.model_copy(update={"database_url": url})


@contextlib.contextmanager
def retrieval_database(settings: Settings, *, keep: bool = False, url: str = "") -> Iterator[Database]:
    """An open database for a retrieval evaluation: the one at ``url`` (kept by an earlier run),
    or a scratch one (dropped afterwards unless ``keep``; ``Database.url`` says where)."""
    scratch = contextlib.nullcontext(url) if url else scratch_database(settings, keep=keep)
    with scratch as where, Database(where, min_size=1, max_size=2).open() as db:
        yield db


def corpus_size(db: Database) -> dict[str, int]:
    """Documents and chunks in ``db`` (a kept retrieval database is reused when complete)."""
    with db.connection() as conn:
        return doc_sources.corpus_size(conn)
