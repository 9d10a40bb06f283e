"""Turn the labelled sources into verifier pairs: training examples and held-out pairs.

Why a module of its own: which pair gets which label is the model's whole definition of
"answers" and "entailed", so the choices are written down once, here, and the model card
repeats them. Labels (entailment head): 0 entailed, 1 contradicted, 2 not stated. A HaluEval
hallucinated answer is *not entailed* without saying which way: its loss only pushes mass off
"entailed" (a partial label), because some contradict the knowledge and some add facts it never
states; SciFact's CONTRADICT pairs and non-evidence sentences teach the split between the two.

Hard negatives for answerability come from Tether's own embedder: the nearest other knowledge
passage of the same split that does not contain the right answer. Augmentations (derived from
the same sets, listed in the model card): a supported SciFact claim or a quoted evidence
sentence falsified by one rule of :mod:`tether.tune.perturb` (a number, an antonym, a negation)
becomes a contradiction; a sentence quoted against its own evidence is entailed; a short wrong
answer (the neighbour's answer, or the flipped yes/no) is not entailed; a neighbour's sentence
is not stated; the sentence holding the right answer answers the question.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tether.ground.verifier import claim_text
from tether.tune.perturb import falsify
from tether.tune.sources import Claim, LegalRow, QARow

ENTAILED, CONTRADICTED, NOT_STATED = 0, 1, 2
NOT_ENTAILED = (False, True, True)


@dataclass(frozen=True)
class Example:
    """One training pair. ``task`` is "answer" (label 0/1) or "nli" (label 0-2, or -1 with
    ``allowed`` naming the labels the loss may put mass on)."""

    task: str
    first: str
    second: str
    label: int
    source: str
    allowed: tuple[bool, bool, bool] = (True, True, True)


def _nli(first: str, second: str, label: int, source: str) -> Example:
    allowed = tuple(i == label for i in range(3))
    return Example("nli", first, second, label, source, allowed)  # type: ignore[arg-type]


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|(?<=[a-z0-9)][.!?])(?=[A-Z][a-z])")


def split_sentences(text: str) -> list[str]:
    """Sentences of a HaluEval knowledge text (its paragraphs are glued: "century.First ...")."""
    return [s.strip() for s in _SENT.split(text) if len(s.strip()) > 2]


def hard_negatives(knowledge: Sequence[str], answers: Sequence[str],
                   embed: Callable[[list[str]], np.ndarray]) -> list[int | None]:
    """For each row, the nearest other knowledge (cosine of the bundled embedder) that is a
    different text and does not contain the row's answer; None if the 20 nearest all fail."""
    if not knowledge:
        return []
    vecs = np.asarray(embed(list(knowledge)), dtype=np.float32)
    sims = vecs @ vecs.T
    out: list[int | None] = []
    normed = [norm(k) for k in knowledge]
    for i in range(len(knowledge)):
        sims[i, i] = -np.inf
        pick = None
        ans = norm(answers[i])
        for j in np.argsort(-sims[i], kind="stable")[:20]:
            j = int(j)
            if normed[j] == normed[i] or (ans not in ("yes", "no") and ans and ans in normed[j]):
                continue
            pick = j
            break
        out.append(pick)
    return out


def halueval_examples(rows: Sequence[QARow], neg: Sequence[int | None], seed: int) -> list[Example]:
    """Answerability and entailment pairs from HaluEval rows (``neg``: hard-negative row index)."""
    rng = random.Random(f"{seed}:halueval:examples")
    out: list[Example] = []
    for i, r in enumerate(rows):
        j = neg[i]
        other = rows[j] if j is not None else None
        out.append(Example("answer", r.question, r.knowledge, 1, "halueval"))
        if other is not None:
            out.append(Example("answer", r.question, other.knowledge, 0, "halueval"))
        out.append(_nli(claim_text(r.right, r.question), r.knowledge, ENTAILED, "halueval"))
        out.append(Example("nli", claim_text(r.hallucinated, r.question), r.knowledge, -1, "halueval", NOT_ENTAILED))
        sents = split_sentences(r.knowledge)
        ans = norm(r.right)
        holding = [s for s in sents if ans and ans in norm(s)]
        if i % 2 == 0 and holding:
            out.append(Example("answer", r.question, rng.choice(holding), 1, "halueval:sentence"))
            rest = [s for s in sents if s not in holding]
            if rest:
                out.append(Example("answer", r.question, rng.choice(rest), 0, "halueval:sentence"))
        if sents:
            quote = rng.choice(sents)
            if i % 2 == 1:
                out.append(_nli(quote, r.knowledge, ENTAILED, "halueval:quote"))
            edited = falsify(quote, rng)
            if edited:
                out.append(_nli(edited[1], r.knowledge, CONTRADICTED, f"halueval:falsified-{edited[0]}"))
        wrong = _wrong_answer(r, other)
        if wrong is not None and i % 3 == 0:
            label, text = wrong
            if label == CONTRADICTED:
                out.append(_nli(claim_text(text, r.question), r.knowledge, CONTRADICTED, "halueval:flip"))
            else:
                out.append(Example("nli", claim_text(text, r.question), r.knowledge, -1, "halueval:swap", NOT_ENTAILED))
        if other is not None and i % 3 == 1:
            theirs = split_sentences(other.knowledge)
            if theirs:
                out.append(_nli(rng.choice(theirs), r.knowledge, NOT_STATED, "halueval:neighbour"))
    return out


def _wrong_answer(r: QARow, other: QARow | None) -> tuple[int, str] | None:
    ans = norm(r.right)
    if ans in ("yes", "no"):
        return CONTRADICTED, "no" if ans == "yes" else "yes"
    if other is None:
        return None
    theirs = norm(other.right)
    if not theirs or theirs in ("yes", "no") or theirs in norm(r.knowledge) or ans in theirs:
        return None
    return -1, other.right


def evidence_text(claim: Claim, sentences: dict[str, list[str]]) -> str | None:
    """The gold evidence sentences of a SUPPORT/CONTRADICT claim, joined with one space."""
    sents = sentences.get(claim.doc)
    if not sents or not claim.evidence or any(i >= len(sents) for i in claim.evidence):
        return None
    return " ".join(sents[i] for i in claim.evidence)


def _overlap(a: str, b: str) -> int:
    return len(set(norm(a).split()) & set(norm(b).split()))


def scifact_examples(claims: Sequence[Claim], sentences: dict[str, list[str]], seed: int,
                     repeat: int = 1) -> list[Example]:
    """Entailment pairs: gold evidence -> entailed/contradicted; another sentence of the same
    abstract -> not stated; the closest sentence of a cited abstract of a no-evidence claim ->
    not stated; a supported claim or an evidence sentence falsified -> contradicted; an evidence
    sentence quoted -> entailed. The labelled pairs appear ``repeat`` times, augmentations once."""
    rng = random.Random(f"{seed}:scifact:examples")
    out: list[Example] = []
    for c in claims:
        if c.label in ("SUPPORT", "CONTRADICT"):
            ev = evidence_text(c, sentences)
            if ev is None:
                continue
            out += [_nli(c.text, ev, ENTAILED if c.label == "SUPPORT" else CONTRADICTED, "scifact")] * max(1, repeat)
            others = [s for k, s in enumerate(sentences[c.doc]) if k not in c.evidence]
            if others:
                out.append(_nli(c.text, rng.choice(others), NOT_STATED, "scifact:other-sentence"))
            if c.label == "SUPPORT":
                edited = falsify(c.text, rng)
                if edited:
                    out.append(_nli(edited[1], ev, CONTRADICTED, f"scifact:falsified-{edited[0]}"))
            quote = sentences[c.doc][rng.choice(c.evidence)]
            out.append(_nli(quote, ev, ENTAILED, "scifact:quote"))
            edited = falsify(quote, rng)
            if edited:
                out.append(_nli(edited[1], ev, CONTRADICTED, f"scifact:quote-falsified-{edited[0]}"))
        elif c.label == "":
            cands = [s for d in c.docs for s in sentences.get(d, [])]
            if cands:
                best = max(cands, key=lambda s: (_overlap(c.text, s), -len(s)))
                out.append(_nli(c.text, best, NOT_STATED, "scifact:no-evidence"))
    return out


def legal_examples(rows: Sequence[LegalRow], seed: int, negatives_every: int = 1) -> list[Example]:
    """Answerability pairs: Contracts ("Does the clause discuss X?") True -> answers, False ->
    does not. Consumer-Contracts questions are answered True *or* False by their own clause, so
    both labels mean "answers"; the question against another clause (for every
    ``negatives_every``-th row: the clauses are long) -> does not."""
    rng = random.Random(f"{seed}:legal:examples")
    out: list[Example] = []
    clauses = sorted({r.contract for r in rows if r.file.startswith("Consumer")})
    for k, r in enumerate(rows):
        if r.file == "Contracts.jsonl":
            out.append(Example("answer", r.question, r.contract, int(r.answers), "legal:contracts"))
            continue
        out.append(Example("answer", r.question, r.contract, 1, "legal:consumer"))
        pool = [c for c in clauses if c != r.contract]
        if pool and (negatives_every == 1 or k % negatives_every == 0):
            out.append(Example("answer", r.question, rng.choice(pool), 0, "legal:consumer"))
    return out
