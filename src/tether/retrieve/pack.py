"""Context packing: turn ranked passages into the sources a model sees, within a token budget.

Steps: drop passages whose span is mostly inside a better-ranked one (chunk overlap makes
near-duplicates), optionally add each kept passage's neighbours from the same document, order
(by rank, or by document position), and stop at the budget. Every passage left out is reported
with the reason, for the trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg.rows import DictRow

from tether.retrieve.filters import where_clause
from tether.types import Passage


@dataclass
class Packed:
    passages: list[Passage]
    tokens: int
    dropped: list[dict] = field(default_factory=list)  # {chunk_id, reason}


def _overlap(a: Passage, b: Passage) -> float:
    """Share of ``a``'s span covered by ``b`` (same document only)."""
    if a.document_id != b.document_id:
        return 0.0
    inter = min(a.char_end, b.char_end) - max(a.char_start, b.char_start)
    return max(inter, 0) / max(a.char_end - a.char_start, 1)


def dedupe(passages: list[Passage], *, max_overlap: float = 0.6) -> tuple[list[Passage], list[dict]]:
    kept: list[Passage] = []
    dropped = []
    for p in passages:
        if any(_overlap(p, k) >= max_overlap for k in kept):
            dropped.append({"chunk_id": p.chunk_id, "reason": "duplicate_span"})
        else:
            kept.append(p)
    return kept, dropped


def neighbours(conn: psycopg.Connection[DictRow], passages: list[Passage], acl_tokens: list[str] | None,
               window: int = 1) -> list[Passage]:
    """Add the chunks right before/after each passage (same document, same permissions)."""
    if not passages or window <= 0:
        return passages
    where, params = where_clause(acl_tokens, None, "c")
    params["pairs"] = [f"{p.document_id}:{o}" for p in passages
                       for o in range(p.ordinal - window, p.ordinal + window + 1) if o != p.ordinal]
    rows = conn.execute(
        "SELECT c.id, c.document_id, c.ordinal, c.text, c.char_start, c.char_end, c.section_path, c.page,"
        " c.classification, d.title, d.source_uri FROM chunks c JOIN documents d ON d.id = c.document_id"
        f" WHERE (c.document_id::text || ':' || c.ordinal) = ANY(%(pairs)s) AND {where}",
        params,
    ).fetchall()
    have = {p.chunk_id for p in passages}
    out = list(passages)
    for r in rows:
        if int(r["id"]) in have:
            continue
        anchor = next(p for p in passages
                      if p.document_id == r["document_id"] and abs(p.ordinal - r["ordinal"]) <= window)
        out.append(Passage(
            chunk_id=int(r["id"]), document_id=int(r["document_id"]), ordinal=int(r["ordinal"]), text=r["text"],
            char_start=int(r["char_start"]), char_end=int(r["char_end"]), title=r["title"],
            source_uri=r["source_uri"], section_path=tuple(r["section_path"] or ()), page=r["page"],
            score=anchor.score * 0.5, scores={"neighbour_of": float(anchor.chunk_id)},
            classification=r["classification"], authoritative=anchor.authoritative,
        ))
        have.add(int(r["id"]))
    return out


def prefer_authoritative(passages: list[Passage]) -> list[Passage]:
    """Passages from authoritative collections first, each group in its retrieved order (a stable
    partition: with no authoritative passage, or only such, the order is unchanged)."""
    return [p for p in passages if p.authoritative] + [p for p in passages if not p.authoritative]


def pack(
    passages: list[Passage], *, count_tokens: Callable[[str], int], budget_tokens: int,
    max_passages: int = 8, order: str = "rank", max_overlap: float = 0.6,
) -> Packed:
    """Fit ``passages`` (best first) into ``budget_tokens``; ``order`` = rank | document."""
    kept, dropped = dedupe(passages, max_overlap=max_overlap)
    out: list[Passage] = []
    used = 0
    for p in kept:
        n = count_tokens(p.text) + 12  # delimiter and title overhead per source
        if len(out) >= max_passages:
            dropped.append({"chunk_id": p.chunk_id, "reason": "max_passages"})
        elif used + n > budget_tokens:
            dropped.append({"chunk_id": p.chunk_id, "reason": "token_budget"})
        else:
            out.append(p)
            used += n
    if order == "document":
        out.sort(key=lambda p: (p.document_id, p.ordinal))
    return Packed(out, used, dropped)
