"""The shipped fakes' own behaviour (queues, scripted errors, records, the fake server's new
endpoints); that each one keeps its protocol's contract is checked in ``tests/contracts``."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

import tether.testing
from tether.embed.openai_http import OpenAIEmbedder
from tether.errors import ProviderError, ProviderTimeout
from tether.generate.base import GenerationRequest
from tether.guard.base import GuardResult, Verdict
from tether.settings import EmbedSettings
from tether.testing import FakeEmbedder, FakeGenerator, FakeGuard, FakeOpenAI, FakeReranker
from tether.types import Passage, Usage

REQ = GenerationRequest("What did Acme earn?", [Passage(1, 1, 0, "Acme earned $3.5M in 2023.", 0, 26)])


def test_public_surface_is_pinned() -> None:
    assert tether.testing.__all__ == ["FakeEmbedder", "FakeGenerator", "FakeGuard", "FakeOpenAI", "FakeReranker",
                                      "Faults", "Reply"]
    assert all(hasattr(tether.testing, name) for name in tether.testing.__all__)


def test_generator_replays_its_queue_then_repeats_the_last_output() -> None:
    gen = FakeGenerator(["one [1].", ProviderError("down", status=503), "three [1]."])
    assert gen.generate(REQ).text == "one [1]."
    with pytest.raises(ProviderError) as info:
        list(gen.stream(REQ))
    assert info.value.details["status"] == 503
    assert "".join(gen.stream(REQ)) == "three [1]." and gen.generate(REQ).text == "three [1]."
    assert len(gen.requests) == 4 and gen.requests[0] is REQ


def test_generator_streams_in_pieces_and_reports_word_usage() -> None:
    gen = FakeGenerator(["Acme earned $3.5M in 2023 [1]."], chunk_chars=4)
    items = list(gen.stream_with_usage(REQ))
    assert items[:-1] == ["Acme", " ear", "ned ", "$3.5", "M in", " 202", "3 [1", "]."]
    assert items[-1] == Usage(input_tokens=4 + 5, output_tokens=6, calls=1)
    g = gen.generate(REQ)
    assert (g.input_tokens, g.output_tokens) == (9, 6)
    assert list(FakeGenerator(["a b"], report_usage=False).stream_with_usage(REQ)) == ["a ", "b"]


def test_generator_can_drop_a_stream_part_way() -> None:
    gen = FakeGenerator(["one two three four"], break_after=2)
    got: list[str] = []
    with pytest.raises(ProviderError, match="part-way"):
        for delta in gen.stream(REQ):
            got.append(delta)
    assert got == ["one ", "two "]
    assert gen.generate(REQ).text == "one two three four"  # generate is unaffected


def test_generator_rejects_an_empty_queue() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FakeGenerator([])


def test_embedder_records_batches_and_raises_on_cue() -> None:
    e = FakeEmbedder(dimension=16)
    v = e.embed(["leave policy", "Leave POLICY!", "parking"])
    assert v.shape == (3, 16) and np.allclose(v[0], v[1]) and not np.allclose(v[0], v[2])
    assert e.calls == [["leave policy", "Leave POLICY!", "parking"]]
    assert e.count_tokens("Leave POLICY!") == 3
    e.error = ProviderTimeout("embedding server timed out")
    with pytest.raises(ProviderTimeout):
        e.embed(["x"])
    with pytest.raises(ValueError, match="dimension"):
        FakeEmbedder(dimension=0)


def test_reranker_orders_by_overlap_and_records_calls() -> None:
    ps = [Passage(i, i, 0, t, 0, len(t)) for i, t in enumerate(["parking", "annual leave", "leave"], start=1)]
    rr = FakeReranker()
    out = rr.rerank("annual leave", ps, top_n=3)
    assert [p.chunk_id for p in out] == [2, 3, 1] and [p.score for p in out] == [1.0, 0.5, 0.0]
    assert rr.calls == [("annual leave", [1, 2, 3], 3)]


def test_guard_acts_on_words_in_order_of_severity() -> None:
    g = FakeGuard(stage="output", block=["forbidden"], sanitise=["sk-live-1"], flag=["maybe"])
    assert g.check("nothing here").verdict is Verdict.ALLOW
    assert g.check("maybe so").verdict is Verdict.FLAG
    r = g.check("key sk-live-1 and SK-LIVE-1")
    assert r.verdict is Verdict.SANITISE and r.sanitised_text == "key [REDACTED] and [REDACTED]"
    assert [(e.start, e.end) for e in r.entities] == [(4, 13), (18, 27)]
    assert g.check("forbidden sk-live-1").verdict is Verdict.BLOCK
    assert g.check("unforbiddenly").verdict is Verdict.ALLOW  # whole words only
    fixed = FakeGuard("a", "context", result=GuardResult(Verdict.FLAG, 0.4, ["x"]))
    assert fixed.check("anything").reasons == ["x"] and fixed.seen == ["anything"]


def test_fake_server_embeddings_match_the_fake_embedder() -> None:
    with FakeOpenAI() as fake:
        e = OpenAIEmbedder(EmbedSettings(kind="openai", base_url=fake.base_url, model="m", dimension=384))
        texts = ["annual leave", "", "?!"]
        np.testing.assert_allclose(e.embed(texts), FakeEmbedder(384).embed(texts), atol=1e-6)


def test_fake_server_rerank_endpoint_scores_every_document() -> None:
    with FakeOpenAI() as fake:
        r = httpx.post(f"{fake.base_url}/rerank", json={"query": "annual leave", "documents": ["parking", "leave"]})
    assert r.json()["results"] == [{"index": 1, "relevance_score": 0.5}, {"index": 0, "relevance_score": 0.0}]


def test_fake_server_checks_the_key_and_can_be_taken_down() -> None:
    with FakeOpenAI(api_key="k") as fake:
        url = f"{fake.base_url}/embeddings"
        body = {"model": "m", "input": ["x"]}
        assert httpx.post(url, json=body).status_code == 401
        wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        ok = {"Authorization": "Bearer k"}
        assert httpx.post(url, json=body, headers=ok).status_code == 200
        fake.forced_status = 503
        assert httpx.post(url, json=body, headers=ok).status_code == 503
        assert httpx.get(f"{fake.base_url}/models", headers=ok).status_code == 503
        fake.forced_status = None
        assert httpx.post(url, json=body, headers=ok).status_code == 200
