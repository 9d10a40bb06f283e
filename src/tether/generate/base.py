"""The ``Generator`` protocol: numbered sources in, text with ``[n]`` citations out.

Every provider (OpenAI-compatible HTTP, local llama.cpp, the extractive default) and every
wrapper (metering, the resilient fallback chain) implements these members, so routing,
grounding and tests never special-case one of them. :class:`GeneratorBase` gives the optional
parts a default: a provider writes ``generate`` (and ``stream`` when it can stream) and inherits
the rest. ``tests/contracts/test_generator_contract.py`` checks every implementation against
the contract written in the docstrings below; ``tether.testing.FakeGenerator`` is the shipped fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tether.types import Generation, Passage, Usage


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
    """Turns a :class:`GenerationRequest` into an answer.

    Contract (checked by the contract suite for every implementation):

    - ``generate`` returns a :class:`~tether.types.Generation` whose ``text`` may be empty (the
      generator found nothing to say: the caller abstains), with non-negative token counts
      (0 when the provider does not report them) and a non-empty ``model`` and ``finish_reason``.
    - ``stream`` yields non-empty text deltas in order; joined, they equal the text ``generate``
      returns for the same request (for a deterministic request: temperature 0).
    - ``stream_with_usage`` yields the same deltas and then, only when the provider reports it,
      exactly one final :class:`~tether.types.Usage` (``calls == 1``) that agrees with the usage
      ``generate`` reports. Without one, callers estimate tokens themselves.
    - A request without passages, or with an empty question, is not an error: the answer may
      be empty or an abstention, and ``stream`` still agrees with ``generate``.
    - Failures raise typed errors from :mod:`tether.errors`, never a transport or SDK
      exception: :class:`~tether.errors.ProviderError` (``details["status"]`` holds the HTTP
      status when there is one), :class:`~tether.errors.ProviderTimeout`,
      :class:`~tether.errors.ContextOverflow` (the prompt exceeds the model's window). A stream
      that breaks part-way raises ``ProviderError`` when iterated, never ends silently short.
    """

    #: Shown in traces and answers (``openai:gpt-4o-mini``, ``extractive:...``).
    name: str
    capabilities: Capabilities
    #: Where the provider is reached (its base URL), ``""`` for in-process generators. Circuit
    #: breakers are keyed on it, so models served by one server share one breaker.
    endpoint: str

    def generate(self, req: GenerationRequest) -> Generation:
        """The whole answer at once."""
        ...

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        """The answer as non-empty text deltas, in order; joined they equal ``generate``'s text."""
        ...

    def stream_with_usage(self, req: GenerationRequest) -> Iterator[str | Usage]:
        """``stream``'s deltas, then one final :class:`Usage` when the provider reports it."""
        ...


class GeneratorBase:
    """Defaults for the optional members of :class:`Generator`.

    A subclass writes ``generate`` and sets ``name`` and ``capabilities``. It inherits a ``stream``
    that yields ``generate``'s text as one delta, a ``stream_with_usage`` that reports no usage,
    and an empty ``endpoint``; a provider that can do better overrides them.
    """

    name: str = "generator"
    capabilities: Capabilities = Capabilities()
    endpoint: str = ""

    def generate(self, req: GenerationRequest) -> Generation:
        raise NotImplementedError(f"{type(self).__name__} must implement generate()")

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        text = self.generate(req).text
        if text:
            yield text

    def stream_with_usage(self, req: GenerationRequest) -> Iterator[str | Usage]:
        yield from self.stream(req)
