"""``FakeGenerator``: an in-process :class:`~tether.generate.base.Generator` that replays outputs.

Why: grounding, routing and answer-pipeline tests need a model whose answer they choose, that
streams like a real one, reports usage, and fails on cue with a typed error, without an HTTP
server. (For the HTTP path use :class:`~tether.testing.fake_openai.FakeOpenAI`.)

    gen = FakeGenerator(["Acme earned $3.5M [1].", ProviderError("down", status=503), "Retry [1]."])
    gen.generate(req).text        # "Acme earned $3.5M [1]."
    gen.generate(req)             # raises the ProviderError
    "".join(gen.stream(req))      # "Retry [1]." (the last output repeats from now on)
    gen.requests                  # every GenerationRequest it was given, in order
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from tether.errors import ProviderError, TetherError
from tether.generate.base import Capabilities, GenerationRequest, GeneratorBase
from tether.types import Generation, Usage

_PIECE = re.compile(r"\S+\s*|\s+")

Output = str | TetherError


def word_count(text: str) -> int:
    """The fake's token count: whitespace-separated words."""
    return len(text.split())


class FakeGenerator(GeneratorBase):
    """Replays ``outputs`` one per call (``generate`` or a stream); the last one repeats.

    An output that is a :class:`~tether.errors.TetherError` is raised instead (from ``generate``,
    or from a stream before its first delta). Streams yield word-sized deltas (``chunk_chars``
    characters each when set) and, from ``stream_with_usage``, a final :class:`Usage`; tokens are
    :func:`word_count` of the prompt (question + passages) and of the output.
    ``break_after``: streams raise ``ProviderError`` after at most that many deltas, never
    finishing (a dropped connection); ``generate`` is unaffected.
    """

    def __init__(self, outputs: Sequence[Output] = ("",), *, name: str = "fake",
                 capabilities: Capabilities | None = None, endpoint: str = "",
                 chunk_chars: int | None = None, break_after: int | None = None,
                 report_usage: bool = True) -> None:
        if not outputs:
            raise ValueError("FakeGenerator needs at least one output")
        if chunk_chars is not None and chunk_chars < 1:
            raise ValueError(f"chunk_chars must be positive, got {chunk_chars}")
        self.outputs = list(outputs)
        self.name = name
        self.capabilities = capabilities or Capabilities(streaming=True, json_schema=True)
        self.endpoint = endpoint
        self.chunk_chars = chunk_chars
        self.break_after = break_after
        self.report_usage = report_usage
        self.requests: list[GenerationRequest] = []

    def _next(self, req: GenerationRequest) -> str:
        self.requests.append(req)
        out = self.outputs[min(len(self.requests) - 1, len(self.outputs) - 1)]
        if isinstance(out, TetherError):
            raise out
        return out

    def _usage(self, req: GenerationRequest, text: str) -> Usage:
        prompt = " ".join([req.question, *(p.text for p in req.passages)])
        return Usage(word_count(prompt), word_count(text), 1)

    def generate(self, req: GenerationRequest) -> Generation:
        text = self._next(req)
        usage = self._usage(req, text)
        return Generation(text=text, model=self.name, input_tokens=usage.input_tokens,
                          output_tokens=usage.output_tokens, finish_reason="stop")

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        for item in self.stream_with_usage(req):
            if isinstance(item, str):
                yield item

    def stream_with_usage(self, req: GenerationRequest) -> Iterator[str | Usage]:
        text = self._next(req)
        if self.chunk_chars:
            pieces = [text[i : i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]
        else:
            pieces = _PIECE.findall(text)
        if self.break_after is not None:
            yield from pieces[: self.break_after]
            raise ProviderError("the fake stream broke part-way", model=self.name,
                                deltas=min(self.break_after, len(pieces)))
        yield from pieces
        if self.report_usage:
            yield self._usage(req, text)
