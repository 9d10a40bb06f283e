"""Held-out figures of a verifier, and the thresholds calibrated on the calibration slices.

Why one module: the model card, the int8-vs-fp32 decision and ``bench/verifier.py`` must
report the same numbers from the same pairs, so the pairs (per source and split) and the
metrics are built here, on numpy and the ONNX runtime only (no torch).

Verdict sets: positives are the pairs the checker must flag (SciFact CONTRADICT claims against
their gold evidence sentences; HaluEval hallucinated answers against their knowledge), scored
by P(entailed), flagged below the threshold. Answer sets: HaluEval question vs its own
knowledge (answers) or the mined hard negative (does not); legal pairs as in
:func:`tether.tune.examples.legal_examples`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tether.ground.verifier import LABELS, Verifier
from tether.tune.examples import evidence_text, hard_negatives, legal_examples
from tether.tune.sources import Sources, subsample

RECALL_TARGET = 0.90
CALIB_RECALL = 0.92  # a margin over the bar: the calibration slices are small
ANSWER_RECALL = 0.95  # at most 5% of answerable pairs wrongly judged unanswerable


@dataclass
class VerdictSet:
    claims: list[str]
    evidences: list[str]
    questions: list[str | None]
    flag: list[int]  # 1 = must be flagged (contradicted / hallucinated)
    nli: list[int]  # gold 3-way label where known (0 entailed, 1 contradicted, 2 not stated), -1 unknown


@dataclass
class AnswerSet:
    questions: list[str]
    passages: list[str]
    answers: list[int]


def verdict_sets(src: Sources, split: str, halueval_rows: int | None = None) -> dict[str, VerdictSet]:
    out: dict[str, VerdictSet] = {}
    sf = VerdictSet([], [], [], [], [])
    for c in src.scifact[split]:
        ev = evidence_text(c, src.sentences) if c.label in ("SUPPORT", "CONTRADICT") else None
        if ev is None:
            continue
        bad = int(c.label == "CONTRADICT")
        sf.claims.append(c.text)
        sf.evidences.append(ev)
        sf.questions.append(None)
        sf.flag.append(bad)
        sf.nli.append(bad)
    out["scifact"] = sf
    he = VerdictSet([], [], [], [], [])
    for r in subsample(src.halueval[split], halueval_rows, src.seed, f"eval:{split}"):
        for text, bad in ((r.right, 0), (r.hallucinated, 1)):
            he.claims.append(text)
            he.evidences.append(r.knowledge)
            he.questions.append(r.question)
            he.flag.append(bad)
            he.nli.append(0 if not bad else -1)
    out["halueval"] = he
    return out


def answer_sets(
    src: Sources, split: str, embed: Callable[[list[str]], np.ndarray], halueval_rows: int | None = None
) -> dict[str, AnswerSet]:
    out: dict[str, AnswerSet] = {}
    rows = subsample(src.halueval[split], halueval_rows, src.seed, f"eval:{split}")
    neg = hard_negatives([r.knowledge for r in rows], [r.right for r in rows], embed)
    he = AnswerSet([], [], [])
    for r, j in zip(rows, neg):
        pairs = [(r.knowledge, 1)] + ([(rows[j].knowledge, 0)] if j is not None else [])
        for passage, label in pairs:
            he.questions.append(r.question)
            he.passages.append(passage)
            he.answers.append(label)
    out["halueval"] = he
    for name in ("legal:contracts", "legal:consumer"):
        ex = [e for e in legal_examples(src.legal[split], src.seed) if e.source == name]
        out[name] = AnswerSet([e.first for e in ex], [e.second for e in ex], [e.label for e in ex])
    return out


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """ROC AUC (probability a random positive outscores a random negative; ties count half)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(allv):  # average ranks over ties
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def prf(flagged: Sequence[bool], labels: Sequence[int]) -> dict[str, float]:
    tp = sum(1 for f, y in zip(flagged, labels) if f and y)
    fp = sum(1 for f, y in zip(flagged, labels) if f and not y)
    fn = sum(1 for f, y in zip(flagged, labels) if not f and y)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def threshold_for_recall(scores: Sequence[float], positives: Sequence[int], recall: float, below: bool) -> float:
    """The tightest threshold that still catches ``recall`` of the positives: for ``below``
    (flag when score < t) the smallest such t, else (flag when score >= t) the largest."""
    pos = np.sort(np.asarray([s for s, y in zip(scores, positives) if y], dtype=np.float64))
    if not len(pos):
        return 0.5
    k = int(np.ceil(recall * len(pos)))
    if below:
        return float(np.nextafter(pos[k - 1], np.inf))
    return float(pos[len(pos) - k])


def best_precision_at_recall(scores: Sequence[float], flags: Sequence[int], recall: float) -> float:
    """Oracle figure (threshold chosen on the same data): precision when recall >= ``recall``."""
    t = threshold_for_recall(scores, flags, recall, below=True)
    return prf([s < t for s in scores], flags)["precision"]


@dataclass
class Scored:
    """Raw probabilities of one split: entailment [n, 3] per verdict set, P(answers) per answer set."""

    verdicts: dict[str, np.ndarray]
    answers: dict[str, list[float]]


def score(v: Verifier, verdicts: dict[str, VerdictSet], answers: dict[str, AnswerSet]) -> Scored:
    """Run the model once over every pair of a split (thresholds are applied afterwards)."""
    out = Scored({}, {})
    for name, s in verdicts.items():
        rows = v.entailment(s.claims, s.evidences, s.questions)
        out.verdicts[name] = np.asarray([[r[k] for k in LABELS] for r in rows], dtype=np.float64).reshape(-1, 3)
    for name, a in answers.items():
        out.answers[name] = v.answer_scores_pairs(list(zip(a.questions, a.passages)))
    return out


def calibrate(scored: Scored, verdicts: dict[str, VerdictSet], answers: dict[str, AnswerSet]) -> dict[str, float]:
    """Thresholds from the calibration slices: for standalone claims and for claims read with
    a question, the entailed threshold that flags at least CALIB_RECALL of the positives of
    every set of that reading; and the answers threshold that keeps ANSWER_RECALL of the
    answering HaluEval pairs."""
    cuts: dict[str, list[float]] = {"entailed": [], "entailed_question": []}
    for n, s in verdicts.items():
        for key, rows in (("entailed_question", [i for i, q in enumerate(s.questions) if q]),
                          ("entailed", [i for i, q in enumerate(s.questions) if not q])):
            flags = [s.flag[i] for i in rows]
            if any(flags):
                scores = [float(scored.verdicts[n][i, 0]) for i in rows]
                cuts[key].append(threshold_for_recall(scores, flags, CALIB_RECALL, below=True))
    out = {k: round(max(v), 6) for k, v in cuts.items() if v}
    out.setdefault("entailed", out.get("entailed_question", 0.5))
    out.setdefault("entailed_question", out["entailed"])
    a = scored.answers["halueval"]
    out["answers"] = round(threshold_for_recall(a, answers["halueval"].answers, ANSWER_RECALL, below=False), 6)
    return out


def report(scored: Scored, verdicts: dict[str, VerdictSet], answers: dict[str, AnswerSet],
           thresholds: dict[str, float]) -> dict[str, dict]:
    """Every figure of one split at ``thresholds`` (the verdict rule of :class:`Verifier`)."""
    out: dict[str, dict] = {}
    for name, probs in scored.verdicts.items():
        s = verdicts[name]
        ent = list(probs[:, 0])
        cut = {True: thresholds.get("entailed_question", thresholds["entailed"]), False: thresholds["entailed"]}
        flagged = [x < cut[bool(q)] for x, q in zip(ent, s.questions)]
        fig = {"n": len(ent), "positives": sum(s.flag), **prf(flagged, s.flag),
               "auc": round(auc([-x for x in ent], s.flag), 4),
               "oracle_precision_at_recall_0.90": round(best_precision_at_recall(ent, s.flag, RECALL_TARGET), 4)}
        known = [(int(np.argmax(p)), g) for p, g in zip(probs, s.nli) if g >= 0]
        if known:
            fig["label_accuracy"] = round(sum(a == g for a, g in known) / len(known), 4)
        out[f"verdict:{name}"] = fig
    t = thresholds["answers"]
    for name, scores in scored.answers.items():
        y = answers[name].answers
        acc = sum((sc >= t) == bool(lab) for sc, lab in zip(scores, y)) / len(y) if y else 0.0
        recall = sum(1 for sc, lab in zip(scores, y) if lab and sc >= t) / max(1, sum(y))
        out[f"answers:{name}"] = {"n": len(y), "positives": sum(y), "auc": round(auc(scores, y), 4),
                                  "accuracy": round(acc, 4), "answerable_recall": round(recall, 4)}
    return out
