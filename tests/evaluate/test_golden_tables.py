"""The demo golden set's table cases (issue 24): each is answered by one table row of a document
the asker may read, as the loaders write that table (PDF tables through pdfplumber included)."""

from __future__ import annotations

import json
from pathlib import Path

from tether.evaluate.golden import load_golden, normalise
from tether.ingest.loaders import load_file

DEMO = Path(__file__).resolve().parents[2] / "demo"


def _readable(user: str) -> set[str]:
    m = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
    me = next(u for u in m["users"] if u["name"] == user)
    tokens = {"public", f"user:{user}", *(f"group:{g}" for g in me.get("groups", []))}
    return {"demo://" + d["path"] for d in m["documents"] if tokens & set(d.get("acl", []))}


def _rows(uri: str) -> list[str]:
    doc = load_file(DEMO / "corpus" / uri.removeprefix("demo://"), max_bytes=50_000_000)
    return [f" {normalise(doc.text[b.start : b.end])} " for b in doc.blocks if b.kind == "table" and not b.header]


def test_table_cases_are_answered_by_one_row_of_a_readable_table() -> None:
    g = load_golden(DEMO / "golden" / "golden.yaml")
    cases = [c for c in g.cases if (c.tags.model_extra or {}).get("added") == "issue24" and c.tags.shape == "table"]
    assert len(cases) >= 15
    formats = set()
    for c in cases:
        assert c.key_facts and not c.must_abstain, c.id
        assert set(c.source_uris) <= _readable(c.principal), c.id
        facts = [f" {normalise(f)} " for f in c.key_facts if isinstance(f, str)]
        assert len(facts) == len(c.key_facts), c.id
        rows = [r for u in c.source_uris for r in _rows(u)]
        assert any(all(f in r for f in facts) for r in rows), (c.id, "no single table row holds every key fact")
        formats.update(u.rsplit(".", 1)[-1] for u in c.source_uris)
    assert {"pdf", "docx", "html", "md"} <= formats
