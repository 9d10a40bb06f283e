"""The Reranker contract (``tether.retrieve.rerank.Reranker``), written once and run against
every kind in ``retrieve/rerank.py`` (all run offline: features; a cross-encoder from a local
folder, here a real ONNX graph built by the test; HTTP ``/rerank`` against the real fake server on
127.0.0.1) and ``FakeReranker``."""

from __future__ import annotations

import pytest

from tether.errors import ConfigError, ProviderError
from tether.retrieve.rerank import CrossEncoderReranker, FeatureReranker, HttpReranker, Reranker
from tether.testing import FakeOpenAI, FakeReranker
from tether.types import Passage

from .cross_encoder import build_overlap_cross_encoder
from .failures import Failure, assert_fails_typed

QUERY = "annual leave carry over"
TEXTS = [
    "Office opening hours are nine to five.",
    "The cafeteria menu changes every week.",
    "Unused annual leave days carry over to the next year.",
    "Parking permits are issued by facilities.",
    "Travel expenses need a receipt.",
]


def passages() -> list[Passage]:
    """Fresh passages (rerankers write scores onto them), with equal retrieval scores."""
    return [Passage(i + 1, i + 1, 0, t, 0, len(t), score=0.5, scores={"bm25": 1.0, "dense": 0.5})
            for i, t in enumerate(TEXTS)]


def _ids(ps: list[Passage]) -> list[int]:
    return [p.chunk_id for p in ps]


class RerankerContract:
    """Subclasses provide a ``reranker`` fixture and, optionally, ``failures``."""

    @pytest.fixture
    def failures(self) -> list[Failure]:
        return []

    def test_declares_the_protocol(self, reranker: Reranker) -> None:
        assert isinstance(reranker, Reranker)
        assert isinstance(reranker.name, str) and reranker.name

    def test_returns_a_reordering_of_the_same_passages(self, reranker: Reranker) -> None:
        ps = passages()
        before = [(p.chunk_id, p.document_id, p.text, p.char_start, p.char_end) for p in ps]
        out = reranker.rerank(QUERY, ps, top_n=len(ps))
        assert len(out) == len(ps) and {id(p) for p in out} == {id(p) for p in ps}
        assert sorted((p.chunk_id, p.document_id, p.text, p.char_start, p.char_end) for p in out) == sorted(before)

    def test_relevant_passage_ranks_first(self, reranker: Reranker) -> None:
        out = reranker.rerank(QUERY, passages(), top_n=len(TEXTS))
        assert out[0].chunk_id == 3, _ids(out)

    def test_only_the_head_is_reordered(self, reranker: Reranker) -> None:
        ps = passages()
        out = reranker.rerank(QUERY, ps, top_n=2)
        assert out[2:] == ps[2:] and all(a is b for a, b in zip(out[2:], ps[2:]))
        assert {id(p) for p in out[:2]} == {id(p) for p in ps[:2]}
        ps = passages()  # the relevant passage is third: a head of 4 must bring it up
        assert reranker.rerank(QUERY, ps, top_n=4)[0].chunk_id == 3

    def test_head_scores_are_recorded_best_first(self, reranker: Reranker) -> None:
        out = reranker.rerank(QUERY, passages(), top_n=len(TEXTS))
        scores = [p.scores["rerank"] for p in out]
        assert all(isinstance(s, float) for s in scores)
        assert scores == sorted(scores, reverse=True)
        assert [p.score for p in out] == scores
        assert scores[0] > scores[-1]

    def test_same_input_same_order(self, reranker: Reranker) -> None:
        assert _ids(reranker.rerank(QUERY, passages(), top_n=5)) == _ids(reranker.rerank(QUERY, passages(), top_n=5))

    def test_small_inputs_come_back_in_order(self, reranker: Reranker) -> None:
        assert reranker.rerank(QUERY, [], top_n=5) == []
        one = passages()[:1]
        assert reranker.rerank(QUERY, one, top_n=5) == one
        for top_n in (0, 1):
            ps = passages()
            assert _ids(reranker.rerank(QUERY, ps, top_n=top_n)) == _ids(ps)

    def test_failures_are_typed(self, failures: list[Failure]) -> None:
        for failure in failures:
            assert_fails_typed(failure)


class TestFeatureReranker(RerankerContract):
    @pytest.fixture
    def reranker(self) -> FeatureReranker:
        return FeatureReranker()


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory):
    return build_overlap_cross_encoder(tmp_path_factory.mktemp("cross-encoder"))


class TestCrossEncoderReranker(RerankerContract):
    @pytest.fixture
    def reranker(self, cross_encoder_dir) -> CrossEncoderReranker:
        return CrossEncoderReranker(str(cross_encoder_dir), batch_size=2)

    @pytest.fixture
    def failures(self, tmp_path) -> list[Failure]:
        return [Failure("empty model folder", lambda: CrossEncoderReranker(str(tmp_path)), ConfigError, "config")]


@pytest.fixture(scope="module")
def rerank_server():
    with FakeOpenAI("quote", api_key="contract-key") as fake:
        yield fake


class TestHttpReranker(RerankerContract):
    @pytest.fixture
    def reranker(self, rerank_server: FakeOpenAI) -> HttpReranker:
        return HttpReranker(f"{rerank_server.base_url}/rerank", api_key="contract-key", model="m")

    @pytest.fixture
    def failures(self, rerank_server: FakeOpenAI, reranker: HttpReranker) -> list[Failure]:
        def outage() -> object:
            rerank_server.forced_status = 500
            try:
                return reranker.rerank(QUERY, passages(), top_n=3)
            finally:
                rerank_server.forced_status = None

        wrong_key = HttpReranker(f"{rerank_server.base_url}/rerank", api_key="sk-wrong-contract-key")
        nowhere = HttpReranker("http://127.0.0.1:9/v1/rerank", timeout_s=2)
        return [
            Failure("HTTP 500", outage, ProviderError, "provider_error", status=500),
            Failure("HTTP 401", lambda: wrong_key.rerank(QUERY, passages(), top_n=3), ProviderError,
                    "provider_error", status=401, secrets=("sk-wrong-contract-key",)),
            Failure("connection refused", lambda: nowhere.rerank(QUERY, passages(), top_n=3), ProviderError,
                    "provider_error"),
        ]


class TestFakeReranker(RerankerContract):
    @pytest.fixture
    def reranker(self) -> FakeReranker:
        return FakeReranker()

    @pytest.fixture
    def failures(self) -> list[Failure]:
        down = FakeReranker(error=ProviderError("reranker down", status=503))
        return [Failure("scripted error", lambda: down.rerank(QUERY, passages(), top_n=3), ProviderError,
                        "provider_error", status=503)]
