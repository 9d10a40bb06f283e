"""`tether ground verify PAIRS.jsonl`: one JSON document, input order, an error per bad line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tether.cli.main", "ground", "verify", *args],
                          env=ENV, capture_output=True, text=True, timeout=300)


EVIDENCE = "Employees who resign must give four weeks of written notice to their manager."
LINES = [
    json.dumps({"claim": "Employees who resign must give four weeks of notice.", "evidence": EVIDENCE}),
    "{not json",
    json.dumps({"claim": "Employees who resign do not need to give any notice.", "evidence": EVIDENCE}),
    json.dumps({"evidence": EVIDENCE}),
    json.dumps({"claim": 42, "evidence": EVIDENCE}),
    "",
    json.dumps({"claim": "   ", "evidence": EVIDENCE}),
    json.dumps(["claim", "evidence"]),
    json.dumps({"claim": "Four weeks.", "evidence": EVIDENCE,
                "question": "How much notice must a resigning employee give?"}),
    json.dumps({"claim": "Four weeks.", "evidence": EVIDENCE, "question": 7}),
]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    path = tmp_path_factory.mktemp("verify") / "pairs.jsonl"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    proc = _run(str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    assert len(out.splitlines()) == 1, out  # exactly one JSON document
    return json.loads(out)


def test_one_entry_per_line_in_input_order(result):
    lines = [r["line"] for r in result["results"]]
    assert lines == list(range(1, len(LINES) + 1))


def test_good_lines_get_verdicts(result):
    by_line = {r["line"]: r for r in result["results"]}
    good, bad, asked = by_line[1], by_line[3], by_line[9]
    for r in (good, bad, asked):
        assert r["verdict"] in ("supported", "unsupported", "contradicted")
        assert isinstance(r["score"], float) and 0.0 <= r["score"] <= 1.0
        assert set(r["probabilities"]) == {"entailed", "contradicted", "not_stated"}
    assert good["score"] > bad["score"]
    assert bad["verdict"] != "supported"
    assert "answers_question" in asked and "answers_question" not in good


def test_bad_lines_get_their_own_error(result):
    by_line = {r["line"]: r for r in result["results"]}
    expected = {2: "not JSON", 4: 'missing field "claim"', 5: '"claim" must be a string', 6: "empty line",
                7: '"claim" is empty', 8: "expected a JSON object", 10: '"question" must be a string'}
    for line, text in expected.items():
        err = by_line[line]["error"]
        assert err["code"] == "invalid_input" and text in err["message"], (line, err)
        assert "verdict" not in by_line[line]
    assert result["summary"]["error"] == len(expected)


def test_missing_file_is_a_json_error(tmp_path):
    proc = _run(str(tmp_path / "nope.jsonl"), "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["code"] == "invalid_input"


def test_table_without_json(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(LINES[0] + "\n{oops\n", encoding="utf-8")
    proc = _run(str(path))
    assert proc.returncode == 0, proc.stderr
    assert "supported" in proc.stdout or "unsupported" in proc.stdout or "contradicted" in proc.stdout
    assert "error" in proc.stdout and "not JSON" in proc.stdout
