"""A generator wrapper that traces every model call: a span with the OpenTelemetry GenAI
attributes, and a :class:`~tether.observe.trace.Call` with tokens, cost and latency.

Streaming providers report usage at the end of the stream when they can (``stream_with_usage``
yields a final :class:`~tether.types.Usage`); otherwise tokens are estimated with
``count_tokens`` and the span says so (``tether.usage_estimated``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from tether.generate.base import GenerationRequest, Generator, GeneratorBase
from tether.observe.trace import Call, Trace, cost_usd
from tether.settings import ModelConfig
from tether.types import Generation, Usage

PROVIDER = {"openai": "openai", "llama": "llama.cpp", "extractive": "tether.extractive"}


class Metered(GeneratorBase):
    """Same protocol as the wrapped generator; one span + one Call per ``generate``/``stream``."""

    def __init__(self, gen: Generator, name: str, cfg: ModelConfig, trace: Trace,
                 count_tokens: Callable[[str], int] | None = None) -> None:
        self.inner = gen
        self.name = gen.name
        self.model_name = name  # the registry name (router/fallback decisions use it)
        self.capabilities = gen.capabilities
        self.endpoint = gen.endpoint
        self.cfg = cfg
        self.trace = trace
        self.count_tokens = count_tokens

    def _attrs(self, req: GenerationRequest, operation: str) -> dict:
        return {
            "gen_ai.operation.name": operation, "gen_ai.system": PROVIDER.get(self.cfg.kind, self.cfg.kind),
            "gen_ai.request.model": self.cfg.model or self.model_name, "gen_ai.request.max_tokens": req.max_tokens,
            "gen_ai.request.temperature": req.temperature, "tether.model": self.model_name,
            "tether.passages": len(req.passages), "tether.regeneration": req.feedback is not None,
        }

    def _record(self, span, t0: float, inp: int, out: int, ok: bool, estimated: bool = False,
                response_model: str = "", finish: str = "") -> None:
        cost = cost_usd(inp, out, self.cfg.price_in_per_mtok, self.cfg.price_out_per_mtok)
        latency = (time.perf_counter() - t0) * 1000
        span.set(**{"gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out,
                    "tether.cost_usd": round(cost, 8)})
        if response_model:
            span.set(**{"gen_ai.response.model": response_model})
        if finish:
            span.set(**{"gen_ai.response.finish_reasons": [finish]})
        if estimated:
            span.set(**{"tether.usage_estimated": True})
        self.trace.record_call(Call("generate", self.model_name, inp, out, cost, latency, ok))

    def generate(self, req: GenerationRequest) -> Generation:
        t0 = time.perf_counter()
        with self.trace.span("model.call", **self._attrs(req, "chat")) as span:
            try:
                g = self.inner.generate(req)
            except Exception:
                self._record(span, t0, 0, 0, ok=False)
                raise
            self._record(span, t0, g.input_tokens, g.output_tokens, ok=True,
                         response_model=g.model, finish=g.finish_reason)
            return g

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        t0 = time.perf_counter()
        parts: list[str] = []
        usage: Usage | None = None
        with self.trace.span("model.call", **self._attrs(req, "chat"), **{"tether.stream": True}) as span:
            items = self.inner.stream_with_usage(req)
            try:
                for item in items:
                    if isinstance(item, Usage):
                        usage = item
                        continue
                    if not parts:
                        span.set(**{"tether.first_token_ms": round((time.perf_counter() - t0) * 1000, 3)})
                    parts.append(item)
                    yield item
            except Exception:
                self._record(span, t0, 0, 0, ok=False)
                raise
            if usage is not None:
                self._record(span, t0, usage.input_tokens, usage.output_tokens, ok=True)
            else:
                count = self.count_tokens or (lambda s: len(s.split()))
                prompt = req.question + "".join(p.text for p in req.passages)
                self._record(span, t0, count(prompt), count("".join(parts)), ok=True, estimated=True)
