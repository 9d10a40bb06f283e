"""The demo golden set's held-out cases (tags ``added: issue15-heldout`` and ``issue16-heldout2``),
checked against the corpus as the loaders read it and against the manifest's ACLs: key facts occur
in a readable expected source, each forbidden string lives only in documents the asker may not
read, and no document line states what an unanswerable case asks."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from tether.evaluate.golden import GoldenCase, load_golden, normalise
from tether.ingest.loaders import load_file

DEMO = Path(__file__).resolve().parents[2] / "demo"

# For each unanswerable held-out case: patterns (on one lower-cased line of any corpus document or
# update) that a line answering the question would match. None may match anywhere.
ABSENT: dict[str, list[str]] = {
    "i15h-unans-lisbon-meeting-rooms-eve": [r"lisbo.*meeting.?room", r"meeting.?room.*lisbo",
                                            r"85 hot desks.*room"],
    "i15h-unans-marketing-head-rita": [r"(head|director|vp|chief|lead)\b.*\bmarketing",
                                       r"marketing.*\b(head|director|lead)\b"],
    "i15h-unans-carers-leave-admin": [r"carer", r"sick child", r"care leave", r"dependants? leave"],
    "i15h-unans-celebration-budget-fiona": [r"team budget.*(eur|\d)", r"celebrat.*(eur|\d)"],
    "i15h-unans-soc2-date-chloe": [r"soc 2.*\b(20\d\d|january|february|march|april|may|june|july|august|september|"
                                   r"october|november|december)\b"],
    "i15h-unans-call-recordings-eve": [r"recording.*\b(days?|weeks?|months?|years?)\b"],
    "i15h-unans-search-rpo-chloe": [r"(\brpo\b|recovery point).*search", r"search.*(\brpo\b|recovery point)"],
    "i15h-unans-eng-travel-budget-dev": [r"travel.*engineering", r"engineering.*travel"],
    "i15h-unans-paylio-notice-ben": [r"paylio.*(renew|\d+ days'? notice)",
                                     r"contracts\[4\]\.\w*(notice|renewal)"],
    "i15h-unans-support-top-ratings-ana": [r"customer support.*(4 or 5|top two|rating 4|rated 4)",
                                           r"(4 or 5|top two|rating 4|rated 4).*customer support"],
}


@cache
def _texts() -> dict[str, str]:
    out = {}
    for root in (DEMO / "corpus", DEMO / "updates"):
        for p in sorted(root.rglob("*")):
            if p.is_file():
                key = "demo://" + p.relative_to(root).as_posix() + ("" if root.name == "corpus" else "#update")
                out[key] = load_file(p, max_bytes=50_000_000).text
    return out


def _readable(user: str) -> set[str]:
    m = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
    me = next(u for u in m["users"] if u["name"] == user)
    tokens = {"public", f"user:{user}", *(f"group:{g}" for g in me.get("groups", []))}
    return {"demo://" + d["path"] for d in m["documents"] if tokens & set(d.get("acl", []))}


def _has(text: str, needle: str) -> bool:
    return f" {normalise(needle)} " in f" {normalise(text)} "


def _cases(tag: str) -> list[GoldenCase]:
    g = load_golden(DEMO / "golden" / "golden.yaml")
    return [c for c in g.cases if (c.tags.model_extra or {}).get("added") == tag]


def _check_answerable(c: GoldenCase) -> None:
    assert c.key_facts and c.source_uris and not c.must_abstain, c.id
    assert set(c.source_uris) <= _readable(c.principal), (c.id, "expects a source its asker may not read")
    texts = _texts()
    for fact in c.key_facts:
        alts = [fact] if isinstance(fact, str) else fact
        assert any(_has(texts[u], a) for u in c.source_uris for a in alts), (c.id, fact)


def test_held_out_set_a_has_its_shape():
    cases = _cases("issue15-heldout")
    kinds = [c.tags.kind for c in cases]
    assert kinds.count("unanswerable") == 10 and kinds.count("restricted") == 6
    assert sum(getattr(c.tags, "shape", None) == "multi_part" for c in cases) == 8
    assert sum(getattr(c.tags, "shape", None) == "list_table" for c in cases) == 6
    assert {c.principal for c in cases} >= {"ana", "ben", "chloe", "dev", "fiona", "eve", "rita", "admin"}
    assert len({c.tags.topic for c in cases}) >= 7


def test_held_out_unanswerable_facts_are_absent_from_every_document():
    cases = [c for c in _cases("issue15-heldout") if c.tags.kind == "unanswerable"]
    assert {c.id for c in cases} == set(ABSENT)
    for c in cases:
        assert c.must_abstain and not c.key_facts, c.id
        for uri, text in _texts().items():
            for line in text.lower().splitlines():
                hits = [p for p in ABSENT[c.id] if re.search(p, line)]
                assert not hits, (c.id, uri, line)


def test_held_out_restricted_cases_leak_only_what_the_asker_may_not_read():
    cases = _cases("issue15-heldout")
    restricted = [c for c in cases if c.tags.kind == "restricted"]
    texts = _texts()
    for c in restricted:
        assert c.must_abstain and c.must_not_contain, c.id
        readable = _readable(c.principal)
        held = 0
        for s in c.must_not_contain:  # never in what the asker may read (no false alarms) ...
            holders = {u for u, t in texts.items() if _has(t, s)}
            assert not holders & readable, (c.id, s, holders & readable)
            held += bool(holders) and not s.startswith("CANARY-")
        assert held, (c.id, "... and besides canaries at least one is in a document the asker may not read")
    # three of them are asked again by a reader, who gets the answer
    twins = [t for c in restricted for t in cases
             if t.question == c.question and t.principal != c.principal and not t.must_abstain]
    assert len(twins) == 3
    for t in twins:
        _check_answerable(t)


def test_held_out_answerable_cases_hold_against_the_corpus():
    for tag in ("issue15-heldout", "issue16-heldout2"):
        for c in _cases(tag):
            if c.tags.kind not in ("unanswerable", "restricted"):
                _check_answerable(c)


def test_held_out_follow_ups_have_twins():
    g = load_golden(DEMO / "golden" / "golden.yaml")
    by_id = {c.id: c for c in g.cases}
    follow = [c for c in _cases("issue16-heldout2") if c.turns]
    assert len(follow) == 12
    assert sorted(c.tags.followup or "" for c in follow) == ["ellipsis"] * 4 + ["pronoun"] * 4 + ["topic_switch"] * 4
    for c in follow:
        twin = by_id[c.standalone or ""]
        assert (twin.tags.model_extra or {}).get("added") in ("issue15-heldout", "issue16-heldout2"), c.id
        if c.tags.followup == "topic_switch":
            assert twin.question == c.question, c.id
        else:
            assert twin.question != c.question and len(twin.question) > len(c.question), c.id
