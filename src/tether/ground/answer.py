"""The grounded answer path: generate, ground, drop, regenerate once, or abstain.

    answer(question, passages, generator, embedder, cfg) -> Answer

1. No passages, or the top passage's retrieval score below ``cfg.min_retrieval_score``:
   abstain without calling the model.
2. Generate; ground every sentence (:mod:`tether.ground.verdict`; with the verifier, a sentence
   a model wrote that contradicts its cited source is ``contradicted``).
3. If any sentence is unsupported or uncited, regenerate ONCE with feedback naming the
   rejected sentences and why (skipped for extractive generators: nothing would change).
4. Keep the supported sentences of the better attempt. Abstain (escalating to a human) when
   fewer than ``min_supported_sentences`` or ``min_supported_fraction`` survive; escalate a
   shown answer when sentences were dropped or a kept one is borderline.

A JSON schema routes to :mod:`tether.ground.structured`; streaming is :mod:`tether.ground.stream`.
"""

from __future__ import annotations

from dataclasses import replace

from tether.embed.base import Embedder
from tether.generate.base import GenerationRequest, Generator
from tether.ground.citations import parse_answer
from tether.ground.policy import (
    abstention,
    borderline,
    claims_of,
    cut,
    describe,
    distinct_citations,
    retrieval_too_weak,
    too_little,
)
from tether.ground.structured import answer_structured
from tether.ground.verdict import Grounder
from tether.ground.verifier import Verifier
from tether.settings import GroundConfig
from tether.types import Answer, Generation, Passage, SentenceVerdict, Usage


def answer(
    question: str,
    passages: list[Passage],
    generator: Generator,
    embedder: Embedder,
    cfg: GroundConfig | None = None,
    *,
    json_schema: dict[str, object] | None = None,
    max_tokens: int = 512,
    verifier: Verifier | None = None,
) -> Answer:
    """A grounded answer (or an abstention) to ``question`` from ``passages`` ([1] = first).
    ``verifier`` adds its entailment check for generators that write their own text."""
    cfg = cfg or GroundConfig()
    if json_schema is not None:
        return answer_structured(question, passages, generator, embedder, json_schema, cfg, max_tokens=max_tokens,
                                 verifier=verifier)
    weak = retrieval_too_weak(passages, cfg)
    if weak:
        return abstention(cfg, weak)
    grounder = Grounder(passages, embedder, cfg, None if generator.capabilities.extractive else verifier)
    req = GenerationRequest(question=question, passages=passages, max_tokens=max_tokens)
    gen = generator.generate(req)
    usage = gen.usage
    attempt = _Attempt.of(gen, grounder)
    attempts = 1
    if attempt.rejected and cfg.regenerate and not generator.capabilities.extractive:
        retry = _Attempt.of(generator.generate(replace(req, feedback=describe(attempt.rejected))), grounder)
        usage = usage + retry.gen.usage
        attempts = 2
        if len(retry.kept) >= len(attempt.kept) or attempt.model_abstained:
            attempt = retry
    model = attempt.gen.model
    if not attempt.verdicts:
        reason = "model_abstained" if attempt.model_abstained else "empty_answer"
        return abstention(cfg, reason, model=model, usage=usage, attempts=attempts)
    if too_little(attempt.verdicts, cfg):
        return abstention(
            cfg, "unsupported_answer", escalate=True, model=model, usage=usage,
            sentences=attempt.verdicts, attempts=attempts,
        )
    dropped = [(v.start, v.end) for v in attempt.rejected] + attempt.abstain_ranges
    reasons = [f"dropped:{v.index}" for v in attempt.rejected]
    return Answer(
        text=cut(attempt.gen.text, dropped),
        citations=distinct_citations(attempt.verdicts),
        sentences=attempt.verdicts,
        abstained=False,
        escalate=bool(attempt.rejected) or borderline(attempt.verdicts, cfg),
        model=model,
        usage=usage,
        reasons=reasons,
        attempts=attempts,
    )


class _Attempt:
    """One generation and its verdicts."""

    def __init__(self, gen: Generation, verdicts: list[SentenceVerdict], model_abstained: bool,
                 abstain_ranges: list[tuple[int, int]]) -> None:
        self.gen = gen
        self.verdicts = verdicts
        self.model_abstained = model_abstained
        self.abstain_ranges = abstain_ranges

    @classmethod
    def of(cls, gen: Generation, grounder: Grounder) -> _Attempt:
        parsed = parse_answer(gen.text)
        claims, abstained = claims_of(parsed)
        claim_ids = {id(c) for c in claims}
        ranges = [(p.start, p.end) for p in parsed if id(p) not in claim_ids]
        return cls(gen, grounder.ground_sentences(claims), abstained, ranges)

    @property
    def kept(self) -> list[SentenceVerdict]:
        return [v for v in self.verdicts if v.supported]

    @property
    def rejected(self) -> list[SentenceVerdict]:
        return [v for v in self.verdicts if not v.supported]


__all__ = ["answer", "retrieval_too_weak", "Usage"]
