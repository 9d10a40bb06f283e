"""What an answer run hands back: :class:`AskResult` (``Tether.ask``, the API's JSON, the
OpenAI-compatible endpoint, evaluation) and the events of a streamed answer.

Stream events (plain JSON-serialisable dicts, one Server-Sent Event each; ``type`` names it)::

    {"type": "rewrite", "question": ..., "standalone": ..., "rewritten": bool, ...}  # conversations only, first
    {"type": "plan", "planner": "embedded", "steps": [{"kind", "query", "reason"}, ...]}  # research mode
    {"type": "step", "index": i, "kind": ..., "query": ..., "documents": [...], "hits": n}  # research: each step done
    {"type": "warnings", "warnings": [...]}                  # soft budgets exceeded (before sources)
    {"type": "sources", "sources": [{"n": 1, "document_id": ..., "title": ...}, ...]}
    {"type": "token", "text": "..."}                         # only while the answer is generated live
    {"type": "sentence", "index": i, "text": ..., "verdict": ..., "score": ..., "citations": [...], "reasons": []}
    {"type": "retract", "index": i, "reason": "..."}         # a shown sentence that is not supported
    {"type": "replace", "reason": "output_guard", "text": ..., "sentences": [...], "citations": [...]}
    {"type": "done", "answer": Answer.to_dict(), "trace_id": "..."}   # last; the record is already stored
    {"type": "error", "error": {"code": ..., "message": ..., "details": {...}}}  # last instead of done (API edge)

``done`` is sent only once the run's record (trace, audit entry, usage events: one transaction,
:mod:`tether.answer.record`) is committed. When that write fails the pipeline raises
:class:`~tether.errors.AuditFailed` instead, and the API ends the stream with an ``error`` event
of code ``audit_failed``: the answer is not recorded and withdrawn, whatever tokens were shown.

``replace`` follows live tokens when the output guard changed anything (the answer text, a
sentence or a citation quote): it carries the answer as it may be shown, the same fields ``done``
then carries. Answers delivered whole (blocked, refused, weak retrieval, a cache hit, sources
whose policy redacts) have no ``token`` events; a cache hit replays its text and sentences.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tether.ground.policy import explain
from tether.retrieve.exposure import expose
from tether.retrieve.pack import Packed
from tether.retrieve.retriever import Retrieval
from tether.types import Answer, Passage, SentenceVerdict

Event = dict[str, Any]


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
    #: The answerability gate's ``{"score", "threshold", "decision"}`` (None: it did not run).
    answerability: dict | None = None
    #: A conversation turn's rewrite (``Rewrite.to_dict()``: question, standalone, ...); None outside one.
    rewrite: dict | None = None
    #: The answer cache key of this run (where its answer is, or would be, cached); not shown.
    cache_key: str | None = None
    #: Research mode's plan as it ran (``Research.to_dict()``: planner, steps, stopped_by); None otherwise.
    research: dict | None = None

    def to_dict(self) -> dict:
        return {**({"rewrite": self.rewrite} if self.rewrite is not None else {}),
            **({"research": self.research} if self.research is not None else {}),
            "answer": self.answer.to_dict(), "model": self.model, "confidence": round(self.confidence, 4),
            "blocked": self.blocked, "trace_id": self.trace_id, "cost_usd": round(self.cost_usd, 8),
            "warnings": list(self.warnings),
            "sources": sources(self.passages),
            "timings_ms": {k: round(v, 2) for k, v in self.retrieval.timings_ms.items()},
        }


def sources(passages: list) -> list[dict]:
    """The numbered sources a model saw, as the API and stream events show them."""
    return [
        {"n": i + 1, "document_id": p.document_id, "chunk_id": p.chunk_id, "title": p.title,
         "char_start": p.char_start, "char_end": p.char_end, "section": list(p.section_path),
         "authoritative": p.authoritative}
        for i, p in enumerate(passages)
    ]


def verdict_attrs(v: SentenceVerdict) -> dict:
    """A sentence's verdict as the ``ground`` span records it (no text)."""
    return {"index": v.index, "verdict": v.verdict, "score": round(v.score, 4), "cited": list(v.cited_numbers),
            "invalid": list(v.invalid_numbers), "reasons": list(v.reasons)}


def hits(passages: list[Passage], n: int = 10) -> list[dict]:
    """The ids and scores of the top passages, for the trace (no text: traces stay small)."""
    return [{"chunk_id": p.chunk_id, "document_id": p.document_id, "score": round(p.score, 4),
             **{k: round(v, 4) for k, v in p.scores.items()}} for p in passages[:n]]


def exposed_hits(passages: list[Passage], n: int = 10) -> dict[str, list[dict]]:
    """The trace attributes for the top passages: ``hits`` with rank-normalised scores (what the
    asker sees of their own trace; raw BM25 scores depend on documents they cannot read, see
    retrieve/exposure.py) and ``admin.hits`` with the raw scores (administrators only)."""
    head = passages[:n]
    return {"hits": hits(expose(head, admin=False)), "admin.hits": hits(head)}


# --- stream events ---------------------------------------------------------------------------
def sources_event(passages: list) -> Event:
    return {"type": "sources", "sources": sources(passages)}


def rewrite_event(rewrite: dict) -> Event:
    return {"type": "rewrite", **rewrite}


def warnings_event(warnings: list[str]) -> Event:
    return {"type": "warnings", "warnings": list(warnings)}


def replace_event(answer: Answer) -> Event:
    d = answer.to_dict()
    return {"type": "replace", "reason": "output_guard", "text": d["text"], "sentences": d["sentences"],
            "citations": d["citations"]}


def done_event(answer: Answer, trace_id: str | None) -> Event:
    return {"type": "done", "answer": answer.to_dict(), "trace_id": trace_id}


def replay_events(answer: Answer) -> list[Event]:
    """A whole answer as the events a live one would have ended with: its text as one token and
    each sentence's verdict (a cache hit streams like an answer, without a model call)."""
    if answer.abstained or not answer.text:
        return []
    out: list[Event] = [{"type": "token", "text": answer.text}]
    for v in answer.sentences:
        out.append(sentence_event(v))
        if not v.supported:
            out.append({"type": "retract", "index": v.index, "reason": explain(v)})
    return out


def sentence_event(v: SentenceVerdict) -> Event:
    return {"type": "sentence", "index": v.index, "text": v.text, "verdict": v.verdict, "score": v.score,
            "citations": [dataclasses.asdict(c) for c in v.citations], "reasons": list(v.reasons)}
