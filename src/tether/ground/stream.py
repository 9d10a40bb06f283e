"""Streaming grounded answers: tokens flow out at once; each sentence is checked as soon as it
is finished, and a failing one is retracted while the stream goes on.

Events (plain JSON-serialisable dicts, ready for SSE):

    {"type": "token", "text": "..."}
    {"type": "sentence", "index": i, "text": "...", "verdict": "supported", "score": 0.9, "citations": [...],
     "reasons": []}
    {"type": "retract", "index": i, "reason": "..."}        # after a non-supported sentence
    {"type": "done", "answer": Answer.to_dict()}          # final; abstained=True when too little survived

There is no regeneration here (the tokens were already shown); retraction replaces it.
:class:`AnswerStream` is the same without the ``done`` event: its ``answer`` attribute holds the
result, for the answer pipeline (:mod:`tether.answer`), which guards it like any other answer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from tether.embed.base import Embedder
from tether.generate.base import GenerationRequest, Generator
from tether.ground.citations import ParsedSentence, parse_answer
from tether.ground.policy import (
    abstention,
    borderline,
    cut,
    distinct_citations,
    explain,
    is_abstention,
    retrieval_too_weak,
    too_little,
)
from tether.ground.verdict import Grounder
from tether.ground.verifier import Verifier
from tether.settings import GroundConfig
from tether.types import Answer, Passage, SentenceVerdict, Usage

Event = dict[str, Any]


class AnswerStream:
    """A grounded answer as it is generated: iterate for token, sentence and retract events;
    once exhausted, :attr:`answer` holds the final :class:`~tether.types.Answer` (an abstention
    when too little survived). The answer pipeline delivers these events and then runs the same
    steps on :attr:`answer` as on a non-streamed one."""

    def __init__(self, question: str, passages: list[Passage], generator: Generator, embedder: Embedder,
                 cfg: GroundConfig | None = None, *, max_tokens: int = 512, verifier: Verifier | None = None) -> None:
        self.question, self.passages, self.generator, self.embedder = question, passages, generator, embedder
        self.verifier = None if generator.capabilities.extractive else verifier
        self.cfg = cfg or GroundConfig()
        self.max_tokens = max_tokens
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[Event]:
        cfg, generator = self.cfg, self.generator
        weak = retrieval_too_weak(self.passages, cfg)
        if weak:
            self.answer = abstention(cfg, weak)
            return
        grounder = Grounder(self.passages, self.embedder, cfg, self.verifier)
        req = GenerationRequest(question=self.question, passages=self.passages, max_tokens=self.max_tokens)
        buf = ""
        done = 0  # parsed sentences already judged
        verdicts: list[SentenceVerdict] = []
        skipped: list[tuple[int, int]] = []
        said_abstain = False
        t0 = time.perf_counter()
        for delta in generator.stream(req):
            buf += delta
            yield {"type": "token", "text": delta}
            parsed = parse_answer(buf)
            finished = _finished(parsed)
            for p in parsed[done:finished]:
                yield from _judge(p, grounder, verdicts, skipped)
                said_abstain |= is_abstention(p.claim)
            done = max(done, finished)
        for p in parse_answer(buf)[done:]:
            yield from _judge(p, grounder, verdicts, skipped)
            said_abstain |= is_abstention(p.claim)
        usage = Usage(0, 0, 1)
        if not verdicts:
            reason = "model_abstained" if said_abstain else "empty_answer"
            self.answer = abstention(cfg, reason, model=generator.name, usage=usage, attempts=1)
        elif too_little(verdicts, cfg):
            self.answer = abstention(cfg, "unsupported_answer", escalate=True, model=generator.name, usage=usage,
                                     sentences=verdicts, attempts=1)
        else:
            rejected = [v for v in verdicts if not v.supported]
            self.answer = Answer(
                text=cut(buf, [(v.start, v.end) for v in rejected] + skipped),
                citations=distinct_citations(verdicts),
                sentences=verdicts,
                escalate=bool(rejected) or borderline(verdicts, cfg),
                model=generator.name,
                usage=usage,
                reasons=[f"dropped:{v.index}" for v in rejected] + [f"latency_s:{time.perf_counter() - t0:.3f}"],
            )


def stream_answer(
    question: str,
    passages: list[Passage],
    generator: Generator,
    embedder: Embedder,
    cfg: GroundConfig | None = None,
    *,
    max_tokens: int = 512,
) -> Iterator[Event]:
    """Yield token, sentence, retract and finally done events for a grounded answer."""
    stream = AnswerStream(question, passages, generator, embedder, cfg, max_tokens=max_tokens)
    yield from stream
    assert stream.answer is not None
    yield {"type": "done", "answer": stream.answer.to_dict()}


def _finished(parsed: list[ParsedSentence]) -> int:
    """How many leading sentences are certainly complete: those followed by a sentence that
    has real words (a lone "[1" may still be a citation of the one before)."""
    for i in range(len(parsed) - 1, 0, -1):
        if re.search(r"[A-Za-z]", parsed[i].claim):
            return i
    return 0


def _judge(p: ParsedSentence, grounder: Grounder, verdicts: list[SentenceVerdict],
           skipped: list[tuple[int, int]]) -> Iterator[Event]:
    if is_abstention(p.claim):
        skipped.append((p.start, p.end))
        return
    v = grounder.ground_one(p)
    verdicts.append(v)
    yield {
        "type": "sentence",
        "index": v.index,
        "text": v.text,
        "verdict": v.verdict,
        "score": v.score,
        "citations": [asdict(c) for c in v.citations],
        "reasons": list(v.reasons),
    }
    if not v.supported:
        yield {"type": "retract", "index": v.index, "reason": explain(v)}
