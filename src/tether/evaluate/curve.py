"""The abstention / coverage curve of the answerability gate, from one run's case records.

Why: one threshold decides how often Tether says "not found" when it could have answered, and
how often it answers when it should have said "not found". A run records, per case, the gate's
score (``Outcome.answerability``); sweeping the threshold over those scores shows the trade-off
without asking again:

- ``coverage``: share of the cases that expect an answer (not ``must_abstain``, not
  ``must_block``, with key facts or a reference answer) that would get past the gate and were
  not abstained on for another reason;
- ``abstention_recall``: share of the ``must_abstain`` cases that would abstain;
- ``wrongly_abstained``: 1 - coverage.

A case abstains at threshold ``t`` when it abstained for a reason other than the gate (weak
retrieval, grounding, the input guard), when the gate found an anchor of the question missing
(at every threshold), or when its score is below ``t``. Cases the gate passed
are assumed to end as they did; cases it stopped are assumed to be answered when ``t`` lets
them through (an upper bound: grounding might still abstain), so the curve is a what-if of the
gate alone, labelled as such in the reports.
"""

from __future__ import annotations

from collections.abc import Sequence

from tether.evaluate.answers import Outcome
from tether.evaluate.golden import GoldenCase

GATE_REASON = "not_answerable"
GRID = tuple(round(0.05 * i, 2) for i in range(21))


def expects_answer(case: GoldenCase) -> bool:
    return not (case.must_abstain or case.must_block) and bool(case.key_facts or case.expected_answer)


def _abstains(out: Outcome, t: float) -> bool:
    gate = out.answerability or {}
    score = gate.get("score")
    other = (out.abstained or out.blocked or bool(out.error)) and GATE_REASON not in out.reasons
    return other or bool(gate.get("anchors_missing")) or (score is not None and score < t)


def point(cases: Sequence[GoldenCase], outcomes: Sequence[Outcome], t: float) -> dict:
    ans = [o for c, o in zip(cases, outcomes) if expects_answer(c)]
    neg = [o for c, o in zip(cases, outcomes) if c.must_abstain]
    cov = sum(not _abstains(o, t) for o in ans) / len(ans) if ans else None
    rec = sum(_abstains(o, t) for o in neg) / len(neg) if neg else None
    return {"threshold": t, "coverage": _r(cov), "abstention_recall": _r(rec),
            "wrongly_abstained": _r(1 - cov) if cov is not None else None}


def abstention_curve(cases: Sequence[GoldenCase], outcomes: Sequence[Outcome],
                     grid: Sequence[float] = GRID) -> dict | None:
    """``{"threshold": the run's, "answerable_cases", "abstain_cases", "points": [...]}``, or
    None when no case carries a gate score (the gate was off or no model was shipped)."""
    used = [o.answerability["threshold"] for o in outcomes if o.answerability and "threshold" in o.answerability]
    if not used:
        return None
    current = float(used[0])
    ts = sorted({*grid, round(current, 4)})
    return {"threshold": round(current, 4), "answerable_cases": sum(expects_answer(c) for c in cases),
            "abstain_cases": sum(bool(c.must_abstain) for c in cases),
            "points": [point(cases, outcomes, t) for t in ts],
            "note": "what-if of the gate alone: other steps kept as they ended"}


def curve_table(curve: dict) -> list[list[str]]:
    """Rows (threshold, coverage, wrongly abstained, abstention recall) for text reports; the
    run's own threshold is marked with ``*``."""
    rows = []
    for p in curve["points"]:
        own = abs(p["threshold"] - curve["threshold"]) < 1e-9
        label = f"{p['threshold']:.4f} *" if own else f"{p['threshold']:.2f}"
        rows.append([label, _f(p["coverage"]), _f(p["wrongly_abstained"]), _f(p["abstention_recall"])])
    return rows


def curve_markdown(curve: dict) -> str:
    head = ("| threshold | coverage (answerable) | wrongly abstained | abstention recall |\n"
            "|---|---|---|---|\n")
    return head + "".join(f"| {' | '.join(r)} |\n" for r in curve_table(curve))


def _r(x: float | None) -> float | None:
    return round(x, 4) if x is not None else None


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"
