"""The WHERE clause every search shares: permissions first, then metadata filters.

Permissions are enforced inside the SQL of each search (never by filtering results in Python):
a chunk is visible when its ACL copy shares a token with the principal's tokens
(``public``, ``u:<id>``, ``g:<id>``). ``acl_tokens=None`` is reserved for trusted internal
callers (benchmarks, evaluation on scratch databases) and means "no permission filter".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SearchFilter:
    collections: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None
    source_prefix: str | None = None
    document_ids: tuple[int, ...] = ()


def where_clause(
    acl_tokens: list[str] | None, flt: SearchFilter | None = None, alias: str = "c"
) -> tuple[str, dict[str, object]]:
    """SQL boolean expression over the chunks row ``alias`` and its named parameters."""
    parts = [f"NOT {alias}.quarantined"]
    params: dict[str, object] = {}
    if acl_tokens is not None:
        parts.append(f"{alias}.acl && %(acl_tokens)s::text[]")
        params["acl_tokens"] = list(acl_tokens)
    flt = flt or SearchFilter()
    if flt.collections:
        parts.append(
            f"{alias}.collection_id IN (SELECT id FROM collections WHERE name = ANY(%(f_collections)s))"
        )
        params["f_collections"] = list(flt.collections)
    if flt.classifications:
        parts.append(f"{alias}.classification = ANY(%(f_classifications)s)")
        params["f_classifications"] = list(flt.classifications)
    if flt.date_from is not None:
        parts.append(f"{alias}.doc_date >= %(f_date_from)s")
        params["f_date_from"] = flt.date_from
    if flt.date_to is not None:
        parts.append(f"{alias}.doc_date <= %(f_date_to)s")
        params["f_date_to"] = flt.date_to
    if flt.source_prefix:
        parts.append(f"starts_with({alias}.source_uri, %(f_source_prefix)s)")
        params["f_source_prefix"] = flt.source_prefix
    if flt.document_ids:
        parts.append(f"{alias}.document_id = ANY(%(f_document_ids)s)")
        params["f_document_ids"] = list(flt.document_ids)
    return " AND ".join(parts), params
