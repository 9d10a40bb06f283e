"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` server (vLLM, TEI, Ollama, OpenAI).

Plain HTTP with httpx (no SDK needed): batched requests, a timeout, typed errors, and checks
that the server returned one vector of the configured dimension per input. Vectors are
L2-normalised here so cosine search behaves the same whatever the server does.
"""

from __future__ import annotations

import httpx
import numpy as np

from tether._http import post_json
from tether.embed.tokenizer import count_tokens
from tether.errors import ConfigError, ProviderError


class OpenAIEmbedder:
    cache_size = 0  # every call goes to the server

    def __init__(self, settings, api_key: str | None = None, client: httpx.Client | None = None) -> None:
        if not settings.base_url:
            raise ConfigError("embed.base_url must be set for kind='openai' (e.g. http://127.0.0.1:8000/v1)")
        self.settings = settings
        self.name = f"openai:{settings.model}"
        self.dimension = settings.dimension
        self.url = settings.base_url.rstrip("/") + "/embeddings"
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(timeout=settings.timeout_s)

    def count_tokens(self, text: str) -> int:
        # the server's tokenizer is unknown; the bundled WordPiece count bounds chunk sizes
        return count_tokens(text)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        bs = max(1, self.settings.batch_size)
        for s in range(0, len(texts), bs):
            batch = texts[s : s + bs]
            out[s : s + len(batch)] = self._call(batch)
        return out

    def _call(self, batch: list[str]) -> np.ndarray:
        body = {"model": self.settings.model, "input": batch}
        data = post_json(self.client, self.url, body, self.headers, "embedding server")
        try:
            items = sorted(data["data"], key=lambda d: d["index"])  # type: ignore[index]
            vecs = np.array([d["embedding"] for d in items], dtype=np.float32)
        except (KeyError, TypeError) as exc:
            raise ProviderError(f"embedding server at {self.url} returned an unexpected body") from exc
        if vecs.shape != (len(batch), self.dimension):
            raise ProviderError(
                f"embedding server returned shape {tuple(vecs.shape)}; expected ({len(batch)}, {self.dimension}) "
                "(check embed.dimension)"
            )
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.clip(norms, 1e-12, None)
