"""Answerability: do the passages the asker may read answer the question at all?

Why: retrieval always finds *something* near a question, and quoting it faithfully is not the
same as answering. "What is the notice period when an employee resigns?" retrieves the
disciplinary and probation sections; every quote is true and none answers. Before anything is
generated, the verifier (:mod:`tether.ground.verifier`) scores (question, unit) for the
shortlisted units of the packed passages (sentences, list items, table rows with their header:
:mod:`tether.ground.focus`); when the best P(answers) is under the calibrated threshold the
answer path abstains with the one "not found in the documents you can access" answer. So it
does when no readable passage names what the question is specifically about (an identifier such
as "L8", a year, a name such as "Mars", a counted thing such as "week 20": the verifier reads
topic well and such details poorly). And so it
does when a word the question hinges on ("dog", "resign") occurs in no chunk the asker may
read at all (:mod:`tether.retrieve.vocabulary`). Units, not whole passages: a passage is
mostly about its topic, and a whole-passage score measured
that (on the demo golden set it told unanswerable from answerable questions far worse).

The gate only ever sees passages retrieved inside the asker's permissions, so its decision (and
the scores it records, keyed by chunk id, no text) is the same whether the answer sits in a
document the asker may not read or in no document at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tether.embed.base import Embedder
from tether.ground import focus
from tether.ground.focus import AnswerScorer
from tether.ground.verifier import MODEL_FILE, Verifier, default_path
from tether.settings import AnswerabilityConfig
from tether.types import Passage

log = logging.getLogger(__name__)

ANSWERABLE, NOT_ANSWERABLE = "answerable", "not_answerable"


@dataclass(frozen=True)
class Answerability:
    """The gate's decision for one question (what the ``answerable`` span records)."""

    score: float  # the best P(answers) over the passages (0.0 without passages)
    threshold: float
    decision: str  # ANSWERABLE | NOT_ANSWERABLE
    scores: dict[str, float] = field(default_factory=dict)  # chunk id -> P(answers)
    #: Anchors of the question (ground/focus.py) that no readable passage names.
    anchors_missing: int = 0
    #: Words the question hinges on that no chunk the asker may read contains
    #: (:func:`tether.retrieve.vocabulary.unseen_words`); a count, never the words.
    words_unseen: int = 0

    @property
    def answerable(self) -> bool:
        return self.decision == ANSWERABLE

    def summary(self) -> dict:
        return {"score": round(self.score, 4), "threshold": round(self.threshold, 4), "decision": self.decision,
                "anchors_missing": self.anchors_missing, "words_unseen": self.words_unseen}

    def to_attrs(self) -> dict:
        """The ``answerable`` span's attributes: per-passage scores by chunk id, never text."""
        return {**self.summary(), "scores": {k: round(v, 4) for k, v in self.scores.items()}}


def load_verifier(cfg: AnswerabilityConfig, *, threads: int = 2) -> Verifier | None:
    """The verifier named by ``cfg.model_path``, or the shipped one. A missing shipped model is
    not an error (the answer path then works as it did before the verifier: no gate, similarity
    ranking, no entailment check; logged once); a configured path that holds no model is."""
    if cfg.model_path:
        return Verifier.load(Path(cfg.model_path), threads=threads)
    if not (default_path() / MODEL_FILE).is_file():
        log.warning("no verifier model is shipped at %s: answerability gate and entailment checks are off",
                    default_path())
        return None
    return Verifier.load(None, threads=threads)


def answer_threshold(cfg: AnswerabilityConfig, verifier: Verifier) -> float:
    """The gate's threshold: the configured one, else the model's calibrated ``answers`` one."""
    return float(cfg.threshold) if cfg.threshold is not None else verifier.thresholds.answers


def sentence_threshold(cfg: AnswerabilityConfig, verifier: Verifier) -> float:
    """The floor for an extractive quote (configured, else the model's ``answers`` threshold)."""
    return float(cfg.sentence_threshold) if cfg.sentence_threshold is not None else verifier.thresholds.answers


def assess(scorer: AnswerScorer, embedder: Embedder, question: str, passages: Sequence[Passage],
           threshold: float, *, shortlist_size: int = 6, require_anchors: bool = True,
           unseen: Sequence[str] = (), topic_words: int = 0, min_unseen_share: float = 0.0) -> Answerability:
    """Score the shortlisted units of ``passages`` (:mod:`tether.ground.focus`) against
    ``question``; answerable iff the best P(answers) reaches ``threshold``, the words of
    ``unseen`` (those of the question's ``topic_words`` no readable chunk contains) are under
    ``min_unseen_share`` of them (one unseen word of four is what the question is about; one of
    eight is more often a paraphrase: "band" for "amount") and, with
    ``require_anchors``, every anchor of the question is named by some passage. A passage's
    score is that of its best unit read (every passage has at least one read)."""
    cands = focus.candidates(passages)
    if not cands:
        return Answerability(0.0, threshold, NOT_ANSWERABLE, {}, words_unseen=len(unseen))
    sims, _ = focus.similarity(embedder, question, cands)
    picked = focus.shortlist(cands, sims, shortlist_size)
    scores = scorer.scores(question, [focus.verifier_text(cands[i]) for i in picked])
    by_chunk: dict[str, float] = {}
    for i, s in zip(picked, scores):
        key = str(cands[i].passage.chunk_id)
        by_chunk[key] = max(s, by_chunk.get(key, 0.0))
    best = max(scores)
    missing = 0
    if require_anchors:
        readable = " ".join(f"{p.title} {' '.join(p.section_path)} {p.text}" for p in passages)
        missing = sum(focus.anchor_share([a], readable) == 0.0 for a in focus.anchors(question))
    unseen_hit = min_unseen_share > 0 and bool(unseen) and len(unseen) >= min_unseen_share * max(1, topic_words)
    ok = best >= threshold and not missing and not unseen_hit
    return Answerability(best, threshold, ANSWERABLE if ok else NOT_ANSWERABLE, by_chunk, missing, len(unseen))


__all__ = ["ANSWERABLE", "NOT_ANSWERABLE", "Answerability", "answer_threshold", "assess", "load_verifier",
           "sentence_threshold"]
