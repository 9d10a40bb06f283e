"""The steps of an answer run, in the order :mod:`tether.answer.run` calls them; each records
its own span (``input_guard``, ``cache``, ``retrieve`` with ``retrieve.*`` children, ``rerank``,
``neighbours``, ``route``, ``pack``, ``context_guard``, ``answerable``, ``budget``, ``ground``,
``output_guard``).

A step reads and writes the run's state (:class:`~tether.answer.run.Run`) and gets what it uses
from the run's :class:`~tether.answer.run.Services`; none knows whether the answer is streamed.
Generation is part of ``ground`` (its ``model.call`` spans are children there): grounding may
regenerate, and the cascade regenerates with the stronger model.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tether.answer.respond import exposed_hits, verdict_attrs
from tether.embed.base import embed_queries, index_embedder
from tether.errors import ProviderError
from tether.ground.answer import answer as grounded_answer
from tether.ground.answerable import NOT_ANSWERABLE, answer_threshold, assess
from tether.ground.focus import topic_words
from tether.ground.policy import abstention
from tether.ground.verifier import Verifier
from tether.guard.base import Verdict
from tether.guard.stages import blocked_answer, most_restrictive
from tether.observe.trace import Call, Span, Trace, cost_usd
from tether.retrieve.dense import permission_filtered
from tether.retrieve.pack import neighbours, prefer_authoritative
from tether.retrieve.pack import pack as pack_passages
from tether.retrieve.retriever import retrieve as hybrid_retrieve
from tether.retrieve.vocabulary import unseen_words
from tether.route import budget as budgets
from tether.route.registry import model_config
from tether.route.router import choose
from tether.route.router import features as route_features
from tether.store.rls import enter_reader
from tether.types import Answer

if TYPE_CHECKING:
    from tether.answer.run import Run, Services

log = logging.getLogger(__name__)

_RETRIEVE_STAGES = (("embed_query", "retrieve.embed_query"), ("bm25", "retrieve.keyword"),
                    ("dense", "retrieve.dense"), ("fusion", "retrieve.fusion"), ("hydrate", "retrieve.hydrate"))


@contextmanager
def guard_span(trace: Trace, stage: str, model: str, **attrs: object) -> Iterator[Span]:
    """A guard stage's span, and its call in the usage ledger (local: no cost, but timed)."""
    t0 = time.perf_counter()
    ok = False
    try:
        with trace.span(stage, **attrs) as span:
            yield span
        ok = True
    finally:
        trace.record_call(Call("guard", model, 0, 0, 0.0, (time.perf_counter() - t0) * 1000, ok))


def input_guard(svc: Services, run: Run) -> bool:
    """Injection / abuse checks on the question; False (and a blocked answer) when refused."""
    with guard_span(run.trace, "input_guard", svc.guards.label("input")) as span:
        verdict = svc.guards.input(run.question)
        span.set(verdict=verdict.verdict.value, score=round(verdict.score, 4), reasons=verdict.reasons)
    if verdict.verdict is not Verdict.BLOCK:
        return True
    run.name, _ = model_config(svc.settings.generate, run.model)
    run.trace.set(blocked=True, abstained=True)
    run.answer, run.blocked = blocked_answer(verdict, run.name), True
    run.finish("blocked", {"stage": "input", "reasons": verdict.reasons}, action="guard.block")
    return False


def cache(svc: Services, run: Run) -> bool:
    """An answer someone with the same permissions got (sources re-checked for this principal);
    True on a hit: no model call, nothing spent."""
    run.lookup = svc.cache.lookup(run.principal, run.question, run.model, run.json_schema, run.flt, run.trace)
    hit = run.lookup
    if not hit.hit:
        return False
    run.answer, run.passages, run.name, run.confidence = hit.answer, hit.passages, hit.model, hit.confidence
    run.finish("answered", hit.details)
    return True


def retrieve(svc: Services, run: Run) -> None:
    """Hybrid retrieval inside the principal's permissions, reranked, neighbours added."""
    rs, trace, principal, question = svc.settings.retrieve, run.trace, run.principal, run.question
    embedder = svc.embedder()
    k = max(rs.rerank_top_n, svc.settings.generate.max_passages * 2)
    with svc.db.connection() as conn:
        with trace.span("retrieve", k=k, fusion=rs.fusion) as span:
            with svc.db.spare() as side:
                res = hybrid_retrieve(conn, embedder, question, acl_tokens=principal.acl_tokens, settings=rs,
                                      flt=run.flt, k=k, side=side)
            at = span.start_ms
            for stage, name in _RETRIEVE_STAGES:
                if stage not in res.timings_ms:
                    continue
                took = res.timings_ms[stage]
                # the dense search ran beside the keyword one: it started when that one did
                overlap = res.timings_ms.get("bm25", 0.0) if res.concurrent and stage == "dense" else 0.0
                trace.add_span(name, took, start_ms=at - overlap, candidates=res.candidates.get(stage))
                at += max(0.0, took - overlap)
            span.set(candidates=res.candidates, rls=res.rls, **exposed_hits(res.passages))
            if trace.enabled and res.passages:
                vec = embed_queries(embedder, [question])[0]
                removed = permission_filtered(conn, vec, dimension=index_embedder(embedder).dimension,
                                              acl_tokens=principal.acl_tokens,
                                              flt=run.flt, k=rs.candidates, ef_search=rs.ef_search)
                span.set(**{"admin.permission_filtered": removed})
                trace.set(**{"admin.permission_filtered": removed})
        tokens = embedder.count_tokens(question)
        trace.record_call(Call("embed", svc.settings.embed.model, tokens, 0,
                               cost_usd(tokens, 0, svc.settings.embed.price_per_mtok, 0),
                               res.timings_ms.get("embed_query", 0.0)))
        passages = res.passages
        reranker = svc.reranker()
        if reranker is not None and passages:
            t0 = time.perf_counter()
            with trace.span("rerank", kind=rs.reranker, top_n=rs.rerank_top_n) as span:
                passages = reranker.rerank(question, passages, top_n=rs.rerank_top_n)
                span.set(**exposed_hits(passages))
            tokens = sum(embedder.count_tokens(p.text) for p in passages)
            trace.record_call(Call("rerank", rs.reranker, tokens, 0, cost_usd(tokens, 0, rs.rerank_price_per_mtok, 0),
                                   (time.perf_counter() - t0) * 1000))
        if any(p.authoritative for p in passages):  # official sources first (store/collections.py)
            passages = prefer_authoritative(passages)
        window = svc.settings.generate.neighbours
        if window:
            with trace.span("neighbours", window=window), conn.transaction():
                enter_reader(conn, principal.acl_tokens)
                passages = neighbours(conn, passages, principal.acl_tokens, window)
    run.retrieval, run.passages = res, passages
    run.confidence = max((p.scores.get("dense", 0.0) for p in passages), default=0.0)
    trace.set(**{"retrieval.top_score": round(run.confidence, 4)})


def route(svc: Services, run: Run) -> None:
    """Pick the model (and the cascade's escalation) by difficulty; unknown names fail typed."""
    gs = svc.settings.generate
    with run.trace.span("route") as span:
        r = choose(gs, route_features(gs, run.question, run.passages, confidence=run.confidence,
                                      json_schema=run.json_schema is not None, requested_model=run.model))
        for name in (r.model, r.escalate_to):
            if name:
                model_config(gs, name)
        span.set(model=r.model, reason=r.reason, escalate_to=r.escalate_to, **r.details)
    run.route, run.name = r, r.model


def pack(svc: Services, run: Run) -> None:
    """Fit the sources into the smallest context window among the routed models; then the
    context guard screens them (``context_guard``)."""
    gs, trace = svc.settings.generate, run.trace
    assert run.route is not None
    models = [run.route.model] + ([run.route.escalate_to] if run.route.escalate_to else [])
    budget = min(int(gs.models[m].context_window * gs.context_share) for m in models)
    with trace.span("pack", budget_tokens=budget) as span:
        packed = pack_passages(run.passages, count_tokens=svc.embedder().count_tokens, budget_tokens=budget,
                               max_passages=gs.max_passages)
        span.set(tokens=packed.tokens, kept=[p.chunk_id for p in packed.passages], dropped=packed.dropped)
    if svc.settings.scan_ingest:
        with guard_span(trace, "context_guard", svc.guards.label("context")) as span:
            packed.passages, dropped = svc.guards.context(packed.passages)
            packed.dropped += dropped
            span.set(dropped=dropped)
    run.packed = packed
    run.weak = run.confidence < svc.settings.retrieve.min_confidence or not packed.passages


def answerable(svc: Services, run: Run) -> None:
    """The answerability gate: the verifier reads the question with the packed passages the
    asker may read (ground/answerable.py); below the threshold the run abstains before any
    model is called (``not_answerable``, the same answer as weak retrieval). The span records
    the score, the threshold, the decision and the per-passage scores by chunk id (no text),
    and is there on every run past packing, so traces look alike whatever was decided."""
    assert run.packed is not None
    cfg = svc.settings.ground.answerability
    with run.trace.span("answerable") as span:
        if run.weak:
            span.set(decision="skipped", reason="weak_retrieval")
            return
        scorer = svc.scorer() if cfg.enabled else None
        if scorer is None:
            span.set(decision="off", reason="disabled" if not cfg.enabled else "no_model")
            return
        words, unseen = topic_words(run.question), []
        if cfg.min_unseen_share > 0 and words:
            with svc.db.connection() as conn:
                unseen = unseen_words(conn, words, acl_tokens=run.principal.acl_tokens, flt=run.flt)
        a = assess(scorer, svc.embedder(), run.focus or run.question, run.packed.passages,
                   answer_threshold(cfg, scorer.verifier), require_anchors=cfg.require_anchors, unseen=unseen,
                   topic_words=len(words), min_unseen_share=cfg.min_unseen_share)
        span.set(**a.to_attrs())
    run.answerability = a
    run.trace.set(**{"answerable.score": round(a.score, 4), "answerable.threshold": round(a.threshold, 4)})
    if not a.answerable:
        run.weak, run.abstain_reason = True, NOT_ANSWERABLE


def budget(svc: Services, run: Run) -> bool:
    """Reserve the worst-case cost; False (and a refusal the asker can act on) when a hard
    budget is spent. A live stream does not cascade, so it reserves for one model only."""
    assert run.route is not None and run.packed is not None
    models = [] if run.weak else [run.route.model] + (
        [run.route.escalate_to] if run.route.escalate_to and not run.live else [])
    estimate = budgets.estimate_usd(svc.settings, svc.embedder().count_tokens, run.question, run.packed.passages,
                                    models, run.json_schema, run.trace.cost_usd)
    run.reservation, refusal = budgets.reserve(svc.db, run.principal, estimate, models, run.trace)
    if refusal is None:
        run.warnings = list(run.reservation.warnings)
        return True
    run.trace.set(abstained=True, grounded=False, blocked=False, escalate=True, route=run.route.reason)
    run.answer, run.passages = refusal, []
    run.finish("refused", {"refused": "budget_exceeded"}, action="budget.refuse")
    svc.hand_off(run.principal, run.question, source="budget_refusal", trace_id=run.trace.id or None,
                 answer=refusal)
    return False


def settle(svc: Services, run: Run) -> None:
    budgets.settle(svc.db, run.reservation, run.trace)


def ground(svc: Services, run: Run) -> None:
    """Generate and ground (drop, regenerate or abstain); with a cascade, a rejected answer is
    asked again of the stronger model. Weak retrieval abstains without a model call."""
    assert run.route is not None and run.packed is not None
    if run.weak:
        run.answer = abstention(svc.settings.ground, run.abstain_reason or "weak_retrieval", escalate=True,
                                model=run.name)
        return
    ans = ground_with(svc, run, run.name)
    if run.route.escalate_to and rejected(ans):
        run.trace.event("route.escalate", **{"from": run.name, "to": run.route.escalate_to, "reasons": ans.reasons})
        first, run.name = ans, run.route.escalate_to
        ans = ground_with(svc, run, run.name)
        ans = dataclasses.replace(ans, usage=first.usage + ans.usage, attempts=first.attempts + ans.attempts)
    run.answer = ans


def ground_with(svc: Services, run: Run, name: str) -> Answer:
    assert run.packed is not None
    with run.trace.span("ground", model=name) as span:
        try:
            ans = grounded_answer(run.focus or run.question, run.packed.passages, svc.model(name, run.trace),
                                  svc.embedder(),
                                  svc.settings.ground, json_schema=run.json_schema,
                                  max_tokens=svc.settings.generate.max_answer_tokens, verifier=entailment(svc))
        except ProviderError as exc:
            ans = provider_failed(svc, run, exc, name, span)
        record_ground(span, ans)
    return ans


def entailment(svc: Services) -> Verifier | None:
    """The verifier for grounding's entailment check (``ground.entailment``), when there is one."""
    if not svc.settings.ground.entailment.enabled:
        return None
    scorer = svc.scorer()
    return scorer.verifier if scorer is not None else None


def provider_failed(svc: Services, run: Run, exc: ProviderError, name: str, span: Span) -> Answer:
    """Every model of the chain failed (retries, breakers and fallbacks spent): the asker gets
    a clear escalation, not an error page; the trace keeps the cause."""
    log.warning("no model could answer: %s", exc.message)
    span.set(provider_error=exc.code, tried=exc.details.get("tried"))
    run.trace.set(provider_error=exc.code)
    return abstention(svc.settings.ground, exc.code, escalate=True, model=name)


def record_ground(span: Span, ans: Answer) -> None:
    span.set(abstained=ans.abstained, escalate=ans.escalate, reasons=ans.reasons, attempts=ans.attempts,
             sentences=[verdict_attrs(v) for v in ans.sentences])


def rejected(ans: Answer) -> bool:
    """Grounding rejected the answer (cascade trigger): it abstained for lack of support, or
    sentences were dropped."""
    if ans.abstained:
        return any(r in ("unsupported_answer", "empty_answer", "model_abstained") for r in ans.reasons)
    return any(r.startswith("dropped:") for r in ans.reasons)


def output_guard(svc: Services, run: Run) -> bool:
    """PII / secrets policy on the answer text, every sentence and every citation quote, by the
    most restrictive classification among the cited documents; True when it changed anything."""
    assert run.answer is not None and run.packed is not None
    ans = run.answer
    cited = {c.document_id for c in ans.citations}
    run.label = most_restrictive([p.classification for p in run.packed.passages if p.document_id in cited])
    with guard_span(run.trace, "output_guard", svc.guards.label("output"), classification=run.label) as span:
        run.answer, run.out_verdict = svc.guards.output(ans, run.label)
        span.set(verdict=run.out_verdict.verdict.value, reasons=run.out_verdict.reasons)
    return run.answer is not ans


def respond(svc: Services, run: Run) -> None:
    """Record the outcome: trace attributes, the cache (answered, guarded answers only), the
    trace and audit record, and the review queue for abstentions and escalations."""
    assert run.answer is not None and run.packed is not None and run.route is not None
    ans, packed, trace = run.answer, run.packed, run.trace
    cited = {c.document_id for c in ans.citations}
    grounded = not ans.abstained and all(v.supported for v in ans.sentences)
    trace.set(abstained=ans.abstained, grounded=grounded, blocked=False, escalate=ans.escalate,
              route=run.route.reason, cited_documents=sorted(cited))
    svc.cache.store(run.lookup, run.principal, ans, packed.passages, run.name, run.confidence, trace)
    status = "escalated" if "provider_error" in trace.attrs else "abstained" if ans.abstained else "answered"
    assert run.out_verdict is not None
    run.finish(status, {"abstained": ans.abstained, "cited_documents": len(cited), "dropped": len(packed.dropped),
                        "output_guard": run.out_verdict.verdict.value})
    source = "abstention" if ans.abstained else "low_confidence" if ans.escalate else None
    if source is not None:  # after the trace is stored, so the item links to it
        svc.hand_off(run.principal, run.question, source=source, trace_id=trace.id or None, answer=ans.to_dict(),
                     passages=packed.passages)
