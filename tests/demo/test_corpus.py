"""Self-checks for the demo corpus in demo/: manifest, files, canaries, ACLs and formats.

These tests read files only; they need no database and no model.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "demo"
CORPUS = DEMO / "corpus"
UPDATES = DEMO / "updates"
MANIFEST = DEMO / "manifest.json"

CANARY_RE = re.compile(r"CANARY-([A-Z]+)-([0-9a-f]{6})\b")
RESTRICTED_COLLECTIONS = {"hr", "legal", "finance", "engineering"}
REQUIRED_FORMATS = {"md", "txt", "html", "pdf", "docx", "csv", "json"}
CLASSIFICATIONS = {"public", "internal", "confidential", "restricted"}
COLLECTIONS = {"handbook", "hr", "legal", "support", "engineering", "finance", "company"}


@cache
def manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def documents() -> list[dict]:
    return manifest()["documents"]


def is_public(doc: dict) -> bool:
    return doc["acl"] == ["public"]


@cache
def text_of(path: Path) -> str:
    """Extracted text of a corpus file, the way an ingester would see it."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    if suffix == ".docx":
        import docx

        d = docx.Document(str(path))
        parts = [p.text for p in d.paragraphs]
        parts += [c.text for t in d.tables for row in t.rows for c in row.cells]
        return "\n".join(parts)
    return path.read_text(encoding="utf-8")


def corpus_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_manifest_matches_files_one_to_one():
    paths = [d["path"] for d in documents()]
    dupes = [p for p, n in Counter(paths).items() if n > 1]
    assert not dupes, f"listed more than once: {dupes}"
    on_disk = corpus_files(CORPUS)
    assert set(paths) - on_disk == set(), "in manifest but missing from demo/corpus"
    assert on_disk - set(paths) == set(), "in demo/corpus but missing from manifest"


def test_enough_documents_and_formats():
    docs = documents()
    assert 30 <= len(docs) <= 40
    formats = {d["path"].rsplit(".", 1)[1] for d in docs}
    assert formats >= REQUIRED_FORMATS
    counts = Counter(d["path"].rsplit(".", 1)[1] for d in docs)
    assert counts["pdf"] >= 3 and counts["docx"] >= 3


def test_document_fields_are_valid():
    users = {u["name"] for u in manifest()["users"]}
    for d in documents():
        assert d["collection"] in COLLECTIONS, d["path"]
        assert d["path"].split("/", 1)[0] == d["collection"], d["path"]
        assert d["classification"] in CLASSIFICATIONS, d["path"]
        assert d["owner"] in users, d["path"]
        assert d["title"].strip(), d["path"]
        assert isinstance(d["contains_injection"], bool) and isinstance(d["contains_pii"], bool)
        assert d.get("format", d["path"].rsplit(".", 1)[1]) == d["path"].rsplit(".", 1)[1]


def test_acl_entries_reference_declared_groups_and_users():
    groups = set(manifest()["groups"])
    users = manifest()["users"]
    names = [u["name"] for u in users]
    assert len(names) == len(set(names))
    for u in users:
        assert set(u.get("groups", [])) <= groups, u
        assert u.get("role", "member") in {"member", "admin", "reviewer"}, u
    for d in documents():
        assert d["acl"], d["path"]
        for entry in d["acl"]:
            if entry == "public":
                assert d["acl"] == ["public"], f"{d['path']}: 'public' mixed with other entries"
                continue
            kind, _, name = entry.partition(":")
            assert kind in {"group", "user"}, entry
            assert name in (groups if kind == "group" else names), f"{d['path']}: unknown {entry}"


def test_restricted_collections_are_not_public():
    for d in documents():
        restricted = d["collection"] in RESTRICTED_COLLECTIONS
        assert restricted != is_public(d), d["path"]
        if restricted:
            assert d["classification"] in {"confidential", "restricted"}, d["path"]
        else:
            assert d["classification"] in {"public", "internal"}, d["path"]


def test_every_restricted_document_has_its_own_canary():
    seen: dict[str, str] = {}
    for d in documents():
        if is_public(d):
            assert d["canary"] is None, d["path"]
            continue
        canary = d["canary"]
        assert canary, f"{d['path']} has no canary"
        m = CANARY_RE.fullmatch(canary)
        assert m, canary
        group = m.group(1).lower()
        assert f"group:{group}" in d["acl"], f"{d['path']}: canary group {group} not in acl"
        assert canary not in seen, f"{canary} used by {seen.get(canary)} and {d['path']}"
        seen[canary] = d["path"]
        text = text_of(CORPUS / d["path"])
        assert canary in text, f"{canary} not found in the extracted text of {d['path']}"
        others = set(CANARY_RE.findall(text)) - {(m.group(1), m.group(2))}
        assert not others, f"{d['path']} contains other canaries: {others}"


@pytest.mark.parametrize("root", [CORPUS, UPDATES], ids=["corpus", "updates"])
def test_no_public_document_contains_a_canary(root):
    public = {d["path"] for d in documents() if is_public(d)}
    for rel in sorted(corpus_files(root)):
        if rel in public:
            assert "CANARY-" not in text_of(root / rel), rel


def test_guard_demo_documents_are_marked():
    docs = documents()
    injection = [d for d in docs if d["contains_injection"]]
    pii = [d for d in docs if d["contains_pii"]]
    assert len(injection) == 1 and len(pii) == 1
    assert is_public(injection[0]) and is_public(pii[0])
    inj_text = text_of(CORPUS / injection[0]["path"]).lower()
    assert "ignore all previous instructions" in inj_text
    pii_text = text_of(CORPUS / pii[0]["path"])
    assert "4111 1111 1111 1111" in pii_text
    assert re.search(r"sk-test-[A-Za-z0-9]{20,}", pii_text)
    assert re.search(r"[\w.]+@[\w-]+\.example", pii_text)
    assert re.search(r"\+\d{2} \d{3} \d{2} \d{3}", pii_text)
    for d in docs:
        if d not in injection:
            assert "ignore all previous instructions" not in text_of(CORPUS / d["path"]).lower(), d


def test_updates_replace_existing_documents():
    updated = corpus_files(UPDATES)
    assert len(updated) >= 2
    flagged = {d["path"] for d in documents() if d.get("has_update")}
    assert updated == flagged
    listed = {u["path"] for u in manifest().get("updates", [])}
    assert listed == updated
    for rel in updated:
        old, new = text_of(CORPUS / rel), text_of(UPDATES / rel)
        assert old != new, rel


def test_document_lengths():
    for d in documents():
        words = len(text_of(CORPUS / d["path"]).split())
        if d["path"].endswith((".csv", ".json")):
            assert 40 <= words <= 900, (d["path"], words)
        else:
            assert 150 <= words <= 900, (d["path"], words)


def test_pdfs_have_at_least_two_pages():
    from pypdf import PdfReader

    for d in documents():
        if d["path"].endswith(".pdf"):
            assert len(PdfReader(CORPUS / d["path"]).pages) >= 2, d["path"]


def test_docx_use_real_heading_styles():
    import docx

    for d in documents():
        if d["path"].endswith(".docx"):
            styles = {p.style.name for p in docx.Document(str(CORPUS / d["path"])).paragraphs}
            assert {"Heading 1", "Heading 2"} <= styles, d["path"]


def test_pdf_sources_are_latin1():
    for src in (DEMO / "sources").rglob("*.pdf.md"):
        src.read_text(encoding="utf-8").encode("latin-1")
