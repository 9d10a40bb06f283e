"""Streaming grounded answers: tokens flow out at once; each sentence is checked as soon as it
is finished, and a failing one is retracted while the stream goes on.

Events (plain JSON-serialisable dicts, ready for SSE):

    {"type": "token", "text": "..."}
    {"type": "sentence", "index": i, "verdict": "supported", "score": 0.9, "citations": [...], "reasons": []}
    {"type": "retract", "index": i, "reason": "..."}        # after a non-supported sentence
    {"type": "done", "answer": Answer.to_dict()}          # final; abstained=True when too little survived

There is no regeneration here (the tokens were already shown); retraction replaces it.
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
from tether.ground.config import GroundConfig
from tether.ground.policy import (
    abstention, borderline, cut, distinct_citations, explain, is_abstention, too_little,
)
from tether.ground.verdict import Grounder
from tether.types import Answer, SentenceVerdict, Usage, Passage

Event = dict[str, Any]


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
    from tether.ground.answer import retrieval_too_weak

    cfg = cfg or GroundConfig()
    weak = retrieval_too_weak(passages, cfg)
    if weak:
        yield {"type": "done", "answer": abstention(cfg, weak).to_dict()}
        return
    grounder = Grounder(passages, embedder, cfg)
    req = GenerationRequest(question=question, passages=passages, max_tokens=max_tokens)
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
        ans = abstention(cfg, reason, model=generator.name, usage=usage, attempts=1)
    elif too_little(verdicts, cfg):
        ans = abstention(cfg, "unsupported_answer", escalate=True, model=generator.name, usage=usage,
                         sentences=verdicts, attempts=1)
    else:
        rejected = [v for v in verdicts if not v.supported]
        ans = Answer(
            text=cut(buf, [(v.start, v.end) for v in rejected] + skipped),
            citations=distinct_citations(verdicts),
            sentences=verdicts,
            escalate=bool(rejected) or borderline(verdicts, cfg),
            model=generator.name,
            usage=usage,
            reasons=[f"dropped:{v.index}" for v in rejected] + [f"latency_s:{time.perf_counter() - t0:.3f}"],
        )
    yield {"type": "done", "answer": ans.to_dict()}


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
        "verdict": v.verdict,
        "score": v.score,
        "citations": [asdict(c) for c in v.citations],
        "reasons": list(v.reasons),
    }
    if not v.supported:
        yield {"type": "retract", "index": v.index, "reason": explain(v)}
