"""Evidence of review items: checked against the asker when an item is made, re-derived for the viewer.

Why this module exists: an item's evidence points at spans of documents, and documents change.
When an item is created each entry is checked against the asker's ACL and records the document
``version`` it was taken from. When a reviewer looks at the item, nothing stored is shown as is:
each entry is re-derived from the document as it is *now*, for this viewer:

- the viewer may not read the document (or it is gone): a placeholder (no id, title or text);
- the document has a newer version than the one the entry was taken from (or an entry made before
  versions were recorded, for a document updated after the item): a ``stale`` entry with the
  current title and version only -- the old span may hold text of a restricted earlier version,
  and its offsets mean nothing in the new body;
- otherwise the span's text is read again from the current body.

A draft answer is withheld when any of its sources is withheld or stale (its quotes came from the
old version). ``reviews`` re-exports the creation helpers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tether.store.rows import Conn, one
from tether.types import Principal

MAX_EVIDENCE = 20
MAX_EVIDENCE_CHARS = 4000
WITHHELD_SOURCE = "withheld: you cannot read this source"
STALE_SOURCE = "stale: this source has changed since the item was created; read its current version"


def to_int(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def citations(answer: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not isinstance(answer, Mapping):
        return []
    cites = [c for c in answer.get("citations") or [] if isinstance(c, Mapping)]
    for s in answer.get("sentences") or []:
        if isinstance(s, Mapping):
            cites += [c for c in s.get("citations") or [] if isinstance(c, Mapping)]
    return cites


def evidence_from_passages(passages: Iterable[Any]) -> list[dict]:
    """Candidate evidence from retrieved passages (``types.Passage`` or dicts with the same names)."""
    out = []
    for p in passages:
        get = p.get if isinstance(p, Mapping) else (lambda k, _p=p: getattr(_p, k, None))
        out.append({"document_id": get("document_id"), "chunk_id": get("chunk_id"),
                    "char_start": get("char_start"), "char_end": get("char_end")})
    return out


def evidence_from_answer(answer: Mapping[str, Any] | None) -> list[dict]:
    """Candidate evidence from an answer's citations (the spans the asker was shown)."""
    return [{"document_id": c.get("document_id"), "chunk_id": c.get("chunk_id"),
             "char_start": c.get("doc_start"), "char_end": c.get("doc_end")} for c in citations(answer)]


def resolve_evidence(conn: Conn, asker: Principal, candidates: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Evidence entries from documents ``asker`` may read, with the document version they come from.

    Entries from unreadable or deleted documents, and malformed ones, are dropped; so nothing a
    caller passes in can put content the asker could not read into an item."""
    wanted: list[tuple[int, int | None, int, int]] = []
    seen = set()
    for c in candidates:
        doc, chunk = to_int(c.get("document_id")), to_int(c.get("chunk_id"))
        start, end = to_int(c.get("char_start")), to_int(c.get("char_end"))
        if doc is None or start is None or end is None or not 0 <= start < end:
            continue
        end = min(end, start + MAX_EVIDENCE_CHARS)
        if (doc, start, end) in seen:
            continue
        seen.add((doc, start, end))
        wanted.append((doc, chunk, start, end))
        if len(wanted) >= MAX_EVIDENCE:
            break
    if not wanted:
        return []
    docs = {r["id"]: r for r in conn.execute(
        "SELECT id, title, version, length(body) AS n FROM documents WHERE id = ANY(%s) AND acl && %s::text[]",
        (sorted({w[0] for w in wanted}), asker.acl_tokens)).fetchall()}
    chunk_ids = [w[1] for w in wanted if w[1] is not None]
    chunk_doc = {r["id"]: r["document_id"] for r in conn.execute(
        "SELECT id, document_id FROM chunks WHERE id = ANY(%s)", (chunk_ids,)).fetchall()} if chunk_ids else {}
    out = []
    for doc, chunk, start, end in wanted:
        d = docs.get(doc)
        if d is None or end > d["n"]:
            continue
        text = one(conn.execute("SELECT substr(body, %s, %s) AS t FROM documents WHERE id = %s",
                                (start + 1, end - start, doc)))["t"]
        out.append({"document_id": doc, "chunk_id": chunk if chunk_doc.get(chunk) == doc else None,
                    "title": d["title"], "version": int(d["version"]), "char_start": start, "char_end": end,
                    "text": text})
    return out


@dataclass(frozen=True)
class Current:
    """What a viewer may see of a document now."""

    title: str
    version: int
    updated_at: datetime
    length: int


def current_documents(conn: Conn, viewer: Principal, ids: Iterable[int]) -> dict[int, Current]:
    """The documents among ``ids`` that ``viewer`` may read, as they are now."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {int(r["id"]): Current(r["title"], int(r["version"]), r["updated_at"], int(r["n"])) for r in conn.execute(
        "SELECT id, title, version, updated_at, length(body) AS n FROM documents"
        " WHERE id = ANY(%s) AND acl && %s::text[]", (wanted, viewer.acl_tokens)).fetchall()}


def is_stale(entry: Mapping[str, Any], doc: Current, created_at: datetime) -> bool:
    """Whether ``entry`` was taken from an earlier version of ``doc`` than the current one."""
    version = to_int(entry.get("version"))
    if version is None:  # made before versions were recorded: stale if the document changed since
        return doc.updated_at > created_at
    return version != doc.version


def rederive(conn: Conn, row: Mapping[str, Any], docs: Mapping[int, Current]) -> tuple[list[dict], int, set[int]]:
    """``(entries, withheld, stale document ids)`` of an item's evidence for a viewer who may read
    ``docs``; text is read from the current body, never from the stored copy."""
    out: list[dict] = []
    withheld, stale = 0, set()
    for e in row["evidence"] or []:
        doc_id = to_int(e.get("document_id"))
        doc = docs.get(doc_id) if doc_id is not None else None
        if doc_id is None or doc is None:
            withheld += 1
            out.append({"withheld": True, "note": WITHHELD_SOURCE})
            continue
        start, end = to_int(e.get("char_start")), to_int(e.get("char_end"))
        if is_stale(e, doc, row["created_at"]) or start is None or end is None or end > doc.length:
            stale.add(doc_id)
            out.append({"document_id": doc_id, "title": doc.title, "version": doc.version, "stale": True,
                        "note": STALE_SOURCE})
            continue
        text = one(conn.execute("SELECT substr(body, %s, %s) AS t FROM documents WHERE id = %s",
                                (start + 1, end - start, doc_id)))["t"]
        out.append({"document_id": doc_id, "chunk_id": e.get("chunk_id"), "title": doc.title,
                    "version": doc.version, "char_start": start, "char_end": end, "text": text})
    return out, withheld, stale
