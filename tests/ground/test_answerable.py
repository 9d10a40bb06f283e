"""The answerability gate and the question focus it shares with the extractive generator, on
the shipped verifier: a passage that answers passes, nearby text that does not is stopped, a
question about something no readable passage names is stopped, and the gate records scores by
chunk id, never text."""

from __future__ import annotations

import pytest

from tether.errors import ConfigError
from tether.ground.answerable import ANSWERABLE, NOT_ANSWERABLE, answer_threshold, assess, load_verifier
from tether.ground.focus import AnswerScorer, anchor_share, anchors, question_parts
from tether.settings import AnswerabilityConfig
from tether.types import Passage

from .helpers import verifier_missing_reason

needs_model = pytest.mark.skipif(verifier_missing_reason() is not None, reason=verifier_missing_reason() or "")

LEAVE = ("Annual leave\n\nEmployees accrue 25 days of annual leave per calendar year. Leave requests must be made "
         "two weeks in advance.")
CONDUCT = ("Disciplinary procedure\n\nDisciplinary hearings are held within ten working days. A first written "
           "warning stays on file for six months.")


def _passages(*texts: str) -> list[Passage]:
    return [Passage(100 + i, i, 0, t, 0, len(t), title=t.split("\n")[0]) for i, t in enumerate(texts)]


@pytest.fixture(scope="module")
def scorer() -> AnswerScorer:
    verifier = load_verifier(AnswerabilityConfig())
    assert verifier is not None
    return AnswerScorer(verifier)


@needs_model
def test_a_passage_that_answers_passes_and_nearby_text_does_not(scorer, embedder):
    t = answer_threshold(AnswerabilityConfig(), scorer.verifier)
    assert t == scorer.verifier.thresholds.answers  # the calibrated default
    yes = assess(scorer, embedder, "How many days of annual leave do employees get?", _passages(LEAVE, CONDUCT), t)
    no = assess(scorer, embedder, "What is the notice period when an employee resigns?", _passages(LEAVE, CONDUCT), t)
    assert yes.decision == ANSWERABLE and yes.score >= t
    assert no.decision == NOT_ANSWERABLE and no.score < t < yes.score
    assert set(yes.scores) == {"100", "101"} and all(isinstance(v, float) for v in yes.scores.values())
    attrs = yes.to_attrs()
    assert set(attrs) == {"score", "threshold", "decision", "anchors_missing", "words_unseen", "scores"}
    assert "annual" not in str(attrs).lower()  # ids and numbers only, no text


@needs_model
def test_unseen_words_stop_the_gate_only_when_they_are_a_large_share_of_the_question(scorer, embedder):
    q = "How many days of annual leave do employees get?"
    one_of_four = assess(scorer, embedder, q, _passages(LEAVE), 0.0, unseen=["dog"], topic_words=4,
                         min_unseen_share=0.2)
    one_of_eight = assess(scorer, embedder, q, _passages(LEAVE), 0.0, unseen=["band"], topic_words=8,
                          min_unseen_share=0.2)
    off = assess(scorer, embedder, q, _passages(LEAVE), 0.0, unseen=["dog"], topic_words=4, min_unseen_share=0.0)
    assert one_of_four.decision == NOT_ANSWERABLE and one_of_four.words_unseen == 1
    assert one_of_eight.decision == ANSWERABLE and one_of_eight.words_unseen == 1
    assert off.decision == ANSWERABLE
    assert "dog" not in str(one_of_four.to_attrs())  # a count, never the words


@needs_model
def test_configured_threshold_and_missing_anchor(scorer, embedder):
    q = "How many days of annual leave do employees get?"
    assert assess(scorer, embedder, q, _passages(LEAVE), 1.0).decision == NOT_ANSWERABLE
    assert assess(scorer, embedder, q, _passages(LEAVE), 0.0).decision == ANSWERABLE
    mars = assess(scorer, embedder, "How many days of annual leave do employees on Mars get?", _passages(LEAVE), 0.0)
    assert mars.decision == NOT_ANSWERABLE and mars.anchors_missing == 1
    loose = assess(scorer, embedder, "How many days of annual leave do employees on Mars get?", _passages(LEAVE), 0.0,
                   require_anchors=False)
    assert loose.decision == ANSWERABLE
    assert assess(scorer, embedder, q, [], 0.0).decision == NOT_ANSWERABLE


@needs_model
def test_scorer_memo_reads_each_pair_once(scorer):
    calls = []
    real = scorer.verifier.answer_scores_pairs

    class Counting:
        thresholds = scorer.verifier.thresholds

        def answer_scores_pairs(self, pairs):
            calls.append(len(pairs))
            return real(pairs)

    memo = AnswerScorer(Counting())  # type: ignore[arg-type]
    first = memo.scores("Who approves?", ["The CFO approves.", "Lunch is at noon."])
    again = memo.scores("Who approves?", ["Lunch is at noon.", "The CFO approves.", "A new one."])
    assert calls == [2, 1] and again[:2] == first[::-1]


def test_a_configured_model_path_that_holds_no_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no verifier model"):
        load_verifier(AnswerabilityConfig(model_path=str(tmp_path)))


def test_question_parts_split_conservatively():
    assert question_parts("How many unused leave days can I carry over, and until when must I use them?") == [
        "How many unused leave days can I carry over?", "Until when must I use them?"]
    assert question_parts("When and where is the 2026 company offsite, and what is its budget?") == [
        "When and where is the 2026 company offsite?", "What is its budget?"]
    assert len(question_parts("For how many days can I self-certify sickness, how many sick days are paid, "
                              "and what is paid after that?")) == 3
    for single in ("What are the RPO and RTO for the main database?", "What is the meal limit?"):
        assert question_parts(single) == [single]


def test_anchors_are_identifiers_years_names_and_counted_things():
    assert anchors("What is the midpoint of the L8 salary band?") == ["l8"]
    assert anchors("Who is primary on-call in ISO week 20 of 2026?") == ["2026", "week 20"]
    assert anchors("What is Brightwater Health's annual fee?") == ["brightwater health"]
    assert anchors("Who must approve an expense claim of EUR 5,000?") == []  # an amount is a parameter
    assert anchors("What is the CEO's salary?") == []  # acronyms are often spelled out
    assert anchor_share(["week 12"], "iso_week: 12; start_date: 2026-03-16") == 1.0
    # table questions (issue 24): two names joined by "and" are two anchors (each heads a column),
    # a word glued to digits is one identifier, and a value ("rated 4") is not a counted thing
    assert anchors("What is the response time on the Business and Enterprise tiers?") == ["business", "enterprise"]
    assert anchors("How fast must a Sev2 incident be acknowledged?") == ["sev2"]
    assert anchors("How many employees were rated 4 in 2025?") == ["2025"]
    assert anchors("Who works at the Bank of England?") == ["bank of england"]
    assert anchor_share(["week 12"], "iso_week: 1; start_date: 2025-12-29") == 0.0
