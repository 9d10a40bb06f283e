"""The engine is a thin facade over the services: the only thing the API, CLI and UI call.

Answering is the answer pipeline (``answer/``: ``ask`` and ``ask_stream`` are one run); routing,
budgets and resilience are ``route/``; documents, identities, ingestion and hand-off are
``services/`` and ``review/``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from tether.answer import AnswerPipeline, Services
from tether.answer.respond import AskResult  # noqa: F401 - re-exported: what ``ask`` returns
from tether.answer.rewrite import History
from tether.cache.answers import AnswerCache
from tether.embed.base import Embedder, make_embedder
from tether.generate.base import Generator
from tether.ground.focus import AnswerScorer
from tether.ingest.pipeline import IngestRequest
from tether.observe.trace import NullTrace, Trace
from tether.retrieve.exposure import expose
from tether.retrieve.filters import SearchFilter
from tether.retrieve.rerank import Reranker, make_reranker
from tether.retrieve.retriever import Mode, Retrieval, retrieve
from tether.review.service import ReviewService
from tether.route.breaker import Breakers
from tether.route.registry import make_generator, model_config
from tether.route.resilience import build_chain
from tether.services.accounts import AccountService
from tether.services.audit import AuditService
from tether.services.connectors import ConnectorService
from tether.services.conversations import ConversationService
from tether.services.directory import DirectoryService
from tether.services.documents import DocumentService, supported_extensions  # noqa: F401 - re-exported
from tether.services.evaluations import EvaluationService
from tether.services.ingest import Batch, IngestService, expand_paths  # noqa: F401 - re-exported
from tether.services.mcp_servers import McpServerService
from tether.services.operations import OperationsService
from tether.services.provisioning import ProvisioningService
from tether.services.traces import TraceService
from tether.services.usage import UsageService
from tether.settings import Settings
from tether.store.db import Database, open_database
from tether.types import Answer, Principal


class Tether:
    def __init__(self, settings: Settings, *, keep_db_running: bool = True,
                 secrets: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        #: Where provider keys are looked up by name (the environment, read at the edge).
        self.secrets: Mapping[str, str] = secrets if secrets is not None else {}
        self._generators: dict[str, Generator] = {}
        self._reranker: Reranker | None | bool = False
        self._scorer: AnswerScorer | None | bool = False  # the verifier, loaded on first use
        self._scorer_lock = threading.Lock()
        self.db: Database = open_database(settings, keep_running=keep_db_running)
        self._embedder: Embedder | None = None
        self._lock = threading.RLock()
        #: Called with every finished trace (metrics, OpenTelemetry export); failures are logged.
        self.trace_listeners: list[Callable[[Trace], None]] = []
        #: Circuit breakers per provider, shared by every request of this engine.
        self.breakers = Breakers.from_settings(settings.generate.resilience)
        #: Exact and semantic answer cache (cache/answers.py); ``settings.cache``.
        self.answer_cache = AnswerCache(self.db, settings, lambda: self.embedder)
        #: External MCP servers research mode may call (services/mcp_servers.py).
        self.mcp_servers = McpServerService(self.db, self.secrets, settings.research.tool_timeout_s)
        #: The answer pipeline (answer/run.py) behind ``ask`` and ``ask_stream``.
        self.answers = AnswerPipeline(Services(
            settings, self.db, lambda: self.embedder, lambda: self.reranker, self._model, self.answer_cache,
            lambda *a, **kw: self.auto_hand_off(*a, **kw), self.trace_listeners, scorer=lambda: self.scorer,
            completer=self._completer, tool_chat=self._tool_chat, mcp_tools=self.mcp_servers.available_tools,
            call_tool=self.mcp_servers.call))
        # the services the edges call (services/, review/service.py): each takes the acting principal
        self.ingest = IngestService(self.db, settings, lambda: self.embedder)
        self.documents = DocumentService(self.db, self.ingest)
        self.accounts = AccountService(self.db)
        self.directory = DirectoryService(self.db, settings.oidc, self.secrets)  # OIDC sign-in, JWT bearer
        self.provisioning = ProvisioningService(self.db, settings.scim, self.secrets)  # SCIM 2.0
        self.usage = UsageService(self.db)
        self.audit = AuditService(self.db)
        self.traces = TraceService(self.db, settings)
        self.evaluations = EvaluationService(self.db)
        self.operations = OperationsService(self.db, settings)
        self.reviews = ReviewService(self.db, settings)
        #: Connectors (services/connectors.py): sources kept in step by sync jobs any worker runs.
        self.connectors = ConnectorService(self.db, settings, lambda: self.embedder, self.secrets, self.ingest)
        #: Threads and turns (services/conversations.py): the pipeline with a rewritten follow-up.
        self.conversations = ConversationService(self.db, settings, self.answers, self.new_trace)

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings.embed, self.secrets)
            return self._embedder

    def warm_up(self) -> None:
        """Load the models the answer path uses (embedder, injection classifier, Presidio when a
        policy can act on it) now, so a server's first requests do not queue behind the loads."""
        from tether.guard.injection import InjectionGuard
        from tether.guard.pii import PiiDetector

        self.embedder.embed(["warm up"])
        gs = self.settings.guard
        InjectionGuard(gs).warm_up()
        if any(p.changes_answers for p in [*gs.policies.values(), gs.default_policy]):
            PiiDetector(gs).warm_up()
        scorer = self.scorer  # the verifier (answerability gate, focused quotes, entailment)
        if scorer is not None:
            scorer.verifier.answer_scores_pairs([("warm up", "warm up")])

    @property
    def scorer(self) -> AnswerScorer | None:
        """The verifier behind a memo of its scores, loaded once per engine (None when no model
        is shipped and none is configured: the answer path then runs without it)."""
        with self._scorer_lock:
            if self._scorer is False:
                from tether.ground.answerable import load_verifier

                verifier = load_verifier(self.settings.ground.answerability)
                self._scorer = AnswerScorer(verifier) if verifier is not None else None
            return self._scorer  # type: ignore[return-value]

    def close(self) -> None:
        with self._lock:
            generators, self._generators = list(self._generators.values()), {}
        for g in generators:  # a local model's server process stops with its engine
            getattr(g, "close", lambda: None)()
        self.db.close()

    def __enter__(self) -> Tether:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # identities -------------------------------------------------------------------------
    def principal(self, name: str) -> Principal:
        return self.accounts.principal(name)

    # ingestion (services/ingest.py) ---------------------------------------------------------
    def enqueue_ingest(
        self, paths: Iterable[str | Path], *, collection: str = "default", acl: list[str] | None = None,
        owner: str | None = None, classification: str = "internal", title: str | None = None,
    ) -> Batch:
        return self.ingest.enqueue_paths(paths, collection=collection, acl=acl, owner=owner,
                                         classification=classification, title=title)

    def enqueue_requests(self, requests: list[IngestRequest]) -> Batch:
        return self.ingest.enqueue(requests)

    def work(
        self, *, batch_id: str | None = None, until_empty: bool = True,
        on_result: Callable[[dict], None] | None = None, stop: threading.Event | None = None,
    ) -> int:
        return self.ingest.work(batch_id=batch_id, until_empty=until_empty, on_result=on_result, stop=stop)

    def batch_status(self, batch_id: str) -> dict[str, int]:
        return self.ingest.batch_status(batch_id)

    def batch_report(self, batch_id: str) -> list[dict]:
        return self.ingest.batch_report(batch_id)

    def sync_folder(self, folder: str | Path, collection: str, present: list[str]) -> list[dict]:
        """Delete documents of ``collection`` under ``folder`` whose file is gone."""
        return self.ingest.sync_folder(folder, collection, present)

    # documents (services/documents.py) --------------------------------------------------------
    def list_documents(self, principal: Principal, collection: str | None = None, *,
                       every: bool = False) -> list[dict]:
        """What ``principal`` may read; ``every``: all documents (administrators only)."""
        return self.documents.list(principal, collection, every=every)

    def get_document(self, principal: Principal, doc_id: int) -> dict:
        """A document ``principal`` may read by its ACL; NotFound otherwise."""
        return self.documents.get(principal, doc_id)

    def delete_document(self, principal: Principal, doc_id: int) -> bool:
        """Delete a document ``principal`` may manage (its owner or an administrator), audited."""
        return self.documents.delete(principal, doc_id)

    def record_audit(self, principal: Principal, action: str, details: dict, target: str | None = None) -> None:
        self.audit.record(principal, action, details, target)

    # human hand-off (review/service.py) --------------------------------------------------------
    def hand_off(self, principal: Principal, question: str, *, source: str, trace_id: str | None = None,
                 answer: Answer | dict | None = None, passages: list | None = None) -> int:
        """Open a review item (see ``ReviewService.hand_off``); returns its id."""
        return self.reviews.hand_off(principal, question, source=source, trace_id=trace_id, answer=answer,
                                     passages=passages)

    def auto_hand_off(self, principal: Principal, question: str, *, source: str, trace_id: str | None = None,
                      answer: Answer | dict | None = None, passages: list | None = None) -> int | None:
        """``hand_off`` when ``review.sources`` asks for it; never raises (``ReviewService``)."""
        return self.reviews.auto_hand_off(principal, question, source=source, trace_id=trace_id, answer=answer,
                                          passages=passages)

    # answering (answer/: one pipeline for ask, streams, the OpenAI endpoint, evaluation) --------
    def generator(self, name: str | None = None) -> tuple[str, Generator]:
        name, cfg = model_config(self.settings.generate, name)
        with self._lock:
            if name not in self._generators:
                self._generators[name] = make_generator(cfg, self.embedder, self.secrets, scorer=lambda: self.scorer,
                                                        answerability=self.settings.ground.answerability)
            return name, self._generators[name]

    def _model(self, name: str, trace: Trace) -> Generator:
        """The routed model wrapped for this request: traced, metered, retried, broken and fallen
        back across ``generate.fallbacks`` (route/resilience.py)."""
        return build_chain(name, self.settings, lambda n: self.generator(n)[1], trace, self.breakers,
                           self.embedder.count_tokens)

    def _completer(self, model: str | None) -> Callable[[list[dict[str, str]]], str] | None:
        """The chat completer of the answering model, for the LLM follow-up rewriter (None: that
        model cannot complete chat messages, e.g. the extractive default: the rules rewrite)."""
        name, cfg = model_config(self.settings.generate, model)
        if cfg.kind != "openai":
            return None
        return getattr(self.generator(name)[1], "complete", None)

    def _tool_chat(self, model: str) -> Callable[..., Any] | None:
        """The tool-calling chat of an OpenAI-compatible model (research mode's LLM planner)."""
        name, cfg = model_config(self.settings.generate, model)
        return getattr(self.generator(name)[1], "chat_tools", None) if cfg.kind == "openai" else None

    @property
    def reranker(self) -> Reranker | None:
        if self._reranker is False:
            self._reranker = make_reranker(self.settings.retrieve, self.embedder, self.secrets)
        return self._reranker  # type: ignore[return-value]

    def new_trace(self, kind: str, principal: Principal) -> Trace:
        who: dict[str, Any] = {"principal_id": principal.id, "principal_name": principal.name,
                               "api_key_id": principal.api_key_id}
        return Trace(kind, **who) if self.settings.observe.tracing else NullTrace(kind, **who)

    def ask(self, principal: Principal, question: str, *, model: str | None = None,
            json_schema: dict | None = None, flt: SearchFilter | None = None,
            trace: Trace | None = None, history: History | None = None, mode: str = "plain") -> AskResult:
        """Guard the question, retrieve inside the principal's permissions, route, generate,
        ground, guard the answer; or abstain / block with a reason. Every step is a span.
        ``mode="research"``: plan the question into steps, each retrieving inside the same
        permissions (answer/research.py)."""
        return self.answers.ask(principal, question, trace or self.new_trace("ask", principal), model=model,
                                json_schema=json_schema, flt=flt, history=history, mode=_mode(mode))

    def ask_stream(self, principal: Principal, question: str, *, model: str | None = None,
                   flt: SearchFilter | None = None, history: History | None = None,
                   mode: str = "plain") -> Iterator[dict]:
        """The same run as ``ask``, delivered as events: sources, token, sentence, retract,
        replace, done (see answer/respond.py); the last event carries ``trace_id``, and the trace
        is stored before it is sent. Sources whose policy redacts or blocks get the whole checked
        answer (sources, done) instead of live tokens."""
        return self.answers.stream(principal, question, self.new_trace("stream", principal), model=model, flt=flt,
                                   history=history, mode=_mode(mode))

    # retrieval --------------------------------------------------------------------------
    def search(
        self, principal: Principal, query: str, *, k: int | None = None, mode: Mode = "hybrid",
        flt: SearchFilter | None = None,
    ) -> Retrieval:
        """Search inside ``principal``'s permissions. Non-administrators get rank-normalised
        scores and no stage timings (retrieve/exposure.py: raw BM25 scores and timings depend on
        documents they cannot read)."""
        with self.db.connection() as conn, (self.db.spare() if mode == "hybrid" else nullcontext()) as side:
            res = retrieve(
                conn, self.embedder, query, acl_tokens=principal.acl_tokens,
                settings=self.settings.retrieve, flt=flt, k=k, mode=mode, side=side,
            )
        if principal.is_admin:
            return res
        return Retrieval(expose(res.passages, admin=False), {}, dict(res.candidates), res.rls)


MODES = ("plain", "research")


def _mode(mode: str) -> str:
    if mode not in MODES:
        from tether.errors import InvalidInput

        raise InvalidInput(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    return mode
