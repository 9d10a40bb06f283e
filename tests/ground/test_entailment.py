"""Entailment in grounding: for an answer a model wrote (the scripted OpenAI-compatible server,
through the real ``openai`` SDK), the shipped verifier reads each sentence with the span it
cites; a sentence that contradicts its source gets the verdict ``contradicted`` and is dropped
or regenerated, never shown. Extractive quotes are not re-checked (they are their source)."""

from __future__ import annotations

import pytest

from tether.generate import OpenAICompatConfig, OpenAICompatGenerator
from tether.ground import answer, ground_answer
from tether.ground.answerable import load_verifier
from tether.ground.stream import AnswerStream
from tether.settings import AnswerabilityConfig, GroundConfig
from tether.testing import FakeOpenAI
from tether.types import Passage

from .helpers import verifier_missing_reason

pytestmark = pytest.mark.skipif(verifier_missing_reason() is not None, reason=verifier_missing_reason() or "")

DOC = ("Bonus policy.\n\nContractors and temporary staff are not covered by the bonus scheme. "
       "Permanent employees receive an annual bonus of up to 10% of base salary.")
Q = "Who is covered by the bonus scheme?"
TRUE = "Permanent employees receive an annual bonus of up to 10% of base salary. [1]"
FALSE = "Contractors and temporary staff are covered by the bonus scheme. [1]"


def _passages() -> list[Passage]:
    return [Passage(7, 3, 0, DOC, 0, len(DOC), title="Bonus policy", score=0.9)]


@pytest.fixture(scope="module")
def verifier():
    return load_verifier(AnswerabilityConfig())


def _gen(fake: FakeOpenAI) -> OpenAICompatGenerator:
    return OpenAICompatGenerator(OpenAICompatConfig(base_url=fake.base_url, model="fake-model"), api_key="sk-test")


def test_a_contradicting_sentence_is_contradicted_and_dropped(embedder, verifier):
    with FakeOpenAI(lambda messages: f"{TRUE} {FALSE}") as fake:
        a = answer(Q, _passages(), _gen(fake), embedder, verifier=verifier)
    assert len(fake.chat_requests) == 2  # regenerated once with the reason, same mistake
    assert "contradicts the cited source" in fake.chat_requests[1]["body"]["messages"][1]["content"]
    verdicts = {v.text: v for v in a.sentences}
    assert verdicts[FALSE].verdict == "contradicted"
    assert any(r.startswith("contradicted:") for r in verdicts[FALSE].reasons)
    assert verdicts[TRUE].verdict == "supported"
    assert not a.abstained and "are covered by the bonus scheme" not in a.text and "10% of base salary" in a.text
    assert "dropped:1" in a.reasons and a.escalate


def test_the_verdict_is_the_verifiers(embedder, verifier):
    """Without the verifier the same sentence is only ``unsupported`` (the negation check); with
    it, ``contradicted``; switched off in settings, the verifier is not asked."""
    passages = _passages()
    assert ground_answer(FALSE, passages, embedder).sentences[0].verdict == "unsupported"
    assert ground_answer(FALSE, passages, embedder, verifier=verifier).sentences[0].verdict == "contradicted"
    off = GroundConfig()
    off.entailment.enabled = False
    assert ground_answer(FALSE, passages, embedder, off, verifier=verifier).sentences[0].verdict == "unsupported"
    assert ground_answer(TRUE, passages, embedder, verifier=verifier).sentences[0].verdict == "supported"


def test_a_streamed_contradiction_is_retracted(embedder, verifier):
    with FakeOpenAI(lambda messages: f"{FALSE} {TRUE}") as fake:
        live = AnswerStream(Q, _passages(), _gen(fake), embedder, verifier=verifier)
        events = list(live)
    judged = [e for e in events if e["type"] == "sentence"]
    assert judged[0]["verdict"] == "contradicted"
    assert any(e["type"] == "retract" and e["index"] == judged[0]["index"] for e in events)
    assert live.answer is not None and "are covered by the bonus scheme" not in live.answer.text


def test_an_answer_with_only_contradictions_abstains(embedder, verifier):
    with FakeOpenAI(lambda messages: FALSE) as fake:
        a = answer(Q, _passages(), _gen(fake), embedder, verifier=verifier)
    assert a.abstained and a.escalate and a.citations == []
    assert a.sentences and all(v.verdict == "contradicted" for v in a.sentences)
