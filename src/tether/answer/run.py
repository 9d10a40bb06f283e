"""One answer run: the state of a request and the order of its steps, the same for every
entry point (``Tether.ask``, ``Tether.ask_stream``, the OpenAI-compatible endpoint, evaluation).

    (rewrite) -> input guard -> cache -> retrieve -> route -> pack (+ context guard) -> answerable -> budget
      -> generate + ground (live or whole) -> output guard -> respond (trace, cache, review)

:meth:`AnswerPipeline.events` runs the steps and yields stream events as it goes;
:meth:`AnswerPipeline.ask` runs it and returns the :class:`~tether.answer.respond.AskResult`,
:meth:`AnswerPipeline.stream` passes the events on. Streaming is only a delivery mode: the only
step that differs is generation (:mod:`tether.answer.stream`), and only when the sources' policy
allows showing tokens before the whole answer is guarded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from tether.answer import research as researching
from tether.answer import research_llm, steps
from tether.answer import rewrite as rewriting
from tether.answer import stream as live
from tether.answer.record import finish_trace
from tether.answer.respond import (
    AskResult,
    Event,
    done_event,
    replace_event,
    replay_events,
    rewrite_event,
    sources_event,
    warnings_event,
)
from tether.cache.answers import AnswerCache, Lookup
from tether.embed.base import Embedder
from tether.errors import AuditFailed
from tether.generate.base import Generator
from tether.ground.answerable import Answerability
from tether.ground.focus import AnswerScorer
from tether.guard.base import GuardResult
from tether.guard.stages import AnswerGuards
from tether.observe.trace import Trace
from tether.retrieve.filters import SearchFilter
from tether.retrieve.pack import Packed
from tether.retrieve.rerank import Reranker
from tether.retrieve.retriever import Retrieval
from tether.route.router import Route
from tether.settings import Settings
from tether.store.db import Database
from tether.types import Answer, Passage, Principal


@dataclass
class Services:
    """What the steps use, given explicitly (the engine builds it once)."""

    settings: Settings
    db: Database
    embedder: Callable[[], Embedder]
    reranker: Callable[[], Reranker | None]
    #: The routed model for one request: traced, metered, retried and fallen back.
    model: Callable[[str, Trace], Generator]
    cache: AnswerCache
    #: ``(principal, question, *, source, trace_id, answer, passages=None)``: opens a review item
    #: when ``review`` says so; never raises.
    hand_off: Callable[..., Any]
    listeners: list[Callable[[Trace], None]] = field(default_factory=list)
    #: The verifier's scorer (loaded once per engine; None without a model): the answerability gate.
    scorer: Callable[[], AnswerScorer | None] = field(default=lambda: None)
    #: ``(requested model) -> chat completer`` for the LLM follow-up rewriter (None: the rules).
    completer: Callable[[str | None], rewriting.Complete | None] = field(default=lambda name: None)
    #: ``(model name) -> tool-calling chat`` for research mode's LLM planner (None: no tools).
    tool_chat: Callable[[str], research_llm.ToolChat | None] = field(default=lambda name: None)
    #: The tools of the enabled external MCP servers, and how to call one (research mode).
    mcp_tools: Callable[[], list] = field(default=lambda: [])
    call_tool: Callable[..., tuple[str, bool]] = field(default=lambda cfg, tool, args: ("", True))

    @property
    def guards(self) -> AnswerGuards:
        return AnswerGuards(self.settings.guard)

    def record(self, trace: Trace, status: str, question: str, model: str, details: dict, action: str) -> None:
        finish_trace(self.db, self.settings.guard, self.listeners, trace, status, question, model, details, action)


@dataclass
class Run:
    """The state of one request as its steps fill it in."""

    principal: Principal
    question: str
    model: str | None  # the requested model (None: routed / default)
    json_schema: dict | None
    flt: SearchFilter | None
    trace: Trace
    recorder: Callable[[Trace, str, str, str, dict, str], None]
    stream: bool = False  # delivered as events
    live: bool = False  # tokens shown as they are generated
    streamed: bool = False  # some token was shown
    extra: dict = field(default_factory=dict)  # added to the audit details ({"stream": True})
    name: str = ""  # the model that answers
    lookup: Lookup = field(default_factory=Lookup)
    retrieval: Retrieval = field(default_factory=lambda: Retrieval([]))
    passages: list[Passage] = field(default_factory=list)
    confidence: float = 0.0
    route: Route | None = None
    packed: Packed | None = None
    weak: bool = False  # abstain without generating (``abstain_reason`` says why)
    abstain_reason: str = ""
    answerability: Answerability | None = None
    reservation: Any = None
    warnings: list[str] = field(default_factory=list)
    answer: Answer | None = None
    label: str | None = None
    out_verdict: GuardResult | None = None
    blocked: bool = False
    status: str = ""
    finished: bool = False
    #: A conversation's earlier turns (redacted): the ``rewrite`` step makes the question standalone.
    history: rewriting.History | None = None
    rewrite: rewriting.Rewrite | None = None
    #: "plain" or "research" (multi-step retrieval, answer/research.py).
    mode: str = "plain"
    research: researching.Research | None = None
    #: What the answer is generated and checked for when it differs from the question (research
    #: mode: the question with its second hops' sub-questions); "" = the question.
    focus: str = ""

    def finish(self, status: str, details: dict, action: str = "ask", model: str | None = None) -> None:
        """Store the trace and its audit record (once)."""
        if self.finished:
            return
        self.finished, self.status = True, status
        self.recorder(self.trace, status, self.question, self.name if model is None else model,
                      {**self.extra, **details}, action)

    def result(self) -> AskResult:
        out = self._result()
        out.rewrite = self.rewrite.to_dict() if self.rewrite is not None else None
        out.research = self.research.to_dict() if self.research is not None else None
        out.cache_key = self.lookup.scope.key_hash if self.lookup.scope is not None else None
        return out

    def _result(self) -> AskResult:
        assert self.answer is not None
        if self.blocked:
            return AskResult(self.answer, [], Retrieval([]), None, self.name, 0.0, blocked=True)
        if self.lookup.hit:
            return AskResult(self.answer, self.passages, Retrieval(self.passages), Packed(self.passages, 0),
                             self.name, self.confidence)
        if self.status == "refused":
            return AskResult(self.answer, [], self.retrieval, self.packed, self.name, self.confidence)
        assert self.packed is not None
        return AskResult(self.answer, self.packed.passages, self.retrieval, self.packed, self.name, self.confidence,
                         warnings=list(self.warnings),
                         answerability=self.answerability.summary() if self.answerability else None)


def _record_failure(run: Run, details: dict, model: str | None = None) -> None:
    """Record a run that ended without delivering an answer. If that record cannot be stored
    either (logged by :func:`finish_trace`), the run's own error is what the caller sees: no
    answer left, so nothing escapes unrecorded. A no-op once the run is recorded."""
    with suppress(AuditFailed):
        run.finish("error", details, model=model)


class AnswerPipeline:
    """The one answer path; ``Tether`` delegates ``ask`` and ``ask_stream`` here."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def new_run(self, principal: Principal, question: str, trace: Trace, *, model: str | None = None,
                json_schema: dict | None = None, flt: SearchFilter | None = None, stream: bool = False,
                history: rewriting.History | None = None, mode: str = "plain") -> Run:
        extra = {**({"stream": True} if stream else {}), **({"mode": mode} if mode != "plain" else {})}
        return Run(principal, question, model, json_schema, flt, trace, self.services.record, stream=stream,
                   extra=extra, history=history, mode=mode)

    def ask(self, principal: Principal, question: str, trace: Trace, *, model: str | None = None,
            json_schema: dict | None = None, flt: SearchFilter | None = None,
            history: rewriting.History | None = None, mode: str = "plain") -> AskResult:
        """The answer as one result (every event of the run is dropped)."""
        return self.ask_run(self.new_run(principal, question, trace, model=model, json_schema=json_schema, flt=flt,
                                         history=history, mode=mode))

    def ask_run(self, run: Run) -> AskResult:
        """Run ``run`` (from :meth:`new_run`) to its result."""
        trace, model = run.trace, run.model
        try:
            for _event in self.events(run):
                pass
        except Exception as exc:
            trace.set(error=getattr(exc, "code", type(exc).__name__))
            _record_failure(run, {"error": trace.attrs["error"]}, model=model or "")
            raise
        result = run.result()
        result.trace_id = trace.id or None
        result.cost_usd = trace.cost_usd
        return result

    def stream(self, principal: Principal, question: str, trace: Trace, *, model: str | None = None,
               flt: SearchFilter | None = None, history: rewriting.History | None = None,
               mode: str = "plain") -> Iterator[Event]:
        """The answer as events (see :mod:`tether.answer.respond`); the trace is stored before the
        last event is sent, and also when the run fails or the client goes away."""
        return self.stream_run(self.new_run(principal, question, trace, model=model, flt=flt, stream=True,
                                            history=history, mode=mode))

    def stream_run(self, run: Run) -> Iterator[Event]:
        """Run ``run`` (from :meth:`new_run` with ``stream=True``) as events."""
        try:
            yield from self.events(run)
        except Exception as exc:
            run.trace.set(error=getattr(exc, "code", type(exc).__name__))
            _record_failure(run, {})
            raise
        finally:  # the client went away (GeneratorExit): record what was done so far
            _record_failure(run, {})

    def events(self, run: Run) -> Iterator[Event]:
        """Run the steps in order, yielding the events a stream delivers."""
        svc = self.services
        rewriting.rewrite(svc, run)
        if run.rewrite is not None:
            yield rewrite_event(run.rewrite.to_dict())
        if not steps.input_guard(svc, run):
            yield done_event(self._answer(run), run.trace.id or None)
            return
        if run.mode != "research" and steps.cache(svc, run):  # a research answer is not cached
            yield sources_event(run.passages)
            yield from replay_events(self._answer(run))
            yield done_event(self._answer(run), run.trace.id or None)
            return
        if run.mode == "research":
            yield from researching.run_research(svc, run, research_llm.planner(svc, run))
        else:
            steps.retrieve(svc, run)
        steps.route(svc, run)
        steps.pack(svc, run)
        steps.answerable(svc, run)
        run.live = live.streams_live(svc, run)
        try:
            if not steps.budget(svc, run):
                yield done_event(self._answer(run), run.trace.id or None)
                return
            if run.warnings:
                yield warnings_event(run.warnings)
            if not run.weak:
                yield sources_event(run.packed.passages if run.packed else [])
            if run.live and not run.weak:
                yield from live.ground_live(svc, run)
            else:
                steps.ground(svc, run)
        finally:  # also when generation raised: the reservation becomes the actual cost
            steps.settle(svc, run)
        if steps.output_guard(svc, run) and run.streamed:
            yield replace_event(self._answer(run))
        steps.respond(svc, run)
        yield done_event(self._answer(run), run.trace.id or None)

    @staticmethod
    def _answer(run: Run) -> Answer:
        assert run.answer is not None
        return run.answer
