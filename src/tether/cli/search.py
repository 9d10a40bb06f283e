"""`tether search "query" --as USER`: hybrid retrieval inside the user's permissions."""

from __future__ import annotations

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
    as_json: bool = JSON_OPT,
) -> None:
    """Search the documents USER may read."""
    _search(query, as_user, k, mode, collection, classification, as_json=as_json)


@handle_errors
def _search(query, as_user, k, mode, collection, classification, *, as_json) -> None:
    from tether.errors import InvalidInput

    if mode not in ("hybrid", "bm25", "dense"):
        raise InvalidInput(f"unknown mode {mode!r}; valid modes: hybrid, bm25, dense")
    flt = SearchFilter(collections=tuple(collection), classifications=tuple(classification))
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
