"""``FakeGuard``: a :class:`~tether.guard.base.Guard` whose verdicts a test chooses.

Why: pipeline and answer-path tests need a guard that blocks, sanitises or flags exactly the
text they say, without loading a classifier or Presidio. Two modes:

    FakeGuard(stage="output", block=["forbidden"], sanitise=["secret"], flag=["maybe"])
        # acts on those words (whole words, any case); sanitising replaces each with [REDACTED]
    FakeGuard("a", stage="context", result=GuardResult(Verdict.FLAG, 0.4, ["x"]))
        # always returns that result

``seen`` records every text it was asked about, in order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tether.guard.base import Entity, GuardBase, GuardResult, Stage, Verdict

REDACTED = "[REDACTED]"


class FakeGuard(GuardBase):
    """Blocks on ``block`` words, else redacts ``sanitise`` words, else flags on ``flag`` words."""

    def __init__(self, name: str = "fake", stage: Stage = "input", *, block: Sequence[str] = (),
                 sanitise: Sequence[str] = (), flag: Sequence[str] = (),
                 result: GuardResult | None = None) -> None:
        self.name = name
        self.stage: Stage = stage
        self.result = result
        self.seen: list[str] = []
        self._rules = [(Verdict.BLOCK, _pattern(block)), (Verdict.SANITISE, _pattern(sanitise)),
                       (Verdict.FLAG, _pattern(flag))]

    def check(self, text: str, entities: list[Entity] | None = None) -> GuardResult:
        """The verdict on ``text``; ``entities`` (findings of :meth:`detect` for this text, e.g.
        re-based to a slice of a checked text) are used instead of searching again."""
        self.seen.append(text)
        if self.result is not None:
            return self.result
        found = self.detect(text) if entities is None else entities
        for verdict in (Verdict.BLOCK, Verdict.SANITISE, Verdict.FLAG):
            hits = [e for e in found if e.type == f"FAKE_{verdict.name}"]
            if not hits:
                continue
            reasons = [f"fake:{verdict.value}"]
            if verdict is Verdict.SANITISE:
                return GuardResult(verdict, 1.0, reasons, hits, _redact(text, hits))
            return GuardResult(verdict, 1.0, reasons, hits)
        return GuardResult(Verdict.ALLOW, 0.0)

    def detect(self, text: str) -> list[Entity]:
        """Every configured word in ``text``, typed ``FAKE_BLOCK``, ``FAKE_SANITISE`` or ``FAKE_FLAG``."""
        return [Entity(f"FAKE_{verdict.name}", m.start(), m.end(), 1.0, f"fake:{self.name}", "*" * len(m.group()))
                for verdict, rx in self._rules if rx is not None for m in rx.finditer(text)]


def _redact(text: str, hits: list[Entity]) -> str:
    out, pos = [], 0
    for e in sorted(hits, key=lambda e: e.start):
        if e.start >= pos:
            out += [text[pos : e.start], REDACTED]
            pos = e.end
    return "".join(out) + text[pos:]


def _pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)
