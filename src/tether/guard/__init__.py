"""Guards: prompt-injection checks on questions and documents, PII and secret policy on answers."""

from tether.guard.base import (
    STAGES,
    Entity,
    Guard,
    GuardResult,
    GuardSettings,
    PiiPolicy,
    Stage,
    Verdict,
)
from tether.guard.injection import InjectionGuard, neutralise, prepare_jailguard
from tether.guard.pii import PiiDetector, PiiGuard, redact, redact_for_trace
from tether.guard.pipeline import GuardPipeline, build_pipeline

__all__ = [
    "Entity",
    "Guard",
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
