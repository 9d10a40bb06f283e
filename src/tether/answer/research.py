"""Research mode's ``retrieve`` step (``mode: "research"``): the question is planned into steps,
each step retrieves inside the asker's permissions (the plain ``retrieve`` step, once per
query), and the passages of every step are pooled for the same route -> pack -> answerable ->
ground -> output guard steps as any answer. The final answer is grounded sentence by sentence as
always, over the sources of every step.

Planners:

- **embedded** (no model; the default): :func:`tether.agents.plan.decompose` (the question, then
  each part of a multi-part one), then, for a question in one part, a second hop per bridge
  entity the first hop's passages name (:func:`tether.agents.plan.bridge_entities`, at most
  ``research.max_hops``); the answer is then made for the question with each hop's query as a
  further part (``Run.focus``), so the second hop's facts are quoted too.
- **llm**: when the answering model is OpenAI-compatible and declares the ``tools`` capability,
  it is asked with tools (``search``, and the tools of every enabled external MCP server,
  ``agents/mcp_client.py``) until it stops calling them (:mod:`tether.answer.research_llm`).

Limits (``[research]``): steps, tokens read, seconds and the planner's cost; the first one reached
stops the planning and the answer is made from the steps done (the ``research`` span says which).
Trace: a ``research`` span (planner, limits, stopped_by) with a ``research.step`` child per step
(kind, reason, the chunk ids kept as ``chunks``; each a ``retrieve`` span as in a plain run). A
second hop's query is shown to the asker in full (stream and result) but traced with its entity
masked, as
``[entity of chunk N]``: traces are also read by administrators. Stream events: ``plan`` (the
first hop's steps), then ``step`` per step done (``index``, ``kind``, ``query``, ``documents``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tether.agents.plan import Step, bridge_entities, decompose, hop_query
from tether.answer import steps
from tether.answer.respond import Event
from tether.guard.pii import redact_for_trace
from tether.retrieve.retriever import Retrieval
from tether.settings import ResearchSettings
from tether.types import Passage

if TYPE_CHECKING:
    from tether.answer.run import Run, Services


@dataclass
class Limits:
    """What one research run may still spend; :meth:`reached` names the first limit hit."""

    cfg: ResearchSettings
    cost0: float
    t0: float = field(default_factory=time.perf_counter)
    steps: int = 0
    tokens: int = 0

    def reached(self, cost_usd: float) -> str | None:
        if self.steps >= self.cfg.max_steps:
            return "max_steps"
        if self.tokens >= self.cfg.max_tokens:
            return "max_tokens"
        if time.perf_counter() - self.t0 >= self.cfg.max_seconds:
            return "max_seconds"
        if cost_usd - self.cost0 > self.cfg.max_cost_usd:
            return "max_cost_usd"
        return None

    def to_dict(self) -> dict:
        return {"max_steps": self.cfg.max_steps, "max_tokens": self.cfg.max_tokens,
                "max_seconds": self.cfg.max_seconds, "max_cost_usd": self.cfg.max_cost_usd}


@dataclass
class Research:
    """The plan as it ran: steps done (with what each found) and why planning stopped."""

    planner: str
    done: list[dict] = field(default_factory=list)
    pools: list[list[Passage]] = field(default_factory=list)
    stopped_by: str | None = None
    retrievals: list[Retrieval] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"planner": self.planner, "steps": list(self.done), "stopped_by": self.stopped_by}


def search_step(svc: Services, run: Run, research: Research, limits: Limits, step: Step,
                traced_query: str | None = None) -> list[Passage]:
    """Run one step's search inside the asker's permissions (the plain ``retrieve`` step), keep
    its best ``step_k`` passages; returns them (also pooled on ``research``)."""
    cfg, index = svc.settings.research, len(research.done) + 1
    shown = traced_query if traced_query is not None else redact_for_trace(step.query, svc.settings.guard)
    with run.trace.span("research.step", index=index, kind=step.kind, reason=step.reason, query=shown) as span:
        sub = dataclasses.replace(run, question=step.query)
        steps.retrieve(svc, sub)
        kept = sub.passages[: cfg.step_k]
        span.set(chunks=[p.chunk_id for p in kept], documents=sorted({p.document_id for p in kept}))
    count = svc.embedder().count_tokens
    limits.steps += 1
    limits.tokens += sum(count(p.text) for p in kept)
    research.pools.append(kept)
    research.retrievals.append(sub.retrieval)
    research.done.append({**step.to_dict(), "index": index, "documents": sorted({p.document_id for p in kept}),
                          "hits": len(kept)})
    return kept


#: An LLM planner: ``(svc, run, research, limits) -> events`` (``answer/research_llm.py``).
Planner = Callable[["Services", "Run", Research, Limits], Iterator[Event]]


def run_research(svc: Services, run: Run, llm: Planner | None = None) -> Iterator[Event]:
    """Plan (with ``llm`` when given, else the embedded planner), run the steps, and pool their
    passages into ``run.passages`` (best of each step first)."""
    limits = Limits(svc.settings.research, run.trace.cost_usd)
    research = Research("llm" if llm is not None else "embedded")
    with run.trace.span("research", planner=research.planner, **limits.to_dict()) as span:
        yield from (llm or _embedded)(svc, run, research, limits)
        span.set(steps=len(research.done), stopped_by=research.stopped_by, tokens=limits.tokens,
                 seconds=round(time.perf_counter() - limits.t0, 3))
    run.research = research
    hops = [d["query"] for d in research.done if d["kind"] == "hop"]
    if hops:  # each hop becomes a part of the question the answer is made for
        run.focus = " ".join([run.question.rstrip(" ?") + "?", *(h.rstrip(" ?") + "?" for h in hops)])
    run.passages = pooled(research.pools)
    run.retrieval = Retrieval(run.passages, _timings(research.retrievals))
    run.confidence = max((p.scores.get("dense", 0.0) for p in run.passages), default=0.0)
    run.trace.set(**{"retrieval.top_score": round(run.confidence, 4), "research.steps": len(research.done)})


def _embedded(svc: Services, run: Run, research: Research, limits: Limits) -> Iterator[Event]:
    first = decompose(run.question)
    yield {"type": "plan", "planner": "embedded", "steps": [s.to_dict() for s in first]}
    for step in first:
        if (why := limits.reached(run.trace.cost_usd)) is not None:
            research.stopped_by = why
            return
        search_step(svc, run, research, limits, step)
        yield step_event(research)
    hop1 = pooled(research.pools)
    hops = svc.settings.research.max_hops if len(first) == 1 else 0  # a multi-part question: its parts
    for entity, bridge in bridge_entities(run.question, hop1, hops):
        if (why := limits.reached(run.trace.cost_usd)) is not None:
            research.stopped_by = why
            return
        source = next((p.chunk_id for p in hop1 if entity in p.text), None)
        query = hop_query(run.question, entity, bridge)
        masked = redact_for_trace(query.replace(entity, f"[entity of chunk {source}]"), svc.settings.guard)
        search_step(svc, run, research, limits, Step("hop", query, "second hop: an entity of the first hop", entity),
                    traced_query=masked)
        yield step_event(research)


def step_event(research: Research) -> Event:
    return {"type": "step", **research.done[-1]}


def pooled(pools: list[list[Passage]]) -> list[Passage]:
    """Every step's passages, round-robin by rank (each step's best first), without repeats."""
    out: list[Passage] = []
    seen: set[int] = set()
    for rank in range(max((len(p) for p in pools), default=0)):
        for pool in pools:
            if rank < len(pool) and pool[rank].chunk_id not in seen:
                seen.add(pool[rank].chunk_id)
                out.append(pool[rank])
    return out


def _timings(retrievals: list[Retrieval]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in retrievals:
        for k, v in r.timings_ms.items():
            out[k] = out.get(k, 0.0) + v
    return out
