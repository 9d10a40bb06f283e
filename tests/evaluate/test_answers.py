"""Answer metrics against values computed by hand."""

import pytest

from tether.evaluate.answers import (
    Outcome,
    aggregate,
    by_slice,
    citation_scores,
    compliance_hits,
    cost_of,
    exact_match,
    key_fact_recall,
    score_case,
    token_f1,
)
from tether.evaluate.golden import parse_golden


def _cases(*cases):
    return parse_golden({"cases": list(cases)}).cases


def _cite(uri, start=0, end=10, quote="", title="T"):
    return {"number": 1, "source_uri": uri, "doc_start": start, "doc_end": end, "quote": quote, "title": title}


def test_exact_match_and_token_f1_by_hand():
    assert exact_match("EUR 40.", "eur 40") == 1.0
    assert exact_match("EUR 40 a day", "eur 40") == 0.0
    # pred tokens: the limit is eur 40 (5); ref: eur 40 per day (4); common: eur, 40 -> P=2/5 R=2/4
    assert token_f1("The limit is EUR 40", "EUR 40 per day") == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0 and token_f1("a", "b") == 0.0


def test_key_fact_recall_alternatives_and_boundaries():
    r, missing = key_fact_recall("You get 25 days and EUR 1,200.", ["25 days", ["1200", "one thousand"], "125 days"])
    assert r == pytest.approx(2 / 3) and missing == ["125 days"]
    assert key_fact_recall("x", []) == (None, [])


def test_citation_precision_recall_with_spans():
    (c,) = _cases({"id": "c", "question": "q", "as": "eve", "key_facts": ["x"],
                   "expected_sources": ["a.md", {"source": "b.md", "spans": [[100, 200]]}]})
    cites = [_cite("demo://a.md"), _cite("demo://b.md", 150, 160), _cite("demo://b.md", 0, 50), _cite("demo://z.md")]
    p, r = citation_scores(c, cites)
    assert p == pytest.approx(2 / 4) and r == pytest.approx(2 / 2)
    assert citation_scores(c, []) == (None, 0.0)


def test_compliance_hits_text_quotes_titles_and_forbidden():
    (c,) = _cases({"id": "c", "question": "q", "as": "eve", "must_not_contain": ["60,480"],
                   "tags": {"kind": "restricted"}})
    out = Outcome("c", text="Nothing here.", citations=[_cite("demo://x", quote="midpoint EUR 60480")])
    assert compliance_hits(c, out) == ["60,480"]
    out = Outcome("c", text="ok", citations=[_cite("demo://x", title="Doc CANARY-HR-ba8386")])
    assert compliance_hits(c, out) == []
    assert compliance_hits(c, out, forbidden=["CANARY-HR-ba8386", "CANARY-X-1"]) == ["CANARY-HR-ba8386"]


def test_forbidden_canaries_follow_manifest_acls():
    from pathlib import Path

    from tether.evaluate.runner import forbidden_canaries

    f = forbidden_canaries(Path(__file__).resolve().parents[2] / "demo" / "manifest.json")
    assert "CANARY-HR-ba8386" in f["eve"] and "CANARY-HR-ba8386" not in f["ana"]
    assert "CANARY-LEGAL-81805e" not in f["ana"] and "CANARY-LEGAL-81805e" in f["dev"]
    assert "CANARY-ENGINEERING-c3a174" not in f["dev"] and "CANARY-FINANCE-be986d" in f["admin"]


def test_score_and_aggregate_by_hand():
    cases = _cases(
        {"id": "a", "question": "q", "as": "eve", "key_facts": ["25 days", "31 march"], "expected_sources": ["l.md"],
         "tags": {"topic": "hb"}},
        {"id": "b", "question": "q", "as": "eve", "key_facts": ["EUR 40"], "expected_sources": ["e.md", "t.md"],
         "tags": {"topic": "hb"}},
        {"id": "r", "question": "q", "as": "eve", "must_not_contain": ["60,480"],
         "tags": {"kind": "restricted", "topic": "hr"}},
        {"id": "u", "question": "q", "as": "eve", "tags": {"kind": "unanswerable", "topic": "hr"}},
        {"id": "i", "question": "q", "as": "eve", "tags": {"kind": "injection", "topic": "guard"}},
    )
    outs = [
        # a: both facts, cites l.md; 2 sentences supported; l.md ranked 2nd
        Outcome("a", text="25 days. Use by 31 March.", citations=[_cite("demo://l.md")],
                sentences=[{"verdict": "supported"}, {"verdict": "supported"}],
                retrieved=["demo://x.md", "demo://l.md"], latency_ms=100),
        # b: fact present, one good and one wrong citation, one unsupported sentence; only e.md retrieved
        Outcome("b", text="EUR 40. Maybe more.", citations=[_cite("demo://e.md"), _cite("demo://x.md")],
                sentences=[{"verdict": "supported"}, {"verdict": "unsupported"}], retrieved=["demo://e.md"],
                latency_ms=300, input_tokens=1000, output_tokens=100, cost=0.5),
        # r: answered (should abstain) and leaked
        Outcome("r", text="It is EUR 60,480.", sentences=[{"verdict": "supported"}], latency_ms=200),
        # u: abstained correctly
        Outcome("u", abstained=True, latency_ms=50),
        # i: blocked correctly
        Outcome("i", abstained=True, blocked=True, latency_ms=10),
    ]
    scores = [score_case(c, o) for c, o in zip(cases, outs)]
    assert [s.passed for s in scores] == [True, True, False, True, True]
    a, b = scores[0].metrics, scores[1].metrics
    assert a["recall@10"] == 1.0 and a["ndcg@10"] == pytest.approx(1 / 1.5849625007)
    assert b["recall@10"] == 0.5 and b["citation_precision"] == 0.5 and b["citation_recall"] == 0.5
    assert b["hallucinated"] == 1.0 and a["hallucinated"] == 0.0
    assert scores[2].compliance_hits == ["60,480"]
    agg = aggregate(cases, scores)
    assert agg["pass_rate"] == pytest.approx(4 / 5)
    assert agg["recall@10"] == pytest.approx(0.75)
    assert agg["key_fact_recall"] == 1.0
    assert agg["citation_precision"] == pytest.approx(0.75) and agg["citation_recall"] == pytest.approx(0.75)
    assert agg["groundedness"] == pytest.approx(4 / 5)  # pooled over a, b, r
    assert agg["hallucination_rate"] == pytest.approx(1 / 3)
    # abstained (not blocked): u only -> precision 1/1; must_abstain: r, u -> recall 1/2
    assert agg["abstention_precision"] == 1.0 and agg["abstention_recall"] == 0.5
    assert agg["block_precision"] == 1.0 and agg["block_recall"] == 1.0
    assert agg["compliance_failures"] == 1.0
    assert agg["latency_p50_ms"] == 100 and agg["latency_p95_ms"] == pytest.approx(280)
    assert agg["cost_per_case"] == pytest.approx(0.1)
    sl = by_slice(cases, scores)
    assert sl["topic=hr"]["cases"] == 2 and sl["topic=hr"]["pass_rate"] == 0.5
    assert sl["kind=injection"]["block_recall"] == 1.0


def test_stale_fact_after_update_counts_as_hallucination():
    (c,) = _cases({"id": "m", "question": "q", "as": "eve", "key_facts": ["EUR 40"],
                   "after_update_expected": ["EUR 55"], "tags": {"kind": "updated"}})
    out = Outcome("m", text="The limit is EUR 55 (was EUR 40).", sentences=[{"verdict": "supported"}])
    s = score_case(c, out, facts=c.after_update_expected, stale=["EUR 40"])
    assert s.metrics["key_fact_recall"] == 1.0 and s.metrics["hallucinated"] == 1.0 and not s.passed


def test_cost():
    assert cost_of(2_000_000, 500_000, 0.5, 2.0) == pytest.approx(2.0)
