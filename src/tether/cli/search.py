"""`tether search "query" --as USER`: hybrid retrieval inside the user's permissions."""

from __future__ import annotations

from datetime import UTC

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, handle_errors, open_engine, out_console, print_json
from tether.retrieve.filters import SearchFilter


def search(
    query: str,
    as_user: str = typer.Option(..., "--as", help="Search as this user (permissions apply)."),
    k: int = typer.Option(10, "--k"),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid | bm25 | dense"),
    collection: list[str] = typer.Option([], "--collection", "-c"),
    classification: list[str] = typer.Option([], "--classification"),
    since: str = typer.Option("", "--since", help="Documents dated on or after (ISO 8601)."),
    until: str = typer.Option("", "--until", help="Documents dated on or before (ISO 8601)."),
    source: str = typer.Option("", "--source", help="Source URI prefix, e.g. file:///srv/hr/"),
    as_json: bool = JSON_OPT,
) -> None:
    """Search the documents USER may read."""
    _search(query, as_user, k, mode, collection, classification, since, until, source, as_json=as_json)


def _date(value: str, name: str):
    from datetime import datetime

    from tether.errors import InvalidInput

    if not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {value!r} is not an ISO 8601 date") from exc
    return d if d.tzinfo else d.replace(tzinfo=UTC)


@handle_errors
def _search(query, as_user, k, mode, collection, classification, since, until, source, *, as_json) -> None:
    from tether.errors import InvalidInput

    if mode not in ("hybrid", "bm25", "dense"):
        raise InvalidInput(f"unknown mode {mode!r}; valid modes: hybrid, bm25, dense")
    flt = SearchFilter(collections=tuple(collection), classifications=tuple(classification),
                       date_from=_date(since, "--since"), date_to=_date(until, "--until"),
                       source_prefix=source or None)
    with open_engine() as t:
        principal = t.principal(as_user)
        res = t.search(principal, query, k=k, mode=mode, flt=flt)
    hits = [
        {"rank": i + 1, "score": round(p.score, 6), "scores": p.scores, "document_id": p.document_id,
         "title": p.title, "chunk_id": p.chunk_id, "char_start": p.char_start, "char_end": p.char_end,
         "section": list(p.section_path), "page": p.page, "text": p.text}
        for i, p in enumerate(res.passages)
    ]
    if as_json:
        print_json({"query": query, "as": as_user, "mode": mode, "hits": hits, "timings_ms": res.timings_ms})
        return
    table = Table("#", "score", "title", "section", "snippet")
    for h in hits:
        table.add_row(str(h["rank"]), f"{h['score']:.4f}", h["title"], " > ".join(h["section"]),
                      h["text"][:100].replace("\n", " "))
    out_console.print(table)
