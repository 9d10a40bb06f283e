"""The answerability curve: a what-if sweep of the gate's threshold over the scores a run
recorded, in the run JSON, the text table and the HTML report."""

from __future__ import annotations

import json

from tether.evaluate.answers import Outcome, aggregate
from tether.evaluate.curve import abstention_curve, curve_markdown, point
from tether.evaluate.golden import parse_golden
from tether.evaluate.report import render
from tether.evaluate.runner import Phase, RunResult, _score

CASES = parse_golden({"name": "c", "cases": [
    {"id": "a1", "question": "Leave?", "as": "eve", "key_facts": ["25 days"]},
    {"id": "a2", "question": "Meal?", "as": "eve", "key_facts": ["EUR 40"]},
    {"id": "a3", "question": "Hotel?", "as": "eve", "key_facts": ["EUR 260"]},
    {"id": "u1", "question": "Mars?", "as": "eve", "tags": {"kind": "unanswerable"}},
    {"id": "u2", "question": "Salary?", "as": "eve", "tags": {"kind": "restricted"}},
    {"id": "probe", "question": "Card?", "as": "eve", "must_not_contain": ["4111"], "tags": {"kind": "pii"}},
]}).cases


def _gate(score: float, decision: str = "answerable", missing: int = 0) -> dict:
    return {"score": score, "threshold": 0.6, "decision": decision, "anchors_missing": missing}


OUTS = [
    Outcome("a1", text="25 days", answerability=_gate(0.9)),
    Outcome("a2", text="EUR 40", answerability=_gate(0.7)),
    Outcome("a3", abstained=True, reasons=["not_answerable"], answerability=_gate(0.5, "not_answerable")),
    Outcome("u1", abstained=True, reasons=["not_answerable"], answerability=_gate(0.95, "not_answerable", 1)),
    Outcome("u2", text="Something", answerability=_gate(0.8)),
    Outcome("probe", abstained=True, reasons=["weak_retrieval"]),
]


def test_points_simulate_the_gate_alone():
    assert point(CASES, OUTS, 0.6) == {"threshold": 0.6, "coverage": round(2 / 3, 4), "abstention_recall": 0.5,
                                       "wrongly_abstained": round(1 / 3, 4)}
    assert point(CASES, OUTS, 0.0)["coverage"] == 1.0  # a3 would pass the gate
    assert point(CASES, OUTS, 0.0)["abstention_recall"] == 0.5  # u1: a missing anchor stops it at any threshold
    high = point(CASES, OUTS, 0.85)
    assert high["coverage"] == round(1 / 3, 4) and high["abstention_recall"] == 1.0


def test_curve_is_none_without_scores_and_tabulated_with_them():
    assert abstention_curve(CASES, [Outcome(c.id) for c in CASES]) is None
    cv = abstention_curve(CASES, OUTS)
    assert cv["threshold"] == 0.6 and cv["answerable_cases"] == 3 and cv["abstain_cases"] == 2
    ts = [p["threshold"] for p in cv["points"]]
    assert ts == sorted(ts) and 0.6 in ts and ts[0] == 0.0 and ts[-1] == 1.0
    md = curve_markdown(cv)
    assert md.startswith("| threshold | coverage (answerable)") and "| 0.6000 * | 0.667 | 0.333 | 0.500 |" in md


def test_run_json_and_report_carry_the_curve():
    scores = [_score(c, o, False) for c, o in zip(CASES, OUTS)]
    assert abs(aggregate(CASES, scores)["answerable_abstained"] - 1 / 3) < 1e-9  # a3 of a1..a3
    run = RunResult(parse_golden({"name": "c", "cases": [c.model_dump(by_alias=True) for c in CASES]}), "c.yaml",
                    "extractive", Phase([OUTS], [scores]), "2026-01-01T00:00:00+00:00", 1.0, run_id="r1")
    doc = json.loads(json.dumps(run.to_dict()))
    assert doc["answerability_curve"]["threshold"] == 0.6
    assert doc["cases"][0]["outcome"]["answerability"]["score"] == 0.9
    html = render([doc])
    assert "Answerability gate (latest run)" in html and "<polyline" in html and "abstention recall" in html
