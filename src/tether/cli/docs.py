"""`tether docs list|show|rm`."""

from __future__ import annotations

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, handle_errors, open_engine, out_console, print_json

app = typer.Typer(help="List, show and remove documents.", no_args_is_help=True)

AS_OPT = typer.Option(None, "--as", help="Show only what this user may read (default: everything, admin view).")


@app.command("list")
@handle_errors
def list_(collection: str = typer.Option(None, "--collection", "-c"), as_user: str = AS_OPT,
          as_json: bool = JSON_OPT) -> None:
    with open_engine() as t:
        principal = t.principal(as_user) if as_user else None
        rows = t.list_documents(principal, collection)
    for r in rows:
        r.pop("acl", None) if principal is not None else None
    if as_json:
        print_json({"documents": rows, "count": len(rows)})
        return
    table = Table("id", "collection", "title", "format", "v", "class", "chunks")
    for r in rows:
        table.add_row(str(r["id"]), r["collection"], r["title"], r["format"], str(r["version"]),
                      r["classification"], str(r["chunks"]))
    out_console.print(table)


@app.command()
@handle_errors
def show(doc_id: int, as_user: str = AS_OPT, text: bool = typer.Option(False, "--text"),
         as_json: bool = JSON_OPT) -> None:
    with open_engine() as t:
        principal = t.principal(as_user) if as_user else None
        row = t.get_document(principal, doc_id)
    if not text:
        row.pop("body", None)
    if as_json:
        print_json(row)
        return
    for key in ("id", "title", "collection", "source_uri", "format", "version", "classification",
                "acl_readable", "size_bytes", "updated_at"):
        out_console.print(f"[bold]{key}[/bold]: {row[key]}")
    out_console.print(f"[bold]chunks[/bold]: {len(row['chunks'])}")
    for c in row["chunks"]:
        out_console.print(f"  #{c['ordinal']} [{c['char_start']}:{c['char_end']}] {' > '.join(c['section_path'])} ({c['token_count']} tokens)")
    if text:
        out_console.print(row["body"])


@app.command()
@handle_errors
def rm(doc_id: int, as_json: bool = JSON_OPT) -> None:
    """Delete a document with its chunks, vectors and keyword index entries."""
    with open_engine() as t:
        t.get_document(None, doc_id)
        ok = t.delete_document(doc_id)
    print_json({"deleted": ok, "id": doc_id}) if as_json else out_console.print(f"deleted document {doc_id}")
