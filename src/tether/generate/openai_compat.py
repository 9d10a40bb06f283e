"""Any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp server, TGI, OpenAI, Azure).

Uses the ``openai`` SDK. The API key is passed in by the caller (read at the edge from the
environment variable named in :class:`OpenAICompatConfig`); it is kept out of ``repr``, logs
and error messages. SDK retries are off: retrying and fallback belong to the router. SDK and
transport errors are translated here, once, into ``ProviderError`` / ``ProviderTimeout``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel

from tether.errors import ConfigError, ContextOverflow, ProviderError, ProviderTimeout
from tether.generate.base import Capabilities, GenerationRequest, GeneratorBase
from tether.generate.prompting import render_messages
from tether.types import Generation, Usage


class OpenAICompatConfig(BaseModel):
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "default"
    #: Name of the environment variable holding the key (the edge reads it; never the key).
    api_key_env: str = "TETHER_LLM_API_KEY"
    connect_timeout_s: float = 5.0
    timeout_s: float = 60.0
    streaming: bool = True
    #: Ask for token usage at the end of a stream (``stream_options.include_usage``); turn off
    #: for servers that reject the option (tokens are then estimated).
    stream_usage: bool = True
    #: How a JSON schema is enforced: OpenAI ``response_format``, vLLM ``guided_json`` in
    #: ``extra_body``, or only by the prompt (the answer is still validated afterwards).
    structured_output: Literal["response_format", "guided_json", "prompt"] = "response_format"


class OpenAICompatGenerator(GeneratorBase):
    def __init__(self, cfg: OpenAICompatConfig, api_key: str | None = None) -> None:
        try:
            import httpx
            from openai import OpenAI
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise ConfigError("the openai package is required for OpenAI-compatible generators") from exc
        self.cfg = cfg
        self.name = f"openai:{cfg.model}"
        self.endpoint = cfg.base_url.rstrip("/")
        self.capabilities = Capabilities(streaming=cfg.streaming, json_schema=True)
        timeout = httpx.Timeout(cfg.timeout_s, connect=cfg.connect_timeout_s)
        self._client = OpenAI(
            base_url=cfg.base_url, api_key=api_key or "not-needed", max_retries=0,
            timeout=timeout,  # type: ignore[arg-type]  # openai>=3 types an httpx2.Timeout; it normalises httpx's
        )

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatGenerator(base_url={self.cfg.base_url!r}, model={self.cfg.model!r})"

    def _kwargs(self, req: GenerationRequest) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": render_messages(req),
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
        }
        if req.json_schema is not None:
            if self.cfg.structured_output == "response_format":
                kw["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": req.json_schema, "strict": False},
                }
            elif self.cfg.structured_output == "guided_json":
                kw["extra_body"] = {"guided_json": req.json_schema}
        return kw

    def generate(self, req: GenerationRequest) -> Generation:
        t0 = time.perf_counter()
        with _translated(self.cfg):
            resp = self._client.chat.completions.create(**self._kwargs(req))
        if not resp.choices:
            raise ProviderError("the provider returned no choices", model=self.cfg.model)
        choice = resp.choices[0]
        usage = resp.usage
        return Generation(
            text=choice.message.content or "",
            model=resp.model or self.cfg.model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
            latency_s=time.perf_counter() - t0,
        )

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 128) -> str:
        """Plain chat messages in, the text out (the follow-up rewriter's prompt, answer/rewrite.py)."""
        with _translated(self.cfg):
            resp = self._client.chat.completions.create(model=self.cfg.model, messages=messages,  # type: ignore[arg-type]
                                                        max_tokens=max_tokens, temperature=0.0)
        return (resp.choices[0].message.content or "") if resp.choices else ""

    def chat_tools(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], *,
                   max_tokens: int = 512) -> tuple[str, list[dict[str, Any]], Usage]:
        """One tool-calling turn (research mode's planner): ``(text, tool_calls, usage)``, each
        call ``{"id", "name", "arguments"}`` with the arguments as the model wrote them (a string)."""
        with _translated(self.cfg):
            resp = self._client.chat.completions.create(model=self.cfg.model, messages=messages,  # type: ignore[arg-type]
                                                        tools=tools, max_tokens=max_tokens,  # type: ignore[arg-type]
                                                        temperature=0.0)
        u = resp.usage
        usage = Usage(u.prompt_tokens if u else 0, u.completion_tokens if u else 0)
        if not resp.choices:
            return "", [], usage
        msg = resp.choices[0].message
        calls = [{"id": c.id, "name": fn.name, "arguments": fn.arguments or "{}"}
                 for c in (msg.tool_calls or []) if (fn := getattr(c, "function", None)) is not None]
        return msg.content or "", calls, usage

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        for item in self.stream_with_usage(req):
            if isinstance(item, str):
                yield item

    def stream_with_usage(self, req: GenerationRequest) -> Iterator[str | Usage]:
        """Text deltas, then (when the server reports it: ``stream_options.include_usage``)
        one :class:`Usage` with the call's token counts."""
        extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if self.cfg.stream_usage else {}
        with _translated(self.cfg):
            events = self._client.chat.completions.create(**self._kwargs(req), stream=True, **extra)
            finished = False
            usage = None
            for chunk in events:
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
                    if choice.finish_reason:
                        finished = True
                if getattr(chunk, "usage", None):
                    usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0, 1)
            if not finished:
                raise ProviderError("the provider's stream ended before the answer finished", model=self.cfg.model)
            if usage is not None:
                yield usage


class _translated:
    """Turn SDK/transport exceptions into Tether's provider errors (no key, no prompt text)."""

    def __init__(self, cfg: OpenAICompatConfig) -> None:
        self.cfg = cfg

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: object) -> Literal[False]:
        if exc is None or isinstance(exc, (ProviderError, GeneratorExit)):
            return False
        import httpx
        import openai

        details: dict[str, object] = {"model": self.cfg.model}
        if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
            raise ProviderTimeout("the model provider timed out", **details) from exc
        if isinstance(exc, openai.APIStatusError):
            details["status"] = exc.status_code
            retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
            if retry_after:
                details["retry_after"] = retry_after
            if exc.status_code in (400, 413, 422) and _is_context_overflow(exc):
                raise ContextOverflow("the prompt is longer than the model's context window", **details) from exc
            raise ProviderError(f"the model provider answered HTTP {exc.status_code}", **details) from exc
        if isinstance(exc, (openai.OpenAIError, httpx.HTTPError, OSError, ValueError)):
            raise ProviderError(f"the model provider failed: {type(exc).__name__}", **details) from exc
        return False


#: How servers word "the prompt does not fit": OpenAI/vLLM ("maximum context length",
#: ``context_length_exceeded``), llama.cpp (``exceed_context_size_error``), TGI ("must be <=").
_OVERFLOW = re.compile(
    r"context[_ ]length|maximum context|context window|exceed_context_size|context size"
    r"|prompt is too long|too many tokens|tokens \+ `?max_new_tokens`? must be",
    re.IGNORECASE,
)


def _is_context_overflow(exc: Any) -> bool:
    """True when an HTTP 400-ish error says the prompt exceeds the context window."""
    if getattr(exc, "code", None) == "context_length_exceeded":
        return True
    body = getattr(exc, "body", None)
    text = f"{getattr(exc, 'message', '')} {json.dumps(body, default=str) if body is not None else ''}"
    return bool(_OVERFLOW.search(text))
