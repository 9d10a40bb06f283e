"""The regression gate is direction aware and honours tolerances and floors."""

import pytest

from tether.errors import InvalidInput
from tether.evaluate.gate import compare, failed, parse_pairs


def _kinds(findings):
    return {f.metric: f.kind for f in findings}


def test_direction_and_tolerance():
    base = {"pass_rate": 0.80, "hallucination_rate": 0.10, "latency_p95_ms": 1000.0, "compliance_failures": 0.0,
            "groundedness": 0.9, "abstention_precision": None}
    cur = {"pass_rate": 0.79, "hallucination_rate": 0.13, "latency_p95_ms": 1900.0, "compliance_failures": 1.0,
           "groundedness": 0.95, "abstention_precision": None}
    k = _kinds(compare(cur, base))
    assert k["pass_rate"] == "ok"  # -0.01 within 0.02
    assert k["hallucination_rate"] == "regression"  # lower is better, +0.03
    assert k["latency_p95_ms"] == "ok"  # +90% within the default 100%
    assert k["compliance_failures"] == "regression"  # zero tolerance
    assert k["groundedness"] == "improved"
    assert k["abstention_precision"] == "ok"
    assert [f.metric for f in failed(compare(cur, base))] == ["hallucination_rate", "compliance_failures"]
    k = _kinds(compare(cur, base, tolerances={"hallucination_rate": 0.05, "latency_p95_ms": "50%"}))
    assert k["hallucination_rate"] == "ok" and k["latency_p95_ms"] == "regression"


def test_fail_under_without_baseline():
    f = compare({"pass_rate": 0.5, "latency_p50_ms": 300.0}, None,
                fail_under={"pass_rate": "0.6", "latency_p50_ms": "500"})
    assert [(x.metric, x.kind) for x in f] == [("pass_rate", "fail_under"), ("latency_p50_ms", "ok")]


def test_parse_pairs_errors():
    assert parse_pairs(["pass_rate=0.5"], "--fail-under") == {"pass_rate": "0.5"}
    with pytest.raises(InvalidInput, match="unknown metric"):
        parse_pairs(["bogus=1"], "--fail-under")
    with pytest.raises(InvalidInput, match="METRIC=VALUE"):
        parse_pairs(["pass_rate"], "--fail-under")
