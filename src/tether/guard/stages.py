"""The guard stages of the answer path, composed once (:class:`AnswerGuards`) from the guards
registered for each stage (:mod:`tether.guard.pipeline`).

- ``input``: injection/abuse checks on the user's question.
- ``context``: indirect-injection check of the passages about to enter a prompt; chunks flagged
  at ingest are already quarantined and never retrieved, this catches what the ingest scan could
  not (policy changes, older documents). The classifier saw every chunk at ingest, so at answer
  time the cheap rules re-check.
- ``tool``: injection check of what a tool returns to the research mode (an MCP tool's result,
  a fetched page): a flagged result is neutralised (``guard.tool_action``), never obeyed.
- ``output``: PII and secrets policy on what leaves, chosen by the most restrictive
  classification among the documents behind the answer. Every copy of source or answer text
  leaves screened: the answer text, each sentence, and every citation quote.

With only the built-in guards, reasons are the guard's own (``injection``, ``policy:redact``);
once a stage runs several guards they are prefixed by the guard's name.
"""

from __future__ import annotations

from dataclasses import replace

from tether.guard.base import GuardResult, Stage, Verdict
from tether.guard.media import defang
from tether.guard.pipeline import GuardPipeline, build_pipeline, registered, stage_label
from tether.settings import GuardSettings
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


class AnswerGuards:
    """The three guard stages of one answer, as the answer pipeline calls them."""

    def __init__(self, settings: GuardSettings) -> None:
        self.settings = settings

    @property
    def _context_settings(self) -> GuardSettings:
        return self.settings.model_copy(update={"injection_mode": "heuristics"})

    def _pipeline(self, stage: Stage, settings: GuardSettings, classification: str | None = None) -> GuardPipeline:
        return build_pipeline(stage, settings, classification, prefix=len(registered(stage)) > 1)

    def label(self, stage: Stage) -> str:
        """The stage's name in spans and the usage ledger."""
        return stage_label(stage, self._context_settings if stage == "context" else self.settings)

    def input(self, question: str) -> GuardResult:
        return self._pipeline("input", self.settings).check(question)

    def context(self, passages: list[Passage]) -> tuple[list[Passage], list[dict]]:
        """Drop passages the context stage blocks; return (kept, dropped-with-reasons)."""
        if not passages:
            return passages, []
        results = self._pipeline("context", self._context_settings).check_many([p.text for p in passages])
        kept, dropped = [], []
        for p, r in zip(passages, results):
            if r.verdict is Verdict.ALLOW or r.verdict is Verdict.FLAG:
                kept.append(p)
            else:
                dropped.append({"chunk_id": p.chunk_id, "reason": "injection", "details": r.reasons})
        return kept, dropped

    def tool(self, results: list[str]) -> list[GuardResult]:
        """The ``tool`` stage's verdict on each tool result (a SANITISE carries the neutralised
        text to pass on instead; a BLOCK means the result must not reach the model)."""
        return self._pipeline("tool", self.settings).check_many(results) if results else []

    def output(self, answer: Answer, classification: str | None) -> tuple[Answer, GuardResult]:
        """Apply the output policy to the answer text, each sentence and every citation quote,
        then take out remote images, loading HTML and data-carrying links (:mod:`media`)."""
        answer, result = self._policy(answer, classification)
        return _defanged(answer), result

    def _policy(self, answer: Answer, classification: str | None) -> tuple[Answer, GuardResult]:
        if answer.abstained:
            return answer, GuardResult(Verdict.ALLOW)
        pipe = self._pipeline("output", self.settings, classification)
        whole = pipe.run(answer.text)
        result = whole.result
        if result.verdict is Verdict.BLOCK:
            return replace(answer, text=WITHHELD_TEXT, citations=[], sentences=[], abstained=True,
                           escalate=True, reasons=[*answer.reasons, "blocked:pii"]), result
        seen: dict[str, str] = {}
        changed: list[GuardResult] = []

        def clean(text: str) -> str:
            # a copy of part of the answer (its sentences, a quote it repeats verbatim) gets the
            # answer's own findings for that part; anything else is analysed on its own
            if text not in seen:
                r = pipe.check_copy(text, whole)
                seen[text] = (WITHHELD_TEXT if r.verdict is Verdict.BLOCK
                              else r.sanitised_text if r.sanitised_text is not None else text)
                if seen[text] != text:
                    changed.append(r)
            return seen[text]

        citations = [replace(c, quote=clean(c.quote)) for c in answer.citations]
        sentences = [replace(v, text=clean(v.text), citations=tuple(replace(c, quote=clean(c.quote))
                                                                       for c in v.citations))
                     for v in answer.sentences]
        if result.verdict is Verdict.SANITISE and result.sanitised_text is not None:
            return replace(answer, text=result.sanitised_text, citations=citations, sentences=sentences,
                           reasons=[*answer.reasons, "redacted:pii"]), result
        if changed:  # the text may go out as it is, but a quote carried what the policy removes
            reasons = list(dict.fromkeys([*result.reasons, *(x for r in changed for x in r.reasons)]))
            quotes = GuardResult(Verdict.SANITISE, max([result.score, *(r.score for r in changed)]), reasons,
                                 [*result.entities])
            return replace(answer, citations=citations, sentences=sentences,
                           reasons=[*answer.reasons, "redacted:pii"]), quotes
        return answer, result


    def texts(self, texts: list[str], classification: str | None) -> list[str]:
        """Each text as the output stage lets it leave, analysed on its own (the parts of a live
        answer that are shown before the whole answer exists)."""
        pipe = self._pipeline("output", self.settings, classification)
        out = []
        for text in texts:
            r = pipe.check(text) if text else None
            out.append(text if r is None else WITHHELD_TEXT if r.verdict is Verdict.BLOCK
                       else r.sanitised_text if r.sanitised_text is not None else text)
        return [defang(t)[0] for t in out]


def _defanged(answer: Answer) -> Answer:
    """``answer`` with :func:`tether.guard.media.defang` applied to its text, sentences and quotes."""
    changed: list[str] = []

    def safe(text: str) -> str:
        out, reasons = defang(text)
        changed.extend(reasons)
        return out

    citations = [replace(c, quote=safe(c.quote)) for c in answer.citations]
    sentences = [replace(v, text=safe(v.text), citations=tuple(replace(c, quote=safe(c.quote)) for c in v.citations))
                 for v in answer.sentences]
    text = safe(answer.text)
    if not changed:
        return answer
    return replace(answer, text=text, citations=citations, sentences=sentences,
                   reasons=[*answer.reasons, *dict.fromkeys(f"sanitised:{r}" for r in changed)])


def check_question(question: str, settings: GuardSettings) -> GuardResult:
    return AnswerGuards(settings).input(question)


def screen_passages(passages: list[Passage], settings: GuardSettings) -> tuple[list[Passage], list[dict]]:
    """Drop passages the context guard blocks; return (kept, dropped-with-reasons)."""
    return AnswerGuards(settings).context(passages)


def screen_tool_results(results: list[str], settings: GuardSettings) -> list[GuardResult]:
    """The ``tool`` stage on each tool result (see :meth:`AnswerGuards.tool`)."""
    return AnswerGuards(settings).tool(results)


def screen_answer(answer: Answer, classification: str | None, settings: GuardSettings) -> tuple[Answer, GuardResult]:
    """Apply the output policy to the answer text, its sentences and the quotes of its citations."""
    return AnswerGuards(settings).output(answer, classification)


def blocked_answer(result: GuardResult, model: str = "") -> Answer:
    return Answer(text=BLOCKED_TEXT, abstained=True, escalate=False, model=model,
                  reasons=["blocked:injection", *result.reasons])
