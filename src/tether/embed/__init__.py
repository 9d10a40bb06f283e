"""Embedders: the ``Embedder`` protocol, the bundled ONNX MiniLM, and OpenAI-compatible HTTP."""

from tether.embed.base import Embedder, make_embedder

__all__ = ["Embedder", "make_embedder"]
