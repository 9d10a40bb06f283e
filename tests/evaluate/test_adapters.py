"""Public benchmark adapters produce valid golden cases over a deduplicated scratch corpus."""

import json

import pytest

from tether.errors import InvalidInput
from tether.evaluate.adapters import load_adapter


def test_halueval(tmp_path):
    p = tmp_path / "h.jsonl"
    rows = [{"knowledge": "K one.", "question": "Q1?", "right_answer": "A1", "hallucinated_answer": "x"},
            {"knowledge": "K one.", "question": "Q2?", "right_answer": "A2", "hallucinated_answer": "y"},
            {"knowledge": "K two.", "question": "Q3?", "right_answer": "A3", "hallucinated_answer": "z"}]
    p.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    gs, docs = load_adapter("halueval", p, limit=2)
    assert len(gs.cases) == 2 and len(docs) == 1
    assert gs.cases[0].key_facts == ["A1"] and gs.cases[0].source_uris == [docs[0].uri]
    assert gs.cases[0].principal == "eval"


def test_legal_keeps_true_rows(tmp_path):
    rows = [{"contract": "C1", "question": "Q?", "answer": "True"},
            {"contract": "C2", "question": "Q?", "answer": "False"}]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    gs, docs = load_adapter("legal", tmp_path)
    assert [c.expected_answer for c in gs.cases] == ["C1"] and len(docs) == 1


def test_errors(tmp_path):
    with pytest.raises(InvalidInput, match="unknown adapter"):
        load_adapter("nope")
    with pytest.raises(InvalidInput, match="no JSONL"):
        load_adapter("legal", tmp_path)
