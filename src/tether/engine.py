"""The engine wires the stages together; it is the only thing the API, CLI and UI call."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from contextlib import contextmanager
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tether.cache.answers import AnswerCache
from tether.embed.base import Embedder, make_embedder
from tether.errors import ProviderError
from tether.generate.base import Generator
from tether.generate.router import Route, choose, features as route_features
from tether.observe import store as obs_store
from tether.observe.trace import Call, NullTrace, Trace, cost_usd
from tether.retrieve.dense import permission_filtered
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
from tether.types import Answer, Passage, SentenceVerdict
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
        #: Called with every finished trace (metrics, OpenTelemetry export); failures are logged.
        self.trace_listeners: list[Callable[[Trace], None]] = []
        #: Circuit breakers per provider, shared by every request of this engine.
        self.breakers = _make_breakers(settings)
        #: Exact and semantic answer cache (cache/answers.py); ``settings.cache``.
        self.answer_cache = AnswerCache(self)

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

    def record_audit(self, principal: Principal | None, action: str, details: dict, target: str | None = None) -> None:
        with self.db.transaction() as conn:
            audit.record(conn, action, actor_id=principal.id if principal else None, target=target, details=details)

    # human hand-off ---------------------------------------------------------------------
    def hand_off(self, principal: Principal, question: str, *, source: str, trace_id: str | None = None,
                 answer: Answer | dict | None = None, passages: list | None = None) -> int:
        """Open a review item for ``question`` (source: abstention | low_confidence | budget_refusal |
        feedback | user_request); returns its id. Evidence comes from ``passages`` and the answer's
        citations, re-checked against ``principal``'s permissions. An open item of the same asker
        with the same question is reused. Raises store errors (see ``auto_hand_off``)."""
        from tether.store import reviews

        ans = answer.to_dict() if isinstance(answer, Answer) else answer
        reason = ", ".join(str(r) for r in (ans or {}).get("reasons", []) or []) or source
        with self.db.transaction() as conn:
            return reviews.create(conn, principal, question, source=source, reason=reason, trace_id=trace_id,
                                  answer=ans, evidence=reviews.evidence_from_passages(passages or []))

    def auto_hand_off(self, principal: Principal, question: str, *, source: str, trace_id: str | None = None,
                      answer: Answer | dict | None = None, passages: list | None = None) -> int | None:
        """``hand_off`` when ``review.auto_create`` is on and ``source`` is in ``review.sources``;
        never raises (the answer path must not fail because the queue did): logs and returns None."""
        cfg = self.settings.review
        if not cfg.auto_create or source not in cfg.sources:
            return None
        try:
            return self.hand_off(principal, question, source=source, trace_id=trace_id, answer=answer,
                                 passages=passages)
        except Exception:  # noqa: BLE001 - the asker still gets their answer
            log.exception("could not open a review item (%s)", source)
            return None

    def _auto_review(self, principal: Principal, question: str, ans: Answer | dict, passages: list | None,
                     trace: Trace) -> None:
        """Abstentions and escalated (low-confidence) answers go to the review queue, per
        ``review.sources``; after the trace is stored, so the item links to it."""
        a = ans.to_dict() if isinstance(ans, Answer) else ans
        if a.get("abstained"):
            source = "abstention"
        elif a.get("escalate"):
            source = "low_confidence"
        else:
            return
        self.auto_hand_off(principal, question, source=source, trace_id=trace.id or None, answer=a,
                           passages=passages)

    # answering --------------------------------------------------------------------------
    def generator(self, name: str | None = None) -> tuple[str, Generator]:
        name, cfg = model_config(self.settings.generate, name)
        with self._lock:
            if name not in self._generators:
                self._generators[name] = make_generator(cfg, self.embedder, self.secrets)
            return name, self._generators[name]

    def _model(self, name: str, trace: Trace) -> Generator:
        """The routed model wrapped for this request: traced, metered and (when the resilience
        layer is present) retried, broken and fallen back across ``generate.fallbacks``."""
        from tether.generate.resilience import build_chain

        return build_chain(name, self.settings, lambda n: self.generator(n)[1], trace, self.breakers,
                           self.embedder.count_tokens)

    @property
    def reranker(self) -> Reranker | None:
        if self._reranker is False:
            self._reranker = make_reranker(self.settings.retrieve, self.embedder, self.secrets)
        return self._reranker  # type: ignore[return-value]

    def new_trace(self, kind: str, principal: Principal) -> Trace:
        who = {"principal_id": principal.id, "principal_name": principal.name, "api_key_id": principal.api_key_id}
        return Trace(kind, **who) if self._tracing else NullTrace(kind, **who)

    @property
    def _tracing(self) -> bool:
        return self.settings.observe.tracing

    def _retrieve(self, principal: Principal, question: str, flt: SearchFilter | None,
                  trace: Trace) -> tuple[Retrieval, list[Passage], float]:
        """Hybrid retrieval inside the principal's permissions, reranked; spans for each stage."""
        rs = self.settings.retrieve
        k = max(rs.rerank_top_n, self.settings.generate.max_passages * 2)
        with self.db.connection() as conn:
            with trace.span("retrieve", k=k, fusion=rs.fusion) as span:
                res = retrieve(conn, self.embedder, question, acl_tokens=principal.acl_tokens, settings=rs,
                               flt=flt, k=k)
                at = span.start_ms
                for stage, name in _RETRIEVE_STAGES:
                    if stage in res.timings_ms:
                        trace.add_span(name, res.timings_ms[stage], start_ms=at,
                                       candidates=res.candidates.get(stage))
                        at += res.timings_ms[stage]
                span.set(candidates=res.candidates, rls=res.rls, hits=_hits(res.passages))
                if trace.enabled and res.passages:
                    vec = self.embedder.embed([question])[0]
                    removed = permission_filtered(conn, vec, dimension=self.embedder.dimension,
                                                  acl_tokens=principal.acl_tokens, flt=flt, k=rs.candidates,
                                                  ef_search=rs.ef_search)
                    span.set(**{"admin.permission_filtered": removed})
                    trace.set(**{"admin.permission_filtered": removed})
            tokens = self.embedder.count_tokens(question)
            trace.record_call(Call("embed", self.settings.embed.model, tokens, 0,
                                   cost_usd(tokens, 0, self.settings.embed.price_per_mtok, 0),
                                   res.timings_ms.get("embed_query", 0.0)))
            passages = res.passages
            if self.reranker is not None and passages:
                t0 = time.perf_counter()
                with trace.span("rerank", kind=rs.reranker, top_n=rs.rerank_top_n) as span:
                    passages = self.reranker.rerank(question, passages, top_n=rs.rerank_top_n)
                    span.set(hits=_hits(passages))
                tokens = sum(self.embedder.count_tokens(p.text) for p in passages)
                trace.record_call(Call("rerank", rs.reranker, tokens, 0,
                                       cost_usd(tokens, 0, rs.rerank_price_per_mtok, 0),
                                       (time.perf_counter() - t0) * 1000))
            if self.settings.generate.neighbours:
                with trace.span("neighbours", window=self.settings.generate.neighbours), conn.transaction():
                    enter_reader(conn, principal.acl_tokens)
                    passages = neighbours(conn, passages, principal.acl_tokens, self.settings.generate.neighbours)
        confidence = max((p.scores.get("dense", 0.0) for p in passages), default=0.0)
        trace.set(**{"retrieval.top_score": round(confidence, 4)})
        return res, passages, confidence

    def _pack(self, passages: list[Passage], models: list[str], trace: Trace) -> Packed:
        """Fit the sources into the smallest context window among ``models``; screen them."""
        budget = min(int(self.settings.generate.models[m].context_window * self.settings.generate.context_share)
                     for m in models)
        with trace.span("pack", budget_tokens=budget) as span:
            packed = pack(passages, count_tokens=self.embedder.count_tokens, budget_tokens=budget,
                          max_passages=self.settings.generate.max_passages)
            span.set(tokens=packed.tokens, kept=[p.chunk_id for p in packed.passages], dropped=packed.dropped)
        if self.settings.scan_ingest:
            with _guard_span(trace, "context_guard", "rules") as span:
                packed.passages, dropped = screen_passages(packed.passages, self.settings.guard)
                packed.dropped += dropped
                span.set(dropped=dropped)
        return packed

    def _route(self, question: str, model: str | None, confidence: float, passages: list[Passage],
               json_schema: dict | None, trace: Trace) -> Route:
        with trace.span("route") as span:
            route = choose(self.settings.generate, route_features(
                self.settings.generate, question, passages, confidence=confidence,
                json_schema=json_schema is not None, requested_model=model))
            for name in (route.model, route.escalate_to):
                if name:
                    model_config(self.settings.generate, name)  # unknown names fail here, typed
            span.set(model=route.model, reason=route.reason, escalate_to=route.escalate_to, **route.details)
        return route

    def _ground(self, question: str, packed: Packed, name: str, json_schema: dict | None, trace: Trace) -> Answer:
        with trace.span("ground", model=name) as span:
            try:
                ans = grounded_answer(question, packed.passages, self._model(name, trace), self.embedder,
                                      self.settings.ground, json_schema=json_schema,
                                      max_tokens=self.settings.generate.max_answer_tokens)
            except ProviderError as exc:
                # every model of the chain failed (retries, breakers and fallbacks spent): the
                # asker gets a clear escalation, not an error page; the trace keeps the cause
                log.warning("no model could answer: %s", exc.message)
                span.set(provider_error=exc.code, tried=exc.details.get("tried"))
                trace.set(provider_error=exc.code)
                ans = abstention(self.settings.ground, exc.code, escalate=True, model=name)
            span.set(abstained=ans.abstained, escalate=ans.escalate, reasons=ans.reasons, attempts=ans.attempts,
                     sentences=[_verdict(v) for v in ans.sentences])
        return ans

    def _finish(self, trace: Trace, status: str, question: str, model: str, details: dict,
                action: str = "ask") -> None:
        """Close the trace; store it with the audit record in one transaction; tell listeners."""
        gs = self.settings.guard
        redacted = redact_for_trace(question, gs)
        trace.set(question=redacted, model=model)
        trace.finish(status)
        with self.db.transaction() as conn:
            filtered = trace.attrs.get("admin.permission_filtered")
            audit.record(conn, action, actor_id=trace.principal_id,
                         details={"question": redacted, "model": model, "trace_id": trace.id or None,
                                  **({"permission_filtered": filtered} if filtered is not None else {}), **details})
            obs_store.save(conn, trace, question=redacted, model=model)
        for listener in list(self.trace_listeners):
            try:
                listener(trace)
            except Exception:  # noqa: BLE001 - an exporter must never fail a request
                log.exception("trace listener %r failed", listener)

    # budgets ----------------------------------------------------------------------------
    def _estimate_usd(self, question: str, packed: Packed, models: list[str], json_schema: dict | None,
                      trace: Trace) -> float:
        """Worst-case cost of this request, what its budgets reserve: the calls recorded so far
        (embedding, reranking) plus every generation it may still make. Per routed model (the
        chosen one and the cascade's escalation): a first call and, when grounding may regenerate,
        a second; each priced at the dearest model of its fallback chain, with the rendered prompt
        (packed sources, question, template) plus the quoted previous answer, counted with the
        embedder's tokenizer and 25% headroom for providers' tokenizers, as input, and
        ``max_answer_tokens`` as output. Failed attempts (retries) are recorded at 0 tokens, so
        they add nothing. Zero-priced chains (the default extractive model) count nothing."""
        gs = self.settings.generate
        chains = [[n for n in (m, *gs.fallbacks) if n in gs.models] for m in models]
        if not any(gs.models[n].price_in_per_mtok or gs.models[n].price_out_per_mtok for c in chains for n in c):
            return trace.cost_usd
        from tether.generate.base import GenerationRequest
        from tether.generate.prompting import render_messages

        out_tokens = gs.max_answer_tokens
        msgs = render_messages(GenerationRequest(question=question, passages=packed.passages,
                                                 json_schema=json_schema, max_tokens=out_tokens))
        prompt = sum(self.embedder.count_tokens(m["content"]) + 8 for m in msgs)
        in_tokens = int((prompt + out_tokens) * 1.25) + 32
        calls = 2 if self.settings.ground.regenerate else 1
        gen = sum(calls * max(cost_usd(in_tokens, out_tokens, gs.models[n].price_in_per_mtok,
                                       gs.models[n].price_out_per_mtok) for n in c) for c in chains if c)
        return trace.cost_usd + gen

    def _reserve_budget(self, principal: Principal, question: str, packed: Packed, models: list[str],
                        json_schema: dict | None, trace: Trace):
        """Reserve the worst-case cost against every budget that applies (store/budgets.py).
        Returns ``(reservation, None)``, or ``(empty reservation, refusal Answer)`` when a hard
        budget would be exceeded. With no budget applying this is one indexed query."""
        from tether.errors import BudgetExceeded
        from tether.store import budgets

        estimate = self._estimate_usd(question, packed, models, json_schema, trace)
        with trace.span("budget", estimate_usd=round(estimate, 8)) as span:
            try:
                with self.db.connection() as conn:
                    reservation = budgets.reserve(conn, principal, estimate, trace_id=trace.id or None)
            except BudgetExceeded as exc:
                span.set(decision="refused", scope=exc.details.get("scope"), period=exc.details.get("period"))
                trace.set(refused="budget_exceeded")
                refusal = Answer(text=f"Not answered: {exc.message}.", abstained=True, escalate=True,
                                 model=models[0] if models else "", reasons=["budget_exceeded"], attempts=0)
                return budgets.Reservation("", estimate), refusal
            span.set(decision="reserved" if reservation.budgets else "no_budget", budgets=reservation.budgets,
                     warnings=reservation.warnings)
        if reservation.warnings:
            trace.set(budget_warnings=list(reservation.warnings))
        return reservation, None

    def _settle_budget(self, reservation, trace: Trace) -> None:
        """Charge the request's whole recorded cost (``trace.cost_usd``: every call, the same
        figure as its usage events) to the budgets it reserved; never fails the request (an
        unsettled hold expires after 10 minutes)."""
        if reservation is None or reservation.empty or reservation.settled:
            return
        from tether.store import budgets

        try:
            with self.db.connection() as conn:
                budgets.settle(conn, reservation, trace.cost_usd)
            trace.event("budget.settle", actual_usd=round(trace.cost_usd, 8), estimate_usd=reservation.estimate_usd)
        except Exception:  # noqa: BLE001 - the answer stands; the hold expires
            log.exception("could not settle budget reservation %s", reservation.id)

    def ask(self, principal: Principal, question: str, *, model: str | None = None,
            json_schema: dict | None = None, flt: SearchFilter | None = None,
            trace: Trace | None = None) -> AskResult:
        """Guard the question, retrieve inside the principal's permissions, route, generate,
        ground, guard the answer; or abstain / block with a reason. Every step is a span."""
        trace = trace or self.new_trace("ask", principal)
        try:
            result = self._ask(principal, question, model, json_schema, flt, trace)
        except Exception as exc:
            trace.set(error=getattr(exc, "code", type(exc).__name__))
            self._finish(trace, "error", question, model or "", {"error": trace.attrs["error"]})
            raise
        result.trace_id = trace.id or None
        result.cost_usd = trace.cost_usd
        return result

    def _ask(self, principal: Principal, question: str, model: str | None, json_schema: dict | None,
             flt: SearchFilter | None, trace: Trace) -> AskResult:
        gs = self.settings.guard
        with _guard_span(trace, "input_guard", _INPUT_GUARD) as span:
            verdict = check_question(question, gs)
            span.set(verdict=verdict.verdict.value, score=round(verdict.score, 4), reasons=verdict.reasons)
        if verdict.verdict is Verdict.BLOCK:
            name, _ = model_config(self.settings.generate, model)
            trace.set(blocked=True, abstained=True)
            self._finish(trace, "blocked", question, name, {"stage": "input", "reasons": verdict.reasons},
                         action="guard.block")
            return AskResult(blocked_answer(verdict, name), [], Retrieval([]), None, name, 0.0, blocked=True)
        cached = self.answer_cache.lookup(principal, question, model, json_schema, flt, trace)
        if cached.result is not None:  # sources re-checked against this principal; no model call
            self._finish(trace, "answered", question, cached.result.model, cached.details)
            return cached.result
        res, passages, confidence = self._retrieve(principal, question, flt, trace)
        route = self._route(question, model, confidence, passages, json_schema, trace)
        models = [route.model] + ([route.escalate_to] if route.escalate_to else [])
        packed = self._pack(passages, models, trace)
        name = route.model
        weak = confidence < self.settings.retrieve.min_confidence or not packed.passages
        reservation, refusal = self._reserve_budget(principal, question, packed, [] if weak else models,
                                                    json_schema, trace)
        if refusal is not None:  # a hard budget is spent: no model call, a refusal the asker can act on
            trace.set(abstained=True, grounded=False, blocked=False, escalate=True, route=route.reason)
            self._finish(trace, "refused", question, name, {"refused": "budget_exceeded"}, action="budget.refuse")
            self.auto_hand_off(principal, question, source="budget_refusal", trace_id=trace.id or None,
                               answer=refusal)
            return AskResult(refusal, [], res, packed, name, confidence)
        try:
            if weak:
                ans = abstention(self.settings.ground, "weak_retrieval", escalate=True, model=name)
            else:
                ans = self._ground(question, packed, name, json_schema, trace)
                if route.escalate_to and _rejected(ans):
                    trace.event("route.escalate", **{"from": name, "to": route.escalate_to, "reasons": ans.reasons})
                    first, name = ans, route.escalate_to
                    ans = self._ground(question, packed, name, json_schema, trace)
                    ans = dataclasses.replace(ans, usage=first.usage + ans.usage,
                                              attempts=first.attempts + ans.attempts)
        finally:  # also when generation raised: the reservation becomes the actual cost
            self._settle_budget(reservation, trace)
        cited = {c.document_id for c in ans.citations}
        label = most_restrictive([p.classification for p in packed.passages if p.document_id in cited])
        with _guard_span(trace, "output_guard", "presidio+regex", classification=label) as span:
            ans, out_verdict = screen_answer(ans, label, gs)
            span.set(verdict=out_verdict.verdict.value, reasons=out_verdict.reasons)
        grounded = not ans.abstained and all(v.supported for v in ans.sentences)
        trace.set(abstained=ans.abstained, grounded=grounded, blocked=False, escalate=ans.escalate,
                  route=route.reason, cited_documents=sorted(cited))
        self.answer_cache.store(cached, principal, ans, packed, name, confidence, trace)  # answered, guarded only
        status = "escalated" if "provider_error" in trace.attrs else "abstained" if ans.abstained else "answered"
        self._finish(trace, status, question, name, {
            "abstained": ans.abstained, "cited_documents": len(cited), "dropped": len(packed.dropped),
            "output_guard": out_verdict.verdict.value,
        })
        self._auto_review(principal, question, ans, packed.passages, trace)
        return AskResult(ans, packed.passages, res, packed, name, confidence, warnings=list(reservation.warnings))

    def ask_stream(self, principal: Principal, question: str, *, model: str | None = None,
                   flt: SearchFilter | None = None) -> Iterator[dict]:
        """Events: sources, token, sentence, retract, done (see ``ground.stream``); the last
        event carries ``trace_id``, and the trace is stored before it is sent.

        Streaming shows tokens before the output guard has seen the whole answer, so it is
        refused for sources whose policy redacts or blocks; such questions get the checked
        answer as one ``done`` event instead. Streams do not cascade (shown tokens stay shown)
        and skip the answer cache."""
        gs = self.settings.guard
        trace = self.new_trace("stream", principal)
        state: dict = {"status": "error", "name": model or "", "refusal": None, "reservation": None,
                       "answer": None, "passages": None, "closed": False}
        details: dict = {"stream": True}

        def close() -> None:
            """Settle, store the trace, hand off: once, before the last event (or on failure)."""
            if state["closed"]:
                return
            state["closed"] = True
            self._settle_budget(state["reservation"], trace)
            if state["status"] == "delegated":
                return
            refusal = state["refusal"]
            self._finish(trace, state["status"], question, state["name"], details,
                         **({"action": "budget.refuse"} if refusal is not None else {}))
            if refusal is not None:
                self.auto_hand_off(principal, question, source="budget_refusal", trace_id=trace.id or None,
                               answer=refusal)
            elif state["answer"] is not None:
                self._auto_review(principal, question, state["answer"], state["passages"], trace)

        def done(answer: dict, status: str) -> dict:
            state["status"] = status
            close()
            return {"type": "done", "answer": answer, "trace_id": trace.id or None}

        try:
            with _guard_span(trace, "input_guard", _INPUT_GUARD) as span:
                verdict = check_question(question, gs)
                span.set(verdict=verdict.verdict.value, score=round(verdict.score, 4), reasons=verdict.reasons)
            if verdict.verdict is Verdict.BLOCK:
                trace.set(blocked=True, abstained=True)
                yield done(blocked_answer(verdict).to_dict(), "blocked")
                return
            res, passages, confidence = self._retrieve(principal, question, flt, trace)
            route = self._route(question, model, confidence, passages, None, trace)
            name = state["name"] = route.model
            packed = self._pack(passages, [name], trace)
            if confidence < self.settings.retrieve.min_confidence or not packed.passages:
                trace.set(abstained=True, grounded=False)
                ans = abstention(self.settings.ground, "weak_retrieval", escalate=True, model=name)
                state["answer"], state["passages"] = ans.to_dict(), packed.passages
                yield done(ans.to_dict(), "abstained")
                return
            label = most_restrictive([p.classification for p in packed.passages])
            policy = gs.policy_for(label)
            if policy.block or policy.redact_in_answers:
                state["status"] = "delegated"
                close()
                result = self.ask(principal, question, model=model, flt=flt)
                yield {"type": "sources", "sources": result.to_dict()["sources"]}
                yield {"type": "done", "answer": result.answer.to_dict(), "trace_id": result.trace_id}
                return
            state["reservation"], refusal = self._reserve_budget(principal, question, packed, [name], None, trace)
            if refusal is not None:
                state["refusal"], details["refused"] = refusal, "budget_exceeded"
                trace.set(abstained=True, grounded=False, blocked=False, escalate=True)
                yield done(refusal.to_dict(), "refused")
                return
            if state["reservation"].warnings:
                yield {"type": "warnings", "warnings": list(state["reservation"].warnings)}
            yield {"type": "sources", "sources": _sources(packed.passages)}
            final: dict | None = None
            with trace.span("ground", model=name, stream=True) as gspan:
                for event in stream_answer(question, packed.passages, self._model(name, trace), self.embedder,
                                           self.settings.ground, max_tokens=self.settings.generate.max_answer_tokens):
                    if event["type"] != "done":
                        yield event
                        continue
                    a = dict(event["answer"])
                    if not a["abstained"]:
                        with _guard_span(trace, "output_guard", "presidio+regex", classification=label) as ospan:
                            r = PiiGuard(gs, label).check(a["text"])
                            ospan.set(verdict=r.verdict.value, reasons=r.reasons)
                        if r.verdict in (Verdict.SANITISE, Verdict.BLOCK):
                            a["text"] = r.sanitised_text if r.verdict is Verdict.SANITISE else WITHHELD_TEXT
                            a["reasons"] = [*a.get("reasons", []), f"output_guard:{r.verdict.value}"]
                            yield {"type": "replace", "text": a["text"], "reason": "output_guard"}
                    gspan.set(abstained=a["abstained"], reasons=a.get("reasons", []), sentences=[
                        {"index": v.get("index"), "verdict": v.get("verdict"), "score": round(float(v.get("score", 0)), 4),
                         "cited": list(v.get("cited_numbers", [])), "reasons": list(v.get("reasons", []))}
                        for v in a.get("sentences", [])])
                    trace.set(abstained=a["abstained"], blocked=False, grounded=not a["abstained"] and all(
                        s.get("verdict") == "supported" for s in a.get("sentences", [])))
                    details["abstained"] = a["abstained"]
                    state["answer"], state["passages"] = a, packed.passages
                    final = {**event, "answer": a}
            if final is None:
                raise ProviderError("the answer stream ended without a result", model=name)
            final.update(done(final["answer"], "abstained" if final["answer"]["abstained"] else "answered"))
            yield final
        finally:
            close()

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
    trace_id: str | None = None
    cost_usd: float = 0.0
    #: Soft-budget warnings ("the monthly soft budget of group 'hr' is exceeded").
    warnings: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "answer": self.answer.to_dict(), "model": self.model, "confidence": round(self.confidence, 4),
            "blocked": self.blocked, "trace_id": self.trace_id, "cost_usd": round(self.cost_usd, 8),
            "warnings": list(self.warnings),
            "sources": _sources(self.passages),
            "timings_ms": {k: round(v, 2) for k, v in self.retrieval.timings_ms.items()},
        }


_RETRIEVE_STAGES = (("embed_query", "retrieve.embed_query"), ("bm25", "retrieve.keyword"),
                    ("dense", "retrieve.dense"), ("fusion", "retrieve.fusion"), ("hydrate", "retrieve.hydrate"))


_INPUT_GUARD = "jailguard+rules"


@contextmanager
def _guard_span(trace: Trace, stage: str, model: str, **attrs: object) -> Iterator:
    """A guard stage's span, and its call in the usage ledger (local: no cost, but timed)."""
    t0 = time.perf_counter()
    ok = False
    try:
        with trace.span(stage, **attrs) as span:
            yield span
        ok = True
    finally:
        trace.record_call(Call("guard", model, 0, 0, 0.0, (time.perf_counter() - t0) * 1000, ok))


def _hits(passages: list[Passage], n: int = 10) -> list[dict]:
    """The ids and scores of the top passages, for the trace (no text: traces stay small)."""
    return [{"chunk_id": p.chunk_id, "document_id": p.document_id, "score": round(p.score, 4),
             **{k: round(v, 4) for k, v in p.scores.items()}} for p in passages[:n]]


def _verdict(v: SentenceVerdict) -> dict:
    return {"index": v.index, "verdict": v.verdict, "score": round(v.score, 4), "cited": list(v.cited_numbers),
            "invalid": list(v.invalid_numbers), "reasons": list(v.reasons)}


def _rejected(ans: Answer) -> bool:
    """Grounding rejected the answer (cascade trigger): it abstained for lack of support, or
    sentences were dropped."""
    if ans.abstained:
        return any(r in ("unsupported_answer", "empty_answer", "model_abstained") for r in ans.reasons)
    return any(r.startswith("dropped:") for r in ans.reasons)


def _make_breakers(settings: Settings):
    from tether.generate.breaker import Breakers

    return Breakers.from_settings(settings.generate.resilience)


def _sources(passages: list) -> list[dict]:
    """The numbered sources a model saw, as the API and stream events show them."""
    return [
        {"n": i + 1, "document_id": p.document_id, "chunk_id": p.chunk_id, "title": p.title,
         "char_start": p.char_start, "char_end": p.char_end, "section": list(p.section_path)}
        for i, p in enumerate(passages)
    ]


def supported_extensions() -> list[str]:
    return sorted(SUPPORTED_EXTENSIONS)
