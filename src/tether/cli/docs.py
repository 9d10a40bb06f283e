"""`tether docs list|show|rm|publishing`, as the operator (every document, like an administrator) or, with
``--as NAME``, as that user: list and show what they may read, rm what they may manage."""

from __future__ import annotations

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, acting, handle_errors, open_engine, out_console, print_json

app = typer.Typer(help="List, show and remove documents.", no_args_is_help=True)

AS_OPT = typer.Option(None, "--as", help="Show what this user may see (default: everything, admin view).")


@app.command("list")
@handle_errors
def list_(collection: str = typer.Option(None, "--collection", "-c"), as_user: str = AS_OPT,
          as_json: bool = JSON_OPT) -> None:
    with open_engine() as t:  # the operator: every document with its ACL tokens
        rows = t.documents.list(acting(t, as_user), collection, every=not as_user)
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
        row = t.documents.view(acting(t, as_user), doc_id)  # as the documents API shows it
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
        out_console.print(f"  #{c['ordinal']} [{c['char_start']}:{c['char_end']}] {' > '.join(c['section_path'])}"
                          f" ({c['token_count']} tokens)")
    if text:
        out_console.print(row["body"])


@app.command()
@handle_errors
def rm(doc_id: int, as_user: str = typer.Option(None, "--as", help="Delete as this user (owner or admin)."),
       as_json: bool = JSON_OPT) -> None:
    """Delete a document with its chunks, vectors and keyword index entries (audited)."""
    with open_engine() as t:
        ok = t.documents.delete(acting(t, as_user), doc_id)
    print_json({"deleted": ok, "id": doc_id}) if as_json else out_console.print(f"deleted document {doc_id}")


@app.command("publishing")
@handle_errors
def publishing(collection: str,
               authoritative: bool = typer.Option(None, "--authoritative/--not-authoritative",
                                                  help="Its documents are official sources (answers prefer them)."),
               writer: list[str] = typer.Option(None, "--writer", help="Who may add or replace documents:"
                                                " group:NAME or user:NAME (repeat)."),
               open_to_all: bool = typer.Option(False, "--open", help="Every member may write again."),
               as_json: bool = JSON_OPT) -> None:
    """Set a collection's publishing rights (as the operator; audited as collection.policy)."""
    with open_engine() as t:
        out = t.documents.set_policy(acting(t, None), collection, authoritative=authoritative,
                                     writers=[] if open_to_all else (list(writer) if writer else None))
    if as_json:
        print_json(out)
        return
    who = ", ".join(out["writers"]) if out["writers"] is not None else (
        "administrators" if out["authoritative"] else "every member")
    out_console.print(f"{collection}: {'authoritative' if out['authoritative'] else 'not authoritative'};"
                      f" writers: {who}")
