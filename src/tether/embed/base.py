"""The ``Embedder`` protocol and the factory that builds one from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tether.settings import EmbedSettings


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dimension), rows L2-normalised."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model would see for ``text`` (used to bound chunk sizes)."""
        ...


def make_embedder(settings: EmbedSettings, secrets: "Mapping[str, str] | None" = None) -> Embedder:
    """``secrets`` is the environment (read at the edge); only ``settings.api_key_env`` is used."""
    if settings.kind == "onnx":
        from tether.embed.onnx_minilm import OnnxEmbedder

        return OnnxEmbedder(settings)
    from tether.embed.openai_http import OpenAIEmbedder

    return OpenAIEmbedder(settings, api_key=(secrets or {}).get(settings.api_key_env))
