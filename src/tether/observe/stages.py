"""The stage (span) names a request trace uses: a bounded set, so metrics keep few series."""

from __future__ import annotations

STAGES: tuple[str, ...] = (
    "input_guard", "retrieve", "retrieve.embed_query", "retrieve.keyword", "retrieve.dense", "retrieve.fusion",
    "retrieve.hydrate", "rerank", "neighbours", "pack", "context_guard", "answerable", "route", "budget", "cache",
    "cache.store", "model.call", "ground", "output_guard",
)
GUARD_STAGES: tuple[str, ...] = ("input_guard", "context_guard", "output_guard")
MODEL_CALL = "model.call"
#: Request outcomes (``Trace.status``); anything else is counted as "other".
STATUSES: tuple[str, ...] = ("answered", "abstained", "escalated", "blocked", "refused", "error", "open")


def stage_label(name: str) -> str:
    return name if name in STAGES else "other"


def status_label(status: str) -> str:
    return status if status in STATUSES else "other"
