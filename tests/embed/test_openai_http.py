"""The OpenAI-compatible embedder against a real HTTP server on 127.0.0.1 (the fake server)."""

import numpy as np
import pytest

from tether.embed.openai_http import OpenAIEmbedder
from tether.errors import ProviderError
from tether.settings import EmbedSettings
from tether.testing.fake_openai import FakeOpenAI


def test_batches_normalises_and_sends_the_key():
    with FakeOpenAI("quote") as fake:
        e = OpenAIEmbedder(EmbedSettings(kind="openai", base_url=fake.base_url, model="m", batch_size=2),
                           api_key="secret-key")
        v = e.embed(["alpha beta", "gamma", "alpha beta", "delta epsilon"])
        assert v.shape == (4, 384)
        assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
        assert np.allclose(v[0], v[2])  # deterministic
        calls = [r for r in fake.requests if r["path"].endswith("/embeddings")]
        assert len(calls) == 2 and calls[0]["headers"]["authorization"] == "Bearer secret-key"


def test_wrong_dimension_is_a_clear_error():
    with FakeOpenAI("quote") as fake:
        e = OpenAIEmbedder(EmbedSettings(kind="openai", base_url=fake.base_url, dimension=768))
        with pytest.raises(ProviderError, match="dimension"):
            e.embed(["x"])


def test_unreachable_server_is_a_provider_error():
    e = OpenAIEmbedder(EmbedSettings(kind="openai", base_url="http://127.0.0.1:9/v1", timeout_s=2))
    with pytest.raises(ProviderError):
        e.embed(["x"])
