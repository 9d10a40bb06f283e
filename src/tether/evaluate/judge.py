"""Optional LLM-as-judge, off by default and always labelled as such (``judge:*`` metrics).

The deterministic metrics in ``answers`` are the gate. A judge adds a second opinion on answer
correctness through the same provider layer as generation (any configured model name): it is
asked for one word, CORRECT or INCORRECT, comparing the answer with the reference. Judgements are
not reproducible across models, so they are never compared against a baseline.
"""

from __future__ import annotations

from tether.generate.base import GenerationRequest
from tether.types import Passage

PROMPT = (
    "You grade answers. Reply with one word: CORRECT if the ANSWER states the facts of the REFERENCE "
    "without contradicting them, otherwise INCORRECT.\nQUESTION: {q}\nREFERENCE: {ref}\nANSWER: {ans}"
)


class LlmJudge:
    label = "judge:correct"

    def __init__(self, generator) -> None:
        self.generator = generator

    def judge(self, question: str, reference: str, answer: str) -> float | None:
        if not reference or not answer:
            return None
        ref = Passage(chunk_id=0, document_id=0, ordinal=0, text=reference, char_start=0, char_end=len(reference))
        gen = self.generator.generate(GenerationRequest(PROMPT.format(q=question, ref=reference, ans=answer),
                                                        passages=[ref], max_tokens=4))
        word = gen.text.strip().upper()
        return 1.0 if word.startswith("CORRECT") else 0.0 if word.startswith("INCORRECT") else None
