"""The extractive generator with the shipped verifier: it quotes what answers the question, not
what is about its topic; it covers each part of a multi-part question; table rows and list
items stay whole (a row after its header); nothing under the floor is quoted; and without a
verifier it ranks by similarity exactly as before."""

from __future__ import annotations

import pytest
from ground.helpers import verifier_missing_reason

from tether.generate import ExtractiveGenerator, GenerationRequest
from tether.ground import ground_answer
from tether.ground.answerable import load_verifier
from tether.ground.focus import AnswerScorer
from tether.settings import AnswerabilityConfig
from tether.types import Passage

pytestmark = pytest.mark.skipif(verifier_missing_reason() is not None, reason=verifier_missing_reason() or "")

HANDBOOK = ("Leave\n\nEmployees accrue 25 days of annual leave per calendar year. Leave is requested in the HR "
            "system. The People Team publishes the holiday calendar each December. Up to 5 unused days may be "
            "carried over, and carried-over days must be used by 31 March.")
CONDUCT = ("Disciplinary procedure\n\nDisciplinary hearings are held within ten working days of the complaint. "
           "A first written warning stays on file for six months. Probation reviews take place at three months.")
BANDS = ("## Location factors\n\n| Office | Factor | Example: L4 midpoint |\n|---|---|---|\n"
         "| Dublin | 1.00 | EUR 84,000 |\n| Manchester | 0.92 | EUR 77,280 |\n| Lisbon | 0.72 | EUR 60,480 |\n")
TRAINING = ("Mandatory training\n\nComplete these courses within 30 days of joining:\n\n- Security awareness "
            "training (about 45 minutes).\n- Data protection and GDPR essentials (30 minutes).\n- Code of Conduct "
            "and anti-bribery (30 minutes).\n")


def _p(i: int, text: str, title: str) -> Passage:
    return Passage(i, i, 0, text, 0, len(text), title=title)


@pytest.fixture(scope="module")
def scorer() -> AnswerScorer:
    v = load_verifier(AnswerabilityConfig())
    assert v is not None
    return AnswerScorer(v)


def _ask(embedder, scorer, question: str, passages: list[Passage], **cfg) -> str:
    gen = ExtractiveGenerator(embedder, scorer=scorer, answerability=AnswerabilityConfig(**cfg))
    text = gen.generate(GenerationRequest(question, passages)).text
    assert "".join(gen.stream(GenerationRequest(question, passages))) == text
    if text:  # quotes are grounded by construction
        g = ground_answer(text, passages, embedder)
        assert g.sentences and all(s.verdict == "supported" for s in g.sentences), g.sentences
    return text


def test_nearby_text_that_does_not_answer_is_not_quoted(embedder, scorer):
    ps = [_p(1, CONDUCT, "Disciplinary procedure"), _p(2, HANDBOOK, "Leave")]
    q = "What is the notice period when an employee resigns?"
    assert ExtractiveGenerator(embedder).generate(GenerationRequest(q, ps)).text  # similarity quotes something
    assert _ask(embedder, scorer, q, ps) == ""  # the verifier finds nothing that answers: the run abstains


def test_every_part_of_a_multi_part_question_is_covered(embedder, scorer):
    ps = [_p(1, HANDBOOK, "Leave"), _p(2, CONDUCT, "Disciplinary procedure")]
    text = _ask(embedder, scorer, "How many days of annual leave do employees get, and how long does a first "
                                  "written warning stay on file?", ps)
    assert "25 days of annual leave" in text and "six months" in text
    assert "Disciplinary hearings" not in text


def test_a_table_row_is_quoted_whole_after_its_header(embedder, scorer):
    text = _ask(embedder, scorer, "What is the L4 midpoint salary in Lisbon?", [_p(1, BANDS, "Salary bands")])
    lines = text.splitlines()
    assert "| Lisbon | 0.72 | EUR 60,480 | [1]" in lines
    assert lines[0] == "| Office | Factor | Example: L4 midpoint | [1]"


def test_a_list_is_quoted_item_by_item_with_its_lead_in(embedder, scorer):
    text = _ask(embedder, scorer, "Which mandatory training courses must new starters complete within 30 days?",
                [_p(1, TRAINING, "Onboarding")])
    for course in ("Security awareness", "Data protection", "anti-bribery"):
        assert course in text
    assert "- Security awareness training (about 45 minutes). [1]" in text.splitlines()


def test_nothing_under_the_floor_is_quoted(embedder, scorer):
    ps = [_p(1, HANDBOOK, "Leave")]
    assert _ask(embedder, scorer, "How many days of annual leave do employees get?", ps)
    assert _ask(embedder, scorer, "How many days of annual leave do employees get?", ps, sentence_threshold=1.0) == ""


def test_without_a_verifier_the_similarity_ranking_is_unchanged(embedder):
    ps = [_p(1, HANDBOOK, "Leave"), _p(2, CONDUCT, "Disciplinary procedure")]
    req = GenerationRequest("How many days of annual leave do employees get?", ps)
    plain = ExtractiveGenerator(embedder)
    assert ExtractiveGenerator(embedder, scorer=lambda: None).generate(req).text == plain.generate(req).text
    assert plain.select_units(req) is None


BILLING = ("Billing\n\nAnnual plans are charged in full at the start of the subscription year. Monthly plans "
           "are charged on the same day each month. Invoices are sent by e-mail.")


class _YesScorer:
    """A verifier that finds every unit answers (what a weak one does near a topic)."""

    def scores(self, question: str, texts: list[str]) -> list[float]:
        return [0.9] * len(texts)


def test_quotes_that_name_too_little_of_the_question_are_not_an_answer(embedder):
    from tether.generate.focused import select_focused
    from tether.ground.focus import informative_terms, term_coverage

    ps = [_p(1, BILLING, "Billing"), _p(2, HANDBOOK, "Leave")]
    q = "When is the end-of-year deploy freeze?"
    # Whatever passes the floor is quoted with the rule off; quotes that name none of "deploy",
    # "freeze", "end-of-year" are no answer with it on.
    assert select_focused(q, ps, embedder, _YesScorer(), 0.5, min_coverage=0.0)
    assert select_focused(q, ps, embedder, _YesScorer(), 0.5, min_coverage=0.4) == []
    assert term_coverage(informative_terms(q), [BILLING, HANDBOOK]) == 0.0
    # words that only frame a question are not required of the answer
    assert informative_terms("How long do I get for annual leave?") == informative_terms("annual leave")
    picks = select_focused("How many days of annual leave do employees get?", ps, embedder, _YesScorer(), 0.5,
                           min_coverage=0.4)
    assert any("25 days" in p.cand.unit.text for p in picks)


def test_a_chunks_own_heading_is_context_not_a_quote(embedder):
    from tether.generate.focused import select_focused
    from tether.ground.focus import candidates

    head = "What happens when you exceed a limit"
    text = f"{head}\n\nThe API returns HTTP status 429 Too Many Requests with a Retry-After header."
    p = Passage(1, 1, 0, text, 0, len(text), title="API Rate Limits", section_path=("API Rate Limits", head))
    assert [c.unit.text for c in candidates([p])] == [text.split("\n\n")[1]]
    picks = select_focused("What happens when an integration exceeds its rate limit?", [p], embedder,
                           _YesScorer(), 0.5)
    assert [x.cand.unit.text for x in picks] == [text.split("\n\n")[1]]
    # the same line in a passage whose heading it is not stays quotable
    other = Passage(2, 2, 0, text, 0, len(text), title="Notes")
    assert any(c.unit.text == head for c in candidates([other]))
