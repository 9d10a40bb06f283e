"""The output stage redacts every copy of an answer's text: the answer, each sentence, and the
quotes of every citation (top-level and per sentence), so no field of the response (or of a
cached answer) carries the raw PII."""

from __future__ import annotations

from tether.guard.stages import screen_answer
from tether.settings import GuardSettings
from tether.types import Answer, Citation, SentenceVerdict

EMAIL = "marta.silva@corvane.example"
PHONE = "+351 912 345 678"


def test_sanitised_answer_has_no_raw_pii_anywhere():
    text = f"Contact Marta at {EMAIL} or {PHONE}. [1]"
    cite = Citation(number=1, chunk_id=1, document_id=1, title="HR contacts", doc_start=0, doc_end=len(text),
                    quote=f"Marta Silva, {EMAIL}, {PHONE}")
    sentence = SentenceVerdict(index=0, text=text, start=0, end=len(text), verdict="supported", score=1.0,
                               citations=(cite,), cited_numbers=(1,))
    ans = Answer(text=text, citations=[cite], sentences=[sentence])
    out, verdict = screen_answer(ans, "confidential", GuardSettings())
    assert verdict.verdict.value == "sanitise"
    dumped = repr(out.to_dict())
    assert EMAIL not in dumped and "912 345 678" not in dumped
    assert out.sentences[0].text != text and out.sentences[0].citations[0].quote != cite.quote
    assert "redacted:pii" in out.reasons


def test_copies_of_answer_text_reuse_its_findings_and_other_quotes_are_analysed(monkeypatch):
    """A sentence that is a slice of the answer is redacted with the answer's own findings (one
    analysis per answer, not one per copy); a quote that is not in the answer is analysed."""
    from tether.guard import pii

    first = f"Write to {EMAIL} for leave questions."
    second = "Leave requests go through the HR portal."
    text = f"{first} [1] {second} [1]"
    other_email = "joao.reis@corvane.example"
    quote = f"Joao Reis ({other_email}) approves leave."
    cite = Citation(number=1, chunk_id=1, document_id=1, title="HR", doc_start=0, doc_end=10, quote=quote)
    sentences = [SentenceVerdict(index=i, text=s, start=text.index(s), end=text.index(s) + len(s),
                                 verdict="supported", score=1.0, citations=(cite,), cited_numbers=(1,))
                 for i, s in enumerate((first, second))]
    analysed: list[str] = []
    real = pii.PiiDetector.detect

    def counting(self, t):
        analysed.append(t)
        return real(self, t)

    monkeypatch.setattr(pii.PiiDetector, "detect", counting)
    out, verdict = screen_answer(Answer(text=text, citations=[cite], sentences=sentences), "confidential",
                                 GuardSettings())
    assert verdict.verdict.value == "sanitise"
    assert analysed.count(text) == 1 and first not in analysed and second not in analysed
    assert quote in analysed  # not a copy of the answer: analysed on its own
    assert out.sentences[0].text == "Write to [EMAIL] for leave questions."
    assert out.sentences[1].text == second
    dumped = repr(out.to_dict())
    assert EMAIL not in dumped and other_email not in dumped


def test_entities_within_clips_and_rebases():
    from tether.guard.base import Entity
    from tether.guard.pii import entities_within

    ents = [Entity("EMAIL_ADDRESS", 5, 15, 1.0), Entity("PERSON", 18, 30, 0.8), Entity("PHONE_NUMBER", 40, 50, 0.9)]
    got = entities_within(ents, 10, 25)
    assert [(e.type, e.start, e.end) for e in got] == [("EMAIL_ADDRESS", 0, 5), ("PERSON", 8, 15)]
