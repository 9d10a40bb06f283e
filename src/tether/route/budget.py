"""What a request may spend: its worst-case cost, reserved against every budget that applies
before any model is called, and settled to the recorded cost afterwards.

The ledger and its SQL live in :mod:`tether.store.budgets`; this module decides *how much* to
reserve (a worst case, so concurrent requests cannot overspend a hard budget between them) and
turns a spent hard budget into a refusal the asker can act on, never an error page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from tether.errors import BudgetExceeded
from tether.generate.base import GenerationRequest
from tether.generate.prompting import render_messages
from tether.observe.trace import Trace, cost_usd
from tether.store import budgets
from tether.store.db import Database
from tether.types import Answer, Passage, Principal

log = logging.getLogger(__name__)

#: Headroom over the embedder's token count for providers' own tokenizers.
TOKEN_HEADROOM = 1.25


def estimate_usd(settings: Any, count_tokens: Callable[[str], int], question: str, passages: Sequence[Passage],
                 models: Sequence[str], json_schema: dict | None, recorded_usd: float) -> float:
    """Worst-case cost of a request, what its budgets reserve: ``recorded_usd`` (the calls made so
    far: embedding, reranking) plus every generation it may still make. Per routed model (the
    chosen one and the cascade's escalation): a first call and, when grounding may regenerate, a
    second; each priced at the dearest model of its fallback chain, with the rendered prompt
    (packed sources, question, template) plus the quoted previous answer, counted with the
    embedder's tokenizer and 25% headroom, as input, and ``max_answer_tokens`` as output. Failed
    attempts (retries) are recorded at 0 tokens, so they add nothing. Zero-priced chains (the
    default extractive model) count nothing."""
    gs = settings.generate
    chains = [[n for n in (m, *gs.fallbacks) if n in gs.models] for m in models]
    if not any(gs.models[n].price_in_per_mtok or gs.models[n].price_out_per_mtok for c in chains for n in c):
        return recorded_usd
    out_tokens = gs.max_answer_tokens
    msgs = render_messages(GenerationRequest(question=question, passages=list(passages), json_schema=json_schema,
                                             max_tokens=out_tokens))
    prompt = sum(count_tokens(m["content"]) + 8 for m in msgs)
    in_tokens = int((prompt + out_tokens) * TOKEN_HEADROOM) + 32
    calls = 2 if settings.ground.regenerate else 1
    gen = sum(calls * max(cost_usd(in_tokens, out_tokens, gs.models[n].price_in_per_mtok,
                                   gs.models[n].price_out_per_mtok) for n in c) for c in chains if c)
    return recorded_usd + gen


def reserve(db: Database, principal: Principal, estimate: float, models: Sequence[str],
            trace: Trace) -> tuple[budgets.Reservation, Answer | None]:
    """Reserve ``estimate`` against every budget that applies, in a ``budget`` span. Returns
    ``(reservation, None)``, or ``(empty reservation, refusal Answer)`` when a hard budget would
    be exceeded. With no budget applying this is one indexed query."""
    with trace.span("budget", estimate_usd=round(estimate, 8)) as span:
        try:
            with db.connection() as conn:
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


def settle(db: Database, reservation: budgets.Reservation | None, trace: Trace) -> None:
    """Charge the request's whole recorded cost (``trace.cost_usd``: every call, the same figure
    as its usage events) to the budgets it reserved; never fails the request (an unsettled hold
    expires after 10 minutes)."""
    if reservation is None or reservation.empty or reservation.settled:
        return
    try:
        with db.connection() as conn:
            budgets.settle(conn, reservation, trace.cost_usd)
        trace.event("budget.settle", actual_usd=round(trace.cost_usd, 8), estimate_usd=reservation.estimate_usd)
    except Exception:  # noqa: BLE001 - the answer stands; the hold expires
        log.exception("could not settle budget reservation %s", reservation.id)
