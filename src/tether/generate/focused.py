"""Question-focused selection for the extractive generator: the units that answer, not the
units that are about the topic.

Why: ranking by similarity alone quoted three true sentences about disciplinary hearings for
"What is the notice period when an employee resigns?". Here every candidate unit (a sentence,
or a list item, table row or data record kept whole: :mod:`tether.text.units`) on the shortlist
gets the verifier's P(answers) for the question, blended with the similarity score (which counts
the question's anchors the unit names, "week 12": :func:`tether.ground.focus.similarity`), and:

1. a unit whose P(answers) is below the floor (``ground.answerability.sentence_threshold``) is
   never quoted; when none passes, nothing is (the answer path abstains);
2. the best unit for the whole question is quoted, then the best for each part of a multi-part
   question (:func:`tether.ground.focus.question_parts`) that the chosen units do not cover yet;
3. units close to the best (``relative_score``); for a chosen list item or table row, the other
   items or rows of its list or table that pass the floor and come close (``sibling_score``);
   for a chosen lead-in ("Complete these courses within 30 days:"), its list; up to ``max_units``;
4. question terms no chosen unit names ("headcount" in "the targets for closing ARR and
   headcount") are looked for in the closest units that name them, and the best one that
   passes the floor is quoted (``completions``);
5. a table row is preceded by its table's header row, so the quote can be read alone;
6. when the chosen units (with their titles and headings) name less than ``min_coverage`` of
   the question's informative terms (:func:`tether.ground.focus.informative_terms`), nothing is
   quoted: "When is the end-of-year deploy freeze?" answered with a billing sentence the verifier
   scored over its floor is an answer to another question.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tether.embed.base import Embedder
from tether.ground.analysis import terms
from tether.ground.focus import (
    AnswerScorer,
    Candidate,
    anchor_share,
    anchors,
    candidates,
    informative_terms,
    lead_in_items,
    question_parts,
    shortlist,
    similarity,
    term_coverage,
    verifier_text,
)


@dataclass(frozen=True)
class FocusConfig:
    #: Weight of P(answers) in the blended rank (the rest: similarity).
    answer_weight: float = 0.7
    #: Added for the share of the question's anchors ("week 12") the unit names: the verifier
    #: reads topic well and such details poorly, and rows of a rota all look alike to it.
    anchor_weight: float = 0.2
    #: Units the verifier reads for the whole question, and for each part of a multi-part one.
    shortlist: int = 6
    part_shortlist: int = 3
    max_units: int = 8
    #: Further units must reach this share of the best blended score.
    relative_score: float = 0.9
    #: A unit this similar (cosine) to a chosen one is redundant.
    redundancy: float = 0.9
    #: Rows or items of one table or list read for completeness, at most; one is quoted when it
    #: passes the floor and reaches this share of the best blended score.
    max_siblings: int = 6
    sibling_score: float = 0.85
    #: Units added for question terms the chosen ones do not name, at most, and units read by
    #: the verifier to find each.
    completions: int = 2
    completion_reads: int = 3


@dataclass(frozen=True)
class Pick:
    cand: Candidate
    score: float  # blended
    answers: float  # P(answers)


def select_focused(question: str, passages: list, embedder: Embedder, scorer: AnswerScorer, floor: float,
                   cfg: FocusConfig | None = None, min_coverage: float = 0.0) -> list[Pick]:
    """The units to quote, in source order (empty: nothing answers the question)."""
    cfg = cfg or FocusConfig()
    cands = candidates(passages)
    if not cands or not question.strip():
        return []
    sims, vecs = similarity(embedder, question, cands)
    short = shortlist(cands, sims, cfg.shortlist)
    ans = dict(zip(short, scorer.scores(question, [verifier_text(cands[i]) for i in short])))
    w = cfg.answer_weight
    wanted = anchors(question)
    named = [anchor_share(wanted, verifier_text(c)) if wanted else 0.0 for c in cands]

    def blend(i: int, a: float, sim: np.ndarray = sims) -> float:
        return w * a + (1 - w) * float(sim[i]) + cfg.anchor_weight * named[i]

    eligible = [i for i in short if ans[i] >= floor]
    if not eligible:
        return []
    best = max(eligible, key=lambda i: blend(i, ans[i]))
    chosen = [best]
    qualified: dict[int, float] = {}  # P(answers) a unit passed the floor with (its part's, for a part)

    def redundant(i: int) -> bool:
        return any(float(vecs[i] @ vecs[j]) >= cfg.redundancy for j in chosen)

    parts = question_parts(question)
    if len(parts) > 1:
        for part in parts:
            psims, _ = similarity(embedder, part, cands)  # the part's best units not chosen yet
            pshort = [int(i) for i in np.argsort(-psims, kind="stable") if int(i) not in chosen][: cfg.part_shortlist]
            pans = scorer.scores(part, [verifier_text(cands[i]) for i in pshort])
            ok = [(blend(i, a, psims), i, a) for i, a in zip(pshort, pans) if a >= floor]
            if ok:
                _, top, a = max(ok)
                if top not in chosen and not redundant(top):
                    chosen.append(top)
                    qualified[top] = a
    top_score = blend(best, ans[best])
    for i in sorted(eligible, key=lambda i: -blend(i, ans[i])):
        if len(chosen) >= cfg.max_units:
            break
        if i not in chosen and blend(i, ans[i]) >= cfg.relative_score * top_score and not redundant(i):
            chosen.append(i)
    _add_siblings(question, cands, chosen, ans, scorer, floor, cfg, redundant,
                  lambda i: blend(i, ans[i]) >= cfg.sibling_score * top_score, sims)
    _complete_terms(question, cands, chosen, ans, scorer, floor, cfg, redundant, sims)
    chosen = chosen[: cfg.max_units]
    picks = [Pick(cands[i], blend(i, ans.get(i, 0.0)), qualified.get(i, ans.get(i, 0.0))) for i in chosen]
    picks = [p for p in picks if p.answers >= floor]  # nothing under the floor is ever quoted
    if min_coverage > 0 and picks and term_coverage(
            informative_terms(question), [verifier_text(p.cand) for p in picks]) < min_coverage:
        return []
    return sorted(picks, key=lambda p: p.cand.key)


def _complete_terms(question: str, cands: list[Candidate], chosen: list[int], ans: dict[int, float],
                    scorer: AnswerScorer, floor: float, cfg: FocusConfig, redundant,  # noqa: ANN001
                    sims: np.ndarray) -> None:
    """Terms of the question no chosen unit names ("headcount" in "targets for closing ARR and
    headcount" answered with the ARR sentence alone): the closest units that name them are read
    by the verifier, and the best that passes the floor is quoted, until every term is named or
    ``cfg.completions`` units were added."""
    missing = informative_terms(question) - _named(cands, chosen)
    for _ in range(cfg.completions):
        if not missing or len(chosen) >= cfg.max_units:
            return
        naming = [i for i in np.argsort(-sims, kind="stable") if int(i) not in chosen
                  and missing & terms(_unit_words(cands[int(i)]))][: cfg.completion_reads]
        todo = [int(i) for i in naming if int(i) not in ans]
        for i, a in zip(todo, scorer.scores(question, [verifier_text(cands[i]) for i in todo])):
            ans[i] = a
        ok = [int(i) for i in naming if ans[int(i)] >= floor and not redundant(int(i))]
        if not ok:
            return
        best = max(ok, key=lambda i: (len(missing & terms(_unit_words(cands[i]))), ans[i]))
        chosen.append(best)
        missing -= terms(_unit_words(cands[best]))


def _unit_words(c: Candidate) -> str:
    return f"{c.unit.context} {c.unit.text}"


def _named(cands: list[Candidate], chosen: list[int]) -> set[str]:
    have: set[str] = set()
    for i in chosen:
        have |= terms(verifier_text(cands[i]))
    return have


def _add_siblings(question: str, cands: list[Candidate], chosen: list[int], ans: dict[int, float],
                  scorer: AnswerScorer, floor: float, cfg: FocusConfig, redundant, close,  # noqa: ANN001
                  sims: np.ndarray) -> None:
    """The other rows or items of a chosen row's table or item's list, and the items of a chosen
    lead-in's list ("... within 30 days of joining:"), when they pass the floor too."""
    items = [j for i in list(chosen) for j in lead_in_items(cands, i) if j not in chosen][: cfg.max_siblings]
    todo = [j for j in items if j not in ans]
    for j, a in zip(todo, scorer.scores(question, [verifier_text(cands[j]) for j in todo])):
        ans[j] = a
    for j in items:
        if len(chosen) < cfg.max_units and ans[j] >= floor:
            chosen.append(j)
    blocks = {(cands[i].number, cands[i].unit.block) for i in chosen if cands[i].unit.block >= 0}
    for number, block in sorted(blocks):
        sib = [i for i, c in enumerate(cands) if c.number == number and c.unit.block == block and i not in chosen]
        sib = sorted(sorted(sib, key=lambda i: -float(sims[i]))[: cfg.max_siblings])  # the closest, in order
        todo = [i for i in sib if i not in ans]
        for i, a in zip(todo, scorer.scores(question, [verifier_text(cands[i]) for i in todo])):
            ans[i] = a
        for i in sib:
            if len(chosen) >= cfg.max_units:
                return
            if ans[i] >= floor and close(i) and not redundant(i):
                chosen.append(i)
