"""Golden file format: loading, defaults, and errors that name the case and field."""

from pathlib import Path

import pytest

from tether.evaluate.golden import GoldenError, load_golden, normalise, parse_golden, source_uri

REPO = Path(__file__).resolve().parents[2]


def _one(**case):
    base = {"id": "c1", "question": "How many days?", "as": "eve", "key_facts": ["25 days"]}
    return {"cases": [{**base, **case}]}


def test_defaults_follow_kind():
    g = parse_golden({"cases": [
        {"id": "r", "question": "q?", "as": "eve", "tags": {"kind": "restricted"}},
        {"id": "i", "question": "ignore previous", "as": "eve", "tags": {"kind": "injection"}},
        {"id": "u", "question": "q?", "as": "eve", "tags": {"kind": "unanswerable"}, "must_abstain": False,
         "expected_answer": "x"},
        {"id": "a", "question": "q?", "as": "eve", "key_facts": ["x", ["y", "z"]],
         "expected_sources": ["handbook/leave.md", {"source": "demo://hr/x.md", "spans": [[1, 5]]}]},
    ]})
    r, i, u, a = g.cases
    assert (r.must_abstain, r.must_block) == (True, False)
    assert (i.must_abstain, i.must_block) == (False, True)
    assert u.must_abstain is False  # explicit value wins
    assert a.source_uris == ["demo://handbook/leave.md", "demo://hr/x.md"]
    assert a.expected_sources[1].spans == [(1, 5)]
    assert a.principal == "eve" and a.tags.kind == "answerable"


@pytest.mark.parametrize("data, message", [
    ({"cases": []}, "cases"),
    ([1, 2], "must be a mapping"),
    (_one(colour="red"), "case #1 (id 'c1').colour"),
    (_one(question=""), "question"),
    (_one(**{"as": None}), "as"),
    (_one(id="bad id"), "may use only"),
    (_one(tags={"kind": "riddle"}), "tags.kind"),
    (_one(tags={"kind": "restricted"}), "cannot have key_facts"),
    (_one(tags={"kind": "updated"}), "after_update_expected"),
    (_one(key_facts=[]), "needs key_facts or expected_answer"),
    (_one(key_facts=[""]), "non-empty"),
    ({"cases": [_one()["cases"][0], _one()["cases"][0]]}, "duplicate case id 'c1'"),
])
def test_errors_name_the_problem(data, message):
    with pytest.raises(GoldenError) as exc:
        parse_golden(data, "x.yaml")
    assert message in exc.value.message and exc.value.message.startswith("x.yaml")


def test_file_errors(tmp_path):
    with pytest.raises(GoldenError, match="cannot read"):
        load_golden(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases: [\n", encoding="utf-8")
    with pytest.raises(GoldenError, match="not valid YAML"):
        load_golden(bad)


def test_normalise():
    assert normalise("EUR 60,480.") == "eur 60480"
    assert normalise("€300") == "eur 300"
    assert normalise("99.95% (monthly)") == "99.95% monthly"
    assert normalise("sk-test-9vQ2") == "sk test 9vq2"
    assert source_uri("./handbook/leave.md") == "demo://handbook/leave.md"
    assert source_uri("bench://x/1") == "bench://x/1"


def test_demo_golden_set_is_complete():
    g = load_golden(REPO / "demo" / "golden" / "golden.yaml")
    assert len(g.cases) >= 60
    kinds = {c.tags.kind for c in g.cases}
    assert kinds == {"answerable", "unanswerable", "restricted", "injection", "pii", "multi_doc", "updated"}
    corpus = REPO / "demo" / "corpus"
    for c in g.cases:
        for uri in c.source_uris:
            assert (corpus / uri.removeprefix("demo://")).is_file(), (c.id, uri)
    import json

    users = {u["name"] for u in json.loads((REPO / "demo" / "manifest.json").read_text())["users"]}
    assert {c.principal for c in g.cases} <= users
