"""Multi-turn golden cases: the format (``turns``, ``standalone`` twins), the follow-up figures,
the gate against a baseline that predates them, and the demo cases checked against the corpus
and the manifest's ACLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tether.evaluate.answers import CaseScore, Outcome, aggregate, score_case
from tether.evaluate.followup import followup_figures, polluted
from tether.evaluate.gate import compare, failed
from tether.evaluate.golden import GoldenError, load_golden, normalise, parse_golden
from tether.ingest.loaders import load_file

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo"
TWIN = {"id": "sa", "question": "How much bereavement leave for other relatives?", "as": "eve", "key_facts": ["2 days"]}
FOLLOW = {"id": "mt", "turns": ["How much bereavement leave for a close family member?"],
          "question": "And for other relatives?", "as": "eve", "standalone": "sa", "key_facts": ["2 days"],
          "tags": {"followup": "ellipsis"}}


@pytest.mark.parametrize("follow, twin, message", [
    ({"standalone": "nope"}, {}, "standalone 'nope' is not a case of this set"),
    ({}, {"as": "ben"}, "same user"),
    ({}, {"key_facts": ["5 days"]}, "same key_facts"),
    ({}, {"turns": ["earlier?"]}, "is itself a multi-turn case"),
    ({"turns": []}, {}, "belong to multi-turn cases"),
    ({"turns": ["  "]}, {}, "non-empty questions"),
    ({"tags": {"followup": "riddle"}}, {}, "tags.followup"),
])
def test_follow_up_errors_name_the_problem(follow, twin, message):
    with pytest.raises(GoldenError) as exc:
        parse_golden({"cases": [{**TWIN, **twin}, {**FOLLOW, **follow}]}, "x.yaml")
    assert message in exc.value.message


def _score(case, **outcome) -> CaseScore:
    return score_case(case, Outcome(case.id, **outcome))


def test_follow_up_figures_pair_each_case_with_its_twin():
    g = parse_golden({"cases": [
        TWIN, FOLLOW,
        {"id": "sa2", "question": "q2?", "as": "eve", "key_facts": ["a", "b"]},
        {**FOLLOW, "id": "mt2", "standalone": "sa2", "key_facts": ["a", "b"]},
        {"id": "sw", "turns": ["hotel?"], "question": "Password length?", "as": "eve", "key_facts": ["14"],
         "expected_sources": ["handbook/security-policy.pdf"], "tags": {"followup": "topic_switch"}},
    ]})
    sa, mt, sa2, mt2, sw = g.cases
    cite = [{"source_uri": "demo://handbook/expenses.md", "title": "Expenses", "quote": "EUR 260"}]
    scores = [_score(sa, text="2 days"), _score(mt, text="2 days", rewritten=True),
              _score(sa2, text="a and b"), _score(mt2, text="only a", rewritten=False),
              _score(sw, text="14", rewritten=False, citations=cite, turns=[{"citations": cite, "text": ""}])]
    figs = followup_figures(g.cases, scores)
    assert figs["followup_pairs"] == 2 and figs["followup_cases"] == 3
    assert figs["standalone_key_fact_recall"] == 1.0 and figs["followup_key_fact_recall"] == 0.75
    assert figs["followup_recall_gap"] == pytest.approx(0.25)
    assert figs["followup_pass_rate"] == 0.5 and figs["standalone_pass_rate"] == 1.0
    assert figs["topic_switch_pollution"] == 1.0  # cites the earlier turn's document, not its own source
    assert figs["followup_rewrite_rate"] == 0.5
    assert aggregate(g.cases, scores)["followup_key_fact_recall"] == 0.75


def test_pollution_is_carried_terms_or_an_earlier_turns_foreign_citation():
    earlier = [{"citations": [{"source_uri": "demo://a"}, {"source_uri": "demo://b"}]}]
    assert not polluted(["demo://b"], False, [{"source_uri": "demo://b"}], earlier)  # its own source
    assert polluted(["demo://b"], False, [{"source_uri": "demo://a"}], earlier)
    assert polluted(["demo://b"], True, [], earlier)
    assert not polluted([], False, [{"source_uri": "demo://c"}], earlier)


def test_a_leak_in_an_earlier_turn_is_a_compliance_failure():
    g = parse_golden({"cases": [{**FOLLOW, "standalone": None, "must_not_contain": ["CANARY-HR-1"]}]})
    sc = _score(g.cases[0], text="2 days", turns=[{"text": "", "citations": [{"quote": "see CANARY-HR-1"}]}])
    assert sc.compliance_hits == ["CANARY-HR-1"] and not sc.passed


def test_gate_against_a_baseline_without_follow_up_figures():
    base = {"pass_rate": 0.7, "key_fact_recall": 0.7}
    cur = {"pass_rate": 0.7, "key_fact_recall": 0.7, "followup_key_fact_recall": 0.1, "topic_switch_pollution": 1.0}
    findings = compare(cur, base)
    assert not failed(findings)
    assert {f.metric for f in findings} == {"pass_rate", "key_fact_recall"}
    worse = compare({**cur, "followup_key_fact_recall": 0.5}, {**base, "followup_key_fact_recall": 0.8})
    assert [f.metric for f in failed(worse)] == ["followup_key_fact_recall"]


# --- the demo set --------------------------------------------------------------------------------

def _corpus_text() -> dict[str, str]:
    out = {}
    for p in (DEMO / "corpus").rglob("*"):
        if p.is_file():
            out["demo://" + p.relative_to(DEMO / "corpus").as_posix()] = normalise(
                load_file(p, max_bytes=50_000_000).text)
    return out


def _readable(user: str) -> set[str]:
    m = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
    me = next(u for u in m["users"] if u["name"] == user)
    tokens = {"public", f"user:{user}", *(f"group:{g}" for g in me.get("groups", []))}
    return {"demo://" + d["path"] for d in m["documents"] if tokens & set(d.get("acl", []))}


def test_demo_multi_turn_cases_hold_against_the_corpus_and_acls():
    g = load_golden(DEMO / "golden" / "golden.yaml")
    multi = [c for c in g.cases if c.turns]
    assert len(multi) >= 30
    assert {c.tags.followup for c in multi} == {"ellipsis", "pronoun", "topic_switch"}
    assert sum(bool(c.must_abstain) for c in multi) >= 5
    assert all(c.standalone for c in multi)
    text = _corpus_text()
    by_id = {c.id: c for c in g.cases}
    for c in multi + [by_id[c.standalone] for c in multi if c.standalone]:
        readable = _readable(c.principal)
        if c.must_abstain:
            for s in c.must_not_contain:  # each secret is in a document the asker may not read, and in none they may
                holders = {u for u, t in text.items() if f" {normalise(s)} " in f" {t} "}
                assert holders and not holders & readable, (c.id, s)
            continue
        assert set(c.source_uris) <= readable, c.id
        for fact in c.key_facts:
            alts = [fact] if isinstance(fact, str) else fact
            assert any(f" {normalise(a)} " in f" {text[u]} " for u in c.source_uris for a in alts), (c.id, fact)
