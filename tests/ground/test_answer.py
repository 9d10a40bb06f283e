"""The orchestrator with an in-process scripted generator (FakeGenerator): drop, regenerate, abstain."""

from tether.ground import ABSTAIN_TEXT, CLAIM_SCHEMA_EXAMPLE, GroundConfig, answer, stream_answer
from tether.testing import FakeGenerator

from .helpers import passages

GOOD = "Acme Corp reported revenue of $3.5 million in 2023 [1]."
BAD = "Acme Corp reported revenue of $9.9 million in 2023 [1]."


def test_supported_answer_passes_through(embedder):
    gen = FakeGenerator([GOOD])
    a = answer("What revenue?", passages(), gen, embedder)
    assert not a.abstained and a.text == GOOD and a.attempts == 1
    assert [c.number for c in a.citations] == [1] and a.usage.calls == 1


def test_unsupported_sentence_triggers_one_regeneration_with_feedback(embedder):
    gen = FakeGenerator([GOOD + " It paid a dividend of 2% [1].", GOOD])
    a = answer("What revenue?", passages(), gen, embedder)
    assert a.attempts == 2 and a.text == GOOD and not a.abstained
    assert "It paid a dividend of 2% [1]." in gen.requests[1].feedback
    assert "the number 2% is not in the cited source" in gen.requests[1].feedback
    assert a.usage.calls == 2


def test_still_unsupported_after_retry_is_dropped_and_escalated(embedder):
    gen = FakeGenerator([GOOD + " " + BAD.replace("Acme", "It", 1)])
    cfg = GroundConfig(min_supported_fraction=0.5)
    a = answer("What revenue?", passages(), gen, embedder, cfg)
    assert a.attempts == 2 and a.text == GOOD and a.escalate and not a.abstained
    assert [v.verdict for v in a.sentences] == ["supported", "unsupported"]


def test_abstains_when_too_little_survives(embedder):
    a = answer("What revenue?", passages(), FakeGenerator([BAD]), embedder)
    assert a.abstained and a.text == ABSTAIN_TEXT and a.escalate and a.attempts == 2


def test_abstains_without_calling_the_model_on_weak_retrieval(embedder):
    gen = FakeGenerator([GOOD])
    a = answer("q", passages(), gen, embedder, GroundConfig(min_retrieval_score=0.95))
    assert a.abstained and a.reasons == ["weak_retrieval"] and not gen.requests
    assert answer("q", [], gen, embedder).reasons == ["no_passages"]


def test_model_abstention_is_respected(embedder):
    gen = FakeGenerator([ABSTAIN_TEXT])
    a = answer("Who founded Acme?", passages(), gen, embedder)
    assert a.abstained and not a.escalate and a.reasons == ["model_abstained"] and a.attempts == 1


def test_structured_answer_validates_and_grounds(embedder):
    good = '{"claims": [{"text": "Acme Corp reported revenue of $3.5 million in 2023.", "citations": [1]}]}'
    gen = FakeGenerator(["not json at all", good])
    a = answer("What revenue?", passages(), gen, embedder, json_schema=CLAIM_SCHEMA_EXAMPLE)
    assert not a.abstained and a.attempts == 2 and a.data["claims"][0]["citations"] == [1]
    assert "not valid JSON" in gen.requests[1].feedback
    assert a.citations[0].quote == "Acme Corp reported revenue of $3.5 million in 2023."


def test_structured_drops_unsupported_claim(embedder):
    two = (
        '{"claims": [{"text": "Acme Corp reported revenue of $3.5 million in 2023.", "citations": [1]},'
        ' {"text": "The Oberoi Group runs 30 hotels.", "citations": [5]}]}'
    )
    a = answer("q", passages(), FakeGenerator([two]), embedder, json_schema=CLAIM_SCHEMA_EXAMPLE)
    assert a.attempts == 2 and not a.abstained and a.escalate
    assert len(a.data["claims"]) == 1 and a.sentences[1].verdict == "uncited"


def test_stream_retracts_the_bad_sentence(embedder):
    gen = FakeGenerator([GOOD + " It had 400 staff [1]. Jane Smith is the chief executive [1]."])
    events = list(stream_answer("Tell me about Acme", passages(), gen, embedder))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "token" and kinds[-1] == "done"
    assert "".join(e["text"] for e in events if e["type"] == "token") == gen.outputs[0]
    sentences = [e for e in events if e["type"] == "sentence"]
    assert [s["verdict"] for s in sentences] == ["supported", "unsupported", "supported"]
    retracts = [e for e in events if e["type"] == "retract"]
    assert [r["index"] for r in retracts] == [1] and "400" in retracts[0]["reason"]
    # the retraction comes before the last sentence's tokens finished streaming
    assert kinds.index("retract") < max(i for i, k in enumerate(kinds) if k == "token")
    done = events[-1]["answer"]
    assert not done["abstained"] and "400" not in done["text"] and done["escalate"]
