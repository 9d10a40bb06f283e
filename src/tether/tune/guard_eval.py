"""Figures of an injection classifier per family and stage, and the per-stage thresholds.

Why one module: the model card, the int8-vs-fp32 choice, the leave-one-source-out run and
``bench/guards.py`` must compute recall, false-positive rate and AUC the same way. numpy only.

Stages and the families whose calibration texts set their thresholds: ``input`` (questions:
chat, deepset), ``ingest`` and ``context`` (chunks: document, web, table, email; one threshold
measured on the same texts, named twice so each can be changed alone), ``tool`` (tool results).
Each threshold is the one with the highest recall whose false-positive rate on the
calibration texts is at most :data:`CALIB_FPR` (the higher threshold on ties).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tether.tune.evaluate import auc
from tether.tune.guard_corpus import Text

CALIB_FPR = 0.02  # a margin under the bar's 0.05: calibration slices are small
RULE_THRESHOLD = 0.47  # the rules' own cut (GuardSettings.injection_threshold)
STAGE_FAMILIES: dict[str, tuple[str, ...]] = {
    "input": ("chat", "deepset"),
    "ingest": ("document", "web", "table", "email"),
    "context": ("document", "web", "table", "email"),
    "tool": ("tool",),
}


def stage_of(family: str) -> str:
    return next((s for s, fams in STAGE_FAMILIES.items() if family in fams), "context")


def rates(flags: Sequence[bool] | Any, labels: Sequence[int] | Any) -> tuple[float, float]:
    """(recall, false-positive rate); NaN where a class is missing."""
    f, y = np.asarray(flags, dtype=bool), np.asarray(labels, dtype=bool)
    recall = float(f[y].mean()) if y.any() else float("nan")
    fpr = float(f[~y].mean()) if (~y).any() else float("nan")
    return recall, fpr


def pick_threshold(scores: Sequence[float], labels: Sequence[int], max_fpr: float = CALIB_FPR) -> float:
    """Highest recall with FPR <= ``max_fpr`` over the candidate cuts (the scores themselves)."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    best = (-1.0, 1.0)
    for t in sorted(set(np.round(s, 6).tolist()) | {0.5}):
        r, f = rates(s >= t, y)
        if (np.isnan(f) or f <= max_fpr) and (r, t) > best:
            best = (r, t)
    return float(best[1])


def calibrate(scores: Sequence[float], texts: Sequence[Text]) -> dict[str, float]:
    """Per-stage thresholds from calibration texts (their families decide the stage)."""
    out = {}
    for stage, fams in STAGE_FAMILIES.items():
        idx = [i for i, t in enumerate(texts) if t.family in fams]
        out[stage] = round(pick_threshold([scores[i] for i in idx], [texts[i].label for i in idx]), 6)
    return out


def figures(scores: Sequence[float] | Any, rule_scores: Sequence[float] | Any, labels: Sequence[int],
            threshold: float) -> dict[str, float]:
    """Recall/FPR of the classifier alone and combined with the rules (either fires), and AUC."""
    s, rs = np.asarray(scores, dtype=np.float64), np.asarray(rule_scores, dtype=np.float64)
    r, f = rates(s >= threshold, labels)
    cr, cf = rates((s >= threshold) | (rs >= RULE_THRESHOLD), labels)
    rr, rf = rates(rs >= RULE_THRESHOLD, labels)
    return {"n": len(labels), "positives": int(sum(labels)), "threshold": round(threshold, 4),
            "auc": round(auc(s.tolist(), labels), 4), "recall": round(r, 4), "fpr": round(f, 4),
            "combined_recall": round(cr, 4), "combined_fpr": round(cf, 4),
            "rules_recall": round(rr, 4), "rules_fpr": round(rf, 4),
            "recall_at_fpr_0.05_oracle": round(oracle_recall(s.tolist(), labels, 0.05), 4)}


def oracle_recall(scores: Sequence[float], labels: Sequence[int], max_fpr: float) -> float:
    """Ceiling: the best recall at FPR <= ``max_fpr`` with the cut chosen on the same texts."""
    t = pick_threshold(scores, labels, max_fpr)
    return rates(np.asarray(scores) >= t, labels)[0]


def per_family(scores: Sequence[float], rule_scores: Sequence[float], texts: Sequence[Text],
               thresholds: dict[str, float]) -> dict[str, dict[str, float]]:
    """:func:`figures` per family at its stage's threshold."""
    out = {}
    for fam in dict.fromkeys(t.family for t in texts):
        idx = [i for i, t in enumerate(texts) if t.family == fam]
        out[fam] = figures([scores[i] for i in idx], [rule_scores[i] for i in idx],
                           [texts[i].label for i in idx], thresholds[stage_of(fam)])
    return out


def per_category(scores: Sequence[float], texts: Sequence[Text], thresholds: dict[str, float]) -> dict[str, float]:
    """Recall per attack category (obfuscations count under their own name)."""
    hits: dict[str, list[int]] = {}
    for s, t in zip(scores, texts):
        if t.label:
            key = t.category.split("+")[-1]
            hits.setdefault(key, []).append(int(s >= thresholds[stage_of(t.family)]))
    return {k: round(sum(v) / len(v), 4) for k, v in sorted(hits.items())}
