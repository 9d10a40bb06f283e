"""End to end through the real ``openai`` SDK against the fake OpenAI-compatible server."""

import pytest

from tether.errors import ProviderError
from tether.generate import OpenAICompatConfig, OpenAICompatGenerator
from tether.ground import ABSTAIN_TEXT, CLAIM_SCHEMA_EXAMPLE, answer, stream_answer
from tether.testing import FakeOpenAI, Reply

from .helpers import passages

Q = "What revenue did Acme Corp report in 2023?"


def _gen(fake: FakeOpenAI) -> OpenAICompatGenerator:
    return OpenAICompatGenerator(OpenAICompatConfig(base_url=fake.base_url, model="fake-model"), api_key="sk-test")


def test_correct_quote_is_supported(embedder):
    with FakeOpenAI("quote") as fake:
        a = answer(Q, passages(), _gen(fake), embedder)
    assert not a.abstained and a.attempts == 1
    assert a.text == "Acme Corp reported revenue of $3.5 million in 2023. [1]"
    assert a.usage.input_tokens > 0 and a.model == "fake-model"
    assert fake.chat_requests[0]["headers"]["authorization"] == "Bearer sk-test"


def test_hallucinated_number_is_removed(embedder):
    with FakeOpenAI("hallucinate_number") as fake:
        a = answer(Q, passages(), _gen(fake), embedder)
    assert len(fake.chat_requests) == 2  # regenerated once, same mistake
    assert "10.5" not in a.text
    assert a.abstained or a.text == "Acme Corp reported revenue of $3.5 million in 2023. [1]"
    assert any("number_missing" in r for v in a.sentences for r in v.reasons)


def test_foreign_citation_is_uncited_then_abstains(embedder):
    with FakeOpenAI("foreign_citation") as fake:
        a = answer(Q, passages(), _gen(fake), embedder)
    assert a.abstained and a.escalate and a.text == ABSTAIN_TEXT
    assert a.sentences[0].verdict == "uncited" and a.sentences[0].invalid_numbers == (7,)
    assert a.citations == []


def test_missing_citations_regenerate_once_then_abstain(embedder):
    with FakeOpenAI("no_citations") as fake:
        a = answer(Q, passages(), _gen(fake), embedder)
    assert len(fake.chat_requests) == 2 and a.abstained and a.attempts == 2
    assert "cites no source" in fake.chat_requests[1]["body"]["messages"][1]["content"]


def test_missing_citations_then_fixed(embedder):
    with FakeOpenAI(["no_citations", "quote"]) as fake:
        a = answer(Q, passages(), _gen(fake), embedder)
    assert not a.abstained and a.attempts == 2 and a.citations[0].number == 1


def test_invalid_json_is_retried_once(embedder):
    with FakeOpenAI(["invalid_json", "quote"]) as fake:
        a = answer(Q, passages(), _gen(fake), embedder, json_schema=CLAIM_SCHEMA_EXAMPLE)
    assert len(fake.chat_requests) == 2 and not a.abstained
    assert a.data == {"claims": [{"text": "Acme Corp reported revenue of $3.5 million in 2023.", "citations": [1]}]}
    body = fake.chat_requests[0]["body"]
    assert body["response_format"]["json_schema"]["schema"] == CLAIM_SCHEMA_EXAMPLE
    assert "not valid JSON" in fake.chat_requests[1]["body"]["messages"][1]["content"]


def test_invalid_json_twice_abstains(embedder):
    with FakeOpenAI("invalid_json") as fake:
        a = answer(Q, passages(), _gen(fake), embedder, json_schema=CLAIM_SCHEMA_EXAMPLE)
    assert len(fake.chat_requests) == 2 and a.abstained and a.reasons == ["invalid_json"]


def test_guided_json_for_vllm(embedder):
    with FakeOpenAI("quote") as fake:
        cfg = OpenAICompatConfig(base_url=fake.base_url, model="m", structured_output="guided_json")
        a = answer(Q, passages(), OpenAICompatGenerator(cfg), embedder, json_schema=CLAIM_SCHEMA_EXAMPLE)
    assert not a.abstained
    body = fake.chat_requests[0]["body"]
    assert body["guided_json"] == CLAIM_SCHEMA_EXAMPLE and "response_format" not in body


def test_streaming_emits_retract_for_the_bad_sentence(embedder):
    with FakeOpenAI("hallucinate_number") as fake:
        events = list(stream_answer(Q, passages(), _gen(fake), embedder))
    assert fake.chat_requests[0]["body"]["stream"] is True
    verdicts = [(e["index"], e["verdict"]) for e in events if e["type"] == "sentence"]
    assert verdicts == [(0, "supported"), (1, "unsupported")]
    (retract,) = [e for e in events if e["type"] == "retract"]
    assert retract["index"] == 1 and "10.5" in retract["reason"]
    done = events[-1]
    assert done["type"] == "done" and "10.5" not in done["answer"]["text"]


def test_truncated_stream_is_a_provider_error(embedder):
    reply = Reply(text="Acme Corp reported revenue [1].", truncate_after=2)
    with FakeOpenAI(reply) as fake, pytest.raises(ProviderError):
        list(stream_answer(Q, passages(), _gen(fake), embedder))
