"""The output stage redacts every copy of an answer's text: the answer, each sentence, and the
quotes of every citation (top-level and per sentence), so no field of the response (or of a
cached answer) carries the raw PII."""

from __future__ import annotations

from tether.guard.base import GuardSettings
from tether.guard.stages import screen_answer
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
