"""The guard stages of the answer path, as the engine calls them.

- ``check_question``: injection/abuse checks on the user's question (input stage).
- ``screen_passages``: indirect-injection check of the passages about to enter a prompt
  (context stage); chunks flagged at ingest are already quarantined and never retrieved, this
  catches what the ingest scan could not (policy changes, older documents).
- ``screen_answer``: PII and secrets policy on what leaves (output stage), chosen by the most
  restrictive classification among the documents behind the answer.
"""

from __future__ import annotations

from dataclasses import replace

from tether.guard.base import GuardResult, GuardSettings, Verdict
from tether.guard.injection import InjectionGuard
from tether.guard.pii import PiiGuard, entities_within
from tether.types import Answer, Passage

#: From least to most restrictive; unknown labels rank as the most restrictive.
CLASSIFICATION_ORDER = ("public", "internal", "confidential", "restricted")
BLOCKED_TEXT = "This request was blocked by policy."
WITHHELD_TEXT = "The answer was withheld because it would disclose protected information."


def most_restrictive(labels: list[str]) -> str | None:
    if not labels:
        return None
    rank = {c: i for i, c in enumerate(CLASSIFICATION_ORDER)}
    return max(labels, key=lambda c: rank.get(c, len(CLASSIFICATION_ORDER)))


def check_question(question: str, settings: GuardSettings) -> GuardResult:
    return InjectionGuard(settings, "input").check(question)


def screen_passages(passages: list[Passage], settings: GuardSettings) -> tuple[list[Passage], list[dict]]:
    """Drop passages the context guard blocks; return (kept, dropped-with-reasons)."""
    if not passages:
        return passages, []
    # the classifier already saw every chunk at ingest; at answer time the cheap rules re-check
    fast = settings.model_copy(update={"injection_mode": "heuristics"})
    results = InjectionGuard(fast, "context").check_many([p.text for p in passages])
    kept, dropped = [], []
    for p, r in zip(passages, results):
        if r.verdict is Verdict.ALLOW or r.verdict is Verdict.FLAG:
            kept.append(p)
        else:
            dropped.append({"chunk_id": p.chunk_id, "reason": "injection", "details": r.reasons})
    return kept, dropped


def screen_answer(answer: Answer, classification: str | None, settings: GuardSettings) -> tuple[Answer, GuardResult]:
    """Apply the output policy to the answer text and the quotes of its citations."""
    if answer.abstained:
        return answer, GuardResult(Verdict.ALLOW)
    guard = PiiGuard(settings, classification)
    result = guard.check(answer.text)
    if result.verdict is Verdict.BLOCK:
        return replace(answer, text=WITHHELD_TEXT, citations=[], sentences=[], abstained=True,
                       escalate=True, reasons=[*answer.reasons, "blocked:pii"]), result
    if result.verdict is Verdict.SANITISE and result.sanitised_text is not None:
        def clean(text: str) -> str:
            # a copy of part of the answer (its sentences, a quote it repeats verbatim) gets the
            # answer's own findings for that part; anything else is analysed on its own
            at = answer.text.find(text) if text else -1
            found = entities_within(result.entities, at, at + len(text)) if at >= 0 else None
            r = guard.check(text, found)
            if r.verdict is Verdict.BLOCK:
                return WITHHELD_TEXT
            return r.sanitised_text if r.sanitised_text is not None else text

        citations = [replace(c, quote=clean(c.quote)) for c in answer.citations]
        # every copy of the text leaves redacted: each sentence and the quotes it cites
        sentences = [replace(v, text=clean(v.text), citations=tuple(replace(c, quote=clean(c.quote))
                                                                       for c in v.citations))
                     for v in answer.sentences]
        return replace(answer, text=result.sanitised_text, citations=citations, sentences=sentences,
                       reasons=[*answer.reasons, "redacted:pii"]), result
    return answer, result


def blocked_answer(result: GuardResult, model: str = "") -> Answer:
    return Answer(text=BLOCKED_TEXT, abstained=True, escalate=False, model=model,
                  reasons=["blocked:injection", *result.reasons])
