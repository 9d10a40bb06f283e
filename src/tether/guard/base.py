"""The guard contract: what every guard returns (its settings: ``tether.settings.guard``).

A guard looks at one piece of text at one stage of a request (the user's question, a retrieved
or ingested chunk, or the answer about to leave) and returns a :class:`GuardResult`. Guards never
raise for "bad" text; they report a verdict and let :mod:`tether.guard.pipeline` decide. A new
guard subclasses :class:`GuardBase`; ``tether.testing.FakeGuard`` is the shipped fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, Protocol, runtime_checkable

Stage = Literal["input", "context", "output", "tool"]
STAGES: tuple[Stage, ...] = ("input", "context", "output", "tool")


class Verdict(str, Enum):  # noqa: UP042 - StrEnum would change str(Verdict.ALLOW) from 'Verdict.ALLOW' to 'allow'
    """What to do with the text. Ordered by severity (see :func:`most_severe`)."""

    ALLOW = "allow"
    FLAG = "flag"  # let it through, but record why
    SANITISE = "sanitise"  # let through ``sanitised_text`` instead of the original
    BLOCK = "block"  # do not let it through at all


_SEVERITY = {Verdict.ALLOW: 0, Verdict.FLAG: 1, Verdict.SANITISE: 2, Verdict.BLOCK: 3}


def most_severe(verdicts: list[Verdict]) -> Verdict:
    """The strictest of several verdicts (``allow`` when there are none)."""
    return max(verdicts, key=_SEVERITY.__getitem__, default=Verdict.ALLOW)


@dataclass(frozen=True)
class Entity:
    """A detected span ``text[start:end]``; ``preview`` is a masked hint that is safe to log."""

    type: str
    start: int
    end: int
    score: float
    detector: str = ""
    preview: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "detector": self.detector,
            "preview": self.preview,
        }


@dataclass
class GuardResult:
    """One guard's (or one stage's combined) decision about one text."""

    verdict: Verdict
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    sanitised_text: str | None = None

    @property
    def allowed(self) -> bool:
        """True when the text (or its sanitised form) may go on."""
        return self.verdict is not Verdict.BLOCK

    def to_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "score": round(self.score, 4),
            "reasons": list(self.reasons),
            "entities": [e.to_dict() for e in self.entities],
            "sanitised_text": self.sanitised_text,
        }


@runtime_checkable
class Guard(Protocol):
    """Checks text at one stage. Construction is cheap; models load on first use or ``warm_up``.

    Contract (``tests/contracts/test_guard_contract.py`` checks the injection, PII and secrets
    guards and ``tether.testing.FakeGuard``):

    - ``check`` never raises for "bad" text (hostile, huge, empty, binary-looking): it returns a
      :class:`GuardResult` whose ``verdict`` is a :class:`Verdict`; ``""`` is allowed.
    - Any verdict other than ``ALLOW`` carries at least one reason (short codes such as
      ``injection`` or ``pii:EMAIL_ADDRESS``, never the flagged text) and a score in (0, 1].
    - ``sanitised_text`` is set exactly when the verdict is ``SANITISE``, differs from the input
      and never contains what was flagged: no reported entity's text survives redaction, and
      neutralised text keeps no live prompt delimiter (``</source>``) or chat-template token.
    - Entities are spans of the checked text (``0 <= start < end <= len(text)``).
    - The same text always gets the same result.
    - Errors are only for a broken setup (a model that cannot load): ``ConfigError``.
    """

    #: Prefixes this guard's reasons in a stage's combined result (``injection``, ``pii``).
    name: str
    #: The stage it checks: ``input`` (questions), ``context`` (chunks), ``output`` (answers),
    #: ``tool`` (results of tools the research mode calls).
    stage: Stage

    def check(self, text: str, entities: list[Entity] | None = None) -> GuardResult:
        """The verdict on ``text``, with reasons, a score, entities and any sanitised form.

        ``entities``: this guard's findings for exactly ``text`` when already known (a sentence
        or quote copied out of a text it checked): a guard that reports entities decides from
        them instead of analysing again; any other guard ignores them."""
        ...

    def check_many(self, texts: Sequence[str]) -> list[GuardResult]:
        """``[check(t) for t in texts]``, in order (faster where the guard's model batches)."""
        ...


class GuardBase:
    """Defaults for :class:`Guard`: subclass it, set ``name`` and ``stage`` and write ``check``;
    ``check_many`` checks one text at a time unless the guard batches better."""

    name: str = "guard"
    stage: Stage = "input"

    def check(self, text: str, entities: list[Entity] | None = None) -> GuardResult:
        raise NotImplementedError(f"{type(self).__name__} must implement check()")

    def check_many(self, texts: Sequence[str]) -> list[GuardResult]:
        return [self.check(t) for t in texts]
