"""Build generators from the model registry in settings (``generate.models``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tether.embed.base import Embedder
from tether.errors import ConfigError
from tether.generate.base import Generator
from tether.settings import AnswerabilityConfig, GenerateSettings, ModelConfig

if TYPE_CHECKING:
    from tether.ground.focus import AnswerScorer


def model_config(settings: GenerateSettings, name: str | None) -> tuple[str, ModelConfig]:
    name = name or settings.default_model
    if name not in settings.models:
        raise ConfigError(f"unknown model {name!r}; configured models: {', '.join(sorted(settings.models))}")
    return name, settings.models[name]


def make_generator(cfg: ModelConfig, embedder: Embedder, secrets: Mapping[str, str], *,
                   scorer: Callable[[], AnswerScorer | None] | None = None,
                   answerability: AnswerabilityConfig | None = None) -> Generator:
    """``secrets`` is the environment (read at the edge); only ``cfg.api_key_env`` is looked up.
    ``scorer`` gives the engine's verifier scorer (None when no model is available) to the
    extractive generator, which then quotes what answers the question (generate/focused.py);
    without it the extractive generator ranks by similarity as before."""
    if cfg.kind == "extractive":
        from tether.generate.extractive import ExtractiveGenerator

        return ExtractiveGenerator(embedder, scorer=scorer, answerability=answerability)
    if cfg.kind == "openai":
        from tether.generate.openai_compat import OpenAICompatConfig, OpenAICompatGenerator

        oc = OpenAICompatConfig(
            base_url=cfg.base_url, model=cfg.model, api_key_env=cfg.api_key_env,
            connect_timeout_s=cfg.connect_timeout_s, timeout_s=cfg.timeout_s, streaming=cfg.streaming,
            stream_usage=cfg.stream_usage,
            structured_output=cfg.structured_output,
        )
        return OpenAICompatGenerator(oc, api_key=secrets.get(cfg.api_key_env) if cfg.api_key_env else None)
    if cfg.kind == "llama":
        from tether.generate.llama_local import LlamaLocalConfig, LlamaLocalGenerator

        return LlamaLocalGenerator(LlamaLocalConfig(model_path=cfg.model_path, n_ctx=cfg.context_window,
                                                    timeout_s=cfg.timeout_s))
    raise ConfigError(f"unknown model kind {cfg.kind!r}; valid kinds: extractive, openai, llama")
