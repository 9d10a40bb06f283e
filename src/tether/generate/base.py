"""The ``Generator`` protocol: numbered sources in, text with ``[n]`` citations out.

Every provider (OpenAI-compatible HTTP, local llama.cpp, the extractive default) implements
these two methods, so routing, grounding and tests never special-case one of them. Providers
translate their own errors into :class:`tether.errors.ProviderError` / ``ProviderTimeout``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tether.types import Generation, Passage


@dataclass(frozen=True)
class Capabilities:
    streaming: bool = True
    json_schema: bool = False
    #: True when the output quotes the sources verbatim (nothing to gain from regenerating).
    extractive: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: the question and the sources, numbered [1]..[n] in list order."""

    question: str
    passages: list[Passage] = field(default_factory=list)
    json_schema: dict[str, object] | None = None
    #: Set on a regeneration: what was wrong with the previous attempt.
    feedback: str | None = None
    max_tokens: int = 512
    temperature: float = 0.0


@runtime_checkable
class Generator(Protocol):
    name: str
    capabilities: Capabilities

    def generate(self, req: GenerationRequest) -> Generation:
        """The whole answer at once."""
        ...

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        """The answer as text deltas, in order; joined they equal what ``generate`` returns."""
        ...
