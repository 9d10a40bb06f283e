"""The engine wires the stages together; it is the only thing the API, CLI and UI call."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tether.embed.base import Embedder, make_embedder
from tether.generate.base import Generator
from tether.generate.registry import make_generator, model_config
from tether.ground.answer import answer as grounded_answer
from tether.ground.policy import abstention
from tether.ground.stream import stream_answer
from tether.retrieve.pack import Packed, neighbours, pack
from tether.retrieve.rerank import Reranker, make_reranker
from tether.guard.base import Verdict
from tether.guard.pii import PiiGuard, redact_for_trace
from tether.guard.stages import WITHHELD_TEXT, blocked_answer, check_question, most_restrictive, screen_answer, screen_passages
from tether.store import audit
from tether.store.rls import enter_reader
from tether.types import Answer
from tether.ingest.loaders import SUPPORTED_EXTENSIONS
from tether.ingest.pipeline import IngestRequest
from tether.ingest.worker import INGEST_FILE, Worker
from tether.retrieve.filters import SearchFilter
from tether.retrieve.retriever import Mode, Retrieval, retrieve
from tether.settings import Settings
from tether.store import documents as docs
from tether.store import jobs, principals
from tether.store.db import Database, open_database
from tether.types import Principal

log = logging.getLogger(__name__)


@dataclass
class Batch:
    batch_id: str
    files: list[str]


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


class Tether:
    def __init__(self, settings: Settings, *, keep_db_running: bool = True,
                 secrets: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        #: Where provider keys are looked up by name (the environment, read at the edge).
        self.secrets: Mapping[str, str] = secrets if secrets is not None else {}
        self._generators: dict[str, Generator] = {}
        self._reranker: Reranker | None | bool = False
        self.db: Database = open_database(settings, keep_running=keep_db_running)
        self._embedder: Embedder | None = None
        self._lock = threading.RLock()

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings.embed, self.secrets)
            return self._embedder

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Tether":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # identities -------------------------------------------------------------------------
    def principal(self, name: str) -> Principal:
        with self.db.connection() as conn:
            return principals.get_principal(conn, name)

    # ingestion --------------------------------------------------------------------------
    def enqueue_ingest(
        self, paths: Iterable[str | Path], *, collection: str = "default", acl: list[str] | None = None,
        owner: str | None = None, classification: str = "internal", title: str | None = None,
    ) -> Batch:
        files = expand_paths(paths)
        return self.enqueue_requests([
            IngestRequest(path=str(f.resolve()), collection=collection, acl=list(acl or []), owner=owner,
                          classification=classification, title=title if len(files) == 1 else None)
            for f in files
        ])

    def enqueue_requests(self, requests: list[IngestRequest]) -> Batch:
        payloads = [dataclasses.asdict(r) for r in requests]
        with self.db.transaction() as conn:
            batch_id = jobs.enqueue(conn, INGEST_FILE, payloads) if payloads else jobs.new_batch_id()
        return Batch(batch_id, [p["path"] for p in payloads])

    def work(
        self, *, batch_id: str | None = None, until_empty: bool = True,
        on_result: Callable[[dict], None] | None = None, stop: threading.Event | None = None,
    ) -> int:
        worker = Worker(self.db.url, self.embedder, self.settings)
        if stop is not None:
            threading.Thread(target=lambda: (stop.wait(), worker.stop()), daemon=True).start()
        return worker.run(batch_id=batch_id, until_empty=until_empty, on_result=on_result)

    def batch_status(self, batch_id: str) -> dict[str, int]:
        with self.db.connection() as conn:
            return jobs.batch_status(conn, batch_id)

    def batch_report(self, batch_id: str) -> list[dict]:
        with self.db.connection() as conn:
            return jobs.batch_jobs(conn, batch_id)

    def sync_folder(self, folder: str | Path, collection: str, present: list[str]) -> list[dict]:
        """Delete documents of ``collection`` under ``folder`` whose file is gone."""
        prefix = Path(folder).resolve().as_uri().rstrip("/") + "/"
        keep = {Path(p).resolve().as_uri() for p in present}
        removed = []
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT d.id, d.source_uri, d.title FROM documents d JOIN collections c ON c.id = d.collection_id"
                " WHERE c.name = %s AND starts_with(d.source_uri, %s)",
                (collection, prefix),
            ).fetchall()
            for r in rows:
                if r["source_uri"] not in keep:
                    docs.delete_document(conn, int(r["id"]))
                    removed.append({"document_id": int(r["id"]), "source_uri": r["source_uri"]})
        return removed

    # documents --------------------------------------------------------------------------
    def list_documents(self, principal: Principal | None, collection: str | None = None) -> list[dict]:
        with self.db.connection() as conn:
            return docs.list_documents(conn, None if principal is None else principal.acl_tokens, collection)

    def get_document(self, principal: Principal | None, doc_id: int) -> dict:
        with self.db.connection() as conn:
            row = docs.get_document(conn, doc_id, None if principal is None else principal.acl_tokens)
            row["chunks"] = docs.document_chunks(conn, doc_id)
            row["acl_readable"] = principals.describe_acl(conn, row["acl"])
            return row

    def delete_document(self, doc_id: int) -> bool:
        with self.db.transaction() as conn:
            return docs.delete_document(conn, doc_id)

    # answering --------------------------------------------------------------------------
    def generator(self, name: str | None = None) -> tuple[str, Generator]:
        name, cfg = model_config(self.settings.generate, name)
        with self._lock:
            if name not in self._generators:
                self._generators[name] = make_generator(cfg, self.embedder, self.secrets)
            return name, self._generators[name]

    @property
    def reranker(self) -> Reranker | None:
        if self._reranker is False:
            self._reranker = make_reranker(self.settings.retrieve, self.embedder, self.secrets)
        return self._reranker  # type: ignore[return-value]

    def _context(self, principal: Principal, question: str, model: str | None,
                 flt: SearchFilter | None) -> tuple[Retrieval, Packed, float, str, Generator]:
        name, gen = self.generator(model)
        cfg = self.settings.generate.models[name]
        rs = self.settings.retrieve
        with self.db.connection() as conn:
            res = retrieve(conn, self.embedder, question, acl_tokens=principal.acl_tokens, settings=rs,
                           flt=flt, k=max(rs.rerank_top_n, self.settings.generate.max_passages * 2))
            passages = res.passages
            if self.reranker is not None and passages:
                passages = self.reranker.rerank(question, passages, top_n=rs.rerank_top_n)
            if self.settings.generate.neighbours:
                with conn.transaction():
                    enter_reader(conn, principal.acl_tokens)
                    passages = neighbours(conn, passages, principal.acl_tokens, self.settings.generate.neighbours)
        confidence = max((p.scores.get("dense", 0.0) for p in passages), default=0.0)
        budget = int(cfg.context_window * self.settings.generate.context_share)
        packed = pack(passages, count_tokens=self.embedder.count_tokens, budget_tokens=budget,
                      max_passages=self.settings.generate.max_passages)
        if self.settings.scan_ingest:
            packed.passages, dropped = screen_passages(packed.passages, self.settings.guard)
            packed.dropped += dropped
        return res, packed, confidence, name, gen

    def _audit(self, principal: Principal, action: str, details: dict) -> None:
        with self.db.transaction() as conn:
            audit.record(conn, action, actor_id=principal.id, details=details)

    def ask(self, principal: Principal, question: str, *, model: str | None = None,
            json_schema: dict | None = None, flt: SearchFilter | None = None) -> AskResult:
        """Guard the question, retrieve inside the principal's permissions, generate, ground,
        guard the answer; or abstain / block with a reason."""
        gs = self.settings.guard
        verdict = check_question(question, gs)
        if verdict.verdict is Verdict.BLOCK:
            self._audit(principal, "guard.block", {"stage": "input", "reasons": verdict.reasons,
                                                   "question": redact_for_trace(question, gs)})
            name, _ = model_config(self.settings.generate, model)
            return AskResult(blocked_answer(verdict, name), [], Retrieval([]), None, name, 0.0, blocked=True)
        res, packed, confidence, name, gen = self._context(principal, question, model, flt)
        if confidence < self.settings.retrieve.min_confidence or not packed.passages:
            ans = abstention(self.settings.ground, "weak_retrieval", escalate=True, model=name)
        else:
            ans = grounded_answer(question, packed.passages, gen, self.embedder, self.settings.ground,
                                  json_schema=json_schema, max_tokens=self.settings.generate.max_answer_tokens)
        cited = {c.document_id for c in ans.citations}
        label = most_restrictive([p.classification for p in packed.passages if p.document_id in cited])
        ans, out_verdict = screen_answer(ans, label, gs)
        self._audit(principal, "ask", {
            "question": redact_for_trace(question, gs), "model": name, "abstained": ans.abstained,
            "cited_documents": len(cited), "dropped": len(packed.dropped),
            "output_guard": out_verdict.verdict.value,
        })
        return AskResult(ans, packed.passages, res, packed, name, confidence)

    def ask_stream(self, principal: Principal, question: str, *, model: str | None = None,
                   flt: SearchFilter | None = None) -> Iterator[dict]:
        """Events: sources, token, sentence, retract, done (see ``ground.stream``).

        Streaming shows tokens before the output guard has seen the whole answer, so it is
        refused for sources whose policy redacts or blocks; such questions get the checked
        answer as one ``done`` event instead."""
        gs = self.settings.guard
        verdict = check_question(question, gs)
        if verdict.verdict is Verdict.BLOCK:
            self._audit(principal, "guard.block", {"stage": "input", "reasons": verdict.reasons})
            yield {"type": "done", "answer": blocked_answer(verdict).to_dict()}
            return
        res, packed, confidence, name, gen = self._context(principal, question, model, flt)
        if confidence < self.settings.retrieve.min_confidence or not packed.passages:
            ans = abstention(self.settings.ground, "weak_retrieval", escalate=True, model=name)
            yield {"type": "done", "answer": ans.to_dict()}
            return
        sources = _sources(packed.passages)
        label = most_restrictive([p.classification for p in packed.passages])
        policy = gs.policy_for(label)
        if policy.block or policy.redact_in_answers:
            result = self.ask(principal, question, model=model, flt=flt)
            yield {"type": "sources", "sources": result.to_dict()["sources"]}
            yield {"type": "done", "answer": result.answer.to_dict()}
            return
        yield {"type": "sources", "sources": sources}
        for event in stream_answer(question, packed.passages, gen, self.embedder, self.settings.ground,
                                   max_tokens=self.settings.generate.max_answer_tokens):
            if event["type"] == "done":
                a = dict(event["answer"])
                if not a["abstained"]:
                    r = PiiGuard(gs, label).check(a["text"])
                    if r.verdict in (Verdict.SANITISE, Verdict.BLOCK):
                        a["text"] = r.sanitised_text if r.verdict is Verdict.SANITISE else WITHHELD_TEXT
                        a["reasons"] = [*a.get("reasons", []), f"output_guard:{r.verdict.value}"]
                        yield {"type": "replace", "text": a["text"], "reason": "output_guard"}
                        event = {**event, "answer": a}
                self._audit(principal, "ask", {"question": redact_for_trace(question, gs), "model": name,
                                               "stream": True, "abstained": a["abstained"]})
            yield event

    # retrieval --------------------------------------------------------------------------
    def search(
        self, principal: Principal, query: str, *, k: int | None = None, mode: Mode = "hybrid",
        flt: SearchFilter | None = None,
    ) -> Retrieval:
        with self.db.connection() as conn:
            return retrieve(
                conn, self.embedder, query, acl_tokens=principal.acl_tokens,
                settings=self.settings.retrieve, flt=flt, k=k, mode=mode,
            )


@dataclass
class AskResult:
    answer: Answer
    passages: list  # the packed sources the model saw, [1]..[n]
    retrieval: Retrieval
    packed: Packed | None
    model: str
    confidence: float
    blocked: bool = False

    def to_dict(self) -> dict:
        return {
            "answer": self.answer.to_dict(), "model": self.model, "confidence": round(self.confidence, 4),
            "blocked": self.blocked,
            "sources": _sources(self.passages),
            "timings_ms": {k: round(v, 2) for k, v in self.retrieval.timings_ms.items()},
        }


def _sources(passages: list) -> list[dict]:
    """The numbered sources a model saw, as the API and stream events show them."""
    return [
        {"n": i + 1, "document_id": p.document_id, "chunk_id": p.chunk_id, "title": p.title,
         "char_start": p.char_start, "char_end": p.char_end, "section": list(p.section_path)}
        for i, p in enumerate(passages)
    ]


def supported_extensions() -> list[str]:
    return sorted(SUPPORTED_EXTENSIONS)
