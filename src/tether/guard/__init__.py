"""Guards: prompt-injection checks on questions and documents, PII and secret policy on answers."""

from tether.guard.base import (
    STAGES,
    Entity,
    Guard,
    GuardBase,
    GuardResult,
    Stage,
    Verdict,
)
from tether.guard.injection import InjectionGuard, neutralise, prepare_jailguard
from tether.guard.pii import PiiDetector, PiiGuard, redact, redact_for_trace
from tether.guard.pipeline import GuardPipeline, build_pipeline
from tether.settings import GuardSettings, PiiPolicy  # the [guard] section, re-exported for guard users

__all__ = [
    "Entity",
    "Guard",
    "GuardBase",
    "GuardPipeline",
    "GuardResult",
    "GuardSettings",
    "InjectionGuard",
    "PiiDetector",
    "PiiGuard",
    "PiiPolicy",
    "STAGES",
    "Stage",
    "Verdict",
    "build_pipeline",
    "neutralise",
    "prepare_jailguard",
    "redact",
    "redact_for_trace",
]
