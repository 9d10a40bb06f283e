"""Runs the guards of one stage and folds their results into one decision with reasons.

Why a separate module: the engine should ask one question per stage ("may this text go on,
and in what form?") without knowing which guards exist. Guards run in order; each sees the
text as sanitised by the guards before it, so a neutralised chunk is then PII-checked as
neutralised. The strictest verdict wins and every reason is kept, prefixed by the guard name.
"""

from __future__ import annotations

from collections.abc import Sequence

from tether.guard.base import Guard, GuardResult, GuardSettings, Stage, Verdict, most_severe
from tether.guard.injection import InjectionGuard
from tether.guard.pii import PiiGuard


class GuardPipeline:
    """The guards of one stage, applied in order."""

    def __init__(self, stage: Stage, guards: Sequence[Guard]) -> None:
        wrong = [g.name for g in guards if g.stage != stage]
        if wrong:
            raise ValueError(f"guards {wrong} are not for stage {stage!r}")
        self.stage = stage
        self.guards = list(guards)

    def check(self, text: str) -> GuardResult:
        """One combined result: strictest verdict, max score, all reasons and entities."""
        results: list[GuardResult] = []
        current = text
        for guard in self.guards:
            result = guard.check(current)
            results.append(result)
            if result.verdict is Verdict.BLOCK:
                break
            if result.sanitised_text is not None:
                current = result.sanitised_text
        verdict = most_severe([r.verdict for r in results])
        return GuardResult(
            verdict=verdict,
            score=max((r.score for r in results), default=0.0),
            reasons=[f"{g.name}:{reason}" for g, r in zip(self.guards, results) for reason in r.reasons],
            entities=[e for r in results for e in r.entities],
            sanitised_text=current if verdict is Verdict.SANITISE else None,
        )


def build_pipeline(stage: Stage, settings: GuardSettings, classification: str | None = None) -> GuardPipeline:
    """The default guards of a stage: injection for input and context, PII/secrets for output.

    ``classification`` (of the most restrictive document behind an answer) picks the PII policy.
    """
    if stage == "output":
        return GuardPipeline(stage, [PiiGuard(settings, classification)])
    return GuardPipeline(stage, [InjectionGuard(settings, stage)])
