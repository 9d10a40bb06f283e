"""`tether review list|show|ask|claim|release|answer|dismiss|promote`: the human hand-off queue,
acting as a named principal (``--as``): reviewers and administrators work the queue and see
evidence only from documents they may read; anyone else sees their own items. Every command
calls the review service (``engine.reviews``), the same methods as the API and the UI."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, err_console, handle_errors, open_engine, out_console, print_json

app = typer.Typer(help="The human review queue: answer what Tether could not.", no_args_is_help=True)

AS_OPT = typer.Option(..., "--as", help="Act as this user (reviewers and admins work the queue).")


def _show(item: dict) -> None:
    out_console.print(f"[bold]#{item['id']}[/bold] {item['status']} ({item['source']}) asked by {item['asked_by']}"
                      f" on {item['created_at']:%Y-%m-%d %H:%M}")
    out_console.print(f"Q: {item['question']}", markup=False)
    if item.get("reason"):
        out_console.print(f"reason: {item['reason']}", markup=False)
    if item["view"] == "reviewer":
        if item.get("claimed_by"):
            out_console.print(f"claimed by {item['claimed_by']}")
        draft = item.get("draft_answer")
        if draft:
            out_console.print(f"draft{' (abstained)' if draft.get('abstained') else ''}: {draft.get('text', '')}",
                              markup=False)
        for i, e in enumerate(item["evidence"], 1):
            if e.get("withheld"):
                out_console.print(f"  [{i}] {e['note']}", markup=False)
            elif e.get("stale"):
                out_console.print(f"  [{i}] {e['title']} (doc {e['document_id']}, version {e['version']}): {e['note']}",
                                  markup=False)
            else:
                out_console.print(f"  [{i}] {e['title']} (doc {e['document_id']}, chars {e['char_start']}-"
                                  f"{e['char_end']}): \"{e['text'][:200]}\"", markup=False)
        if item.get("promoted"):
            out_console.print(f"promoted: golden case {item['golden_case_id']}")
    if item.get("answer"):
        out_console.print(f"A ({item['answered_by']}): {item['answer']}", markup=False)
    if item.get("dismiss_reason"):
        out_console.print(f"dismissed: {item['dismiss_reason']}", markup=False)


def _act(as_user: str, as_json: bool, action: str, *args) -> None:
    """Run one review service call (``claim``, ``answer``, ...) as ``as_user`` and print the
    item it returns."""
    with open_engine() as t:
        me = t.principal(as_user)
        _emit(getattr(t.reviews, action)(me, *args), as_json)


def _emit(item: dict, as_json: bool) -> None:
    print_json(item) if as_json else _show(item)


@app.command("list")
@handle_errors
def list_cmd(
    as_user: str = AS_OPT,
    status: str = typer.Option(None, help="open | claimed | answered | dismissed"),
    source: str = typer.Option(None, help="abstention | low_confidence | budget_refusal | feedback | user_request"),
    mine: bool = typer.Option(False, "--mine", help="Only the items you asked (reviewers see the queue otherwise)."),
    limit: int = typer.Option(100, min=1, max=500),
    as_json: bool = JSON_OPT,
) -> None:
    """The queue (reviewers, admins) or your own questions (everyone else)."""
    with open_engine() as t:
        items = t.reviews.list(t.principal(as_user), status=status, source=source, mine=mine, limit=limit)
    if as_json:
        print_json({"reviews": items})
        return
    table = Table("id", "status", "source", "asked by", "question", "claimed by")
    for i in items:
        table.add_row(str(i["id"]), i["status"], i["source"], i["asked_by"], i["question"][:70],
                      i.get("claimed_by") or "")
    out_console.print(table)


@app.command("show")
@handle_errors
def show(item_id: int, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """One item (evidence you may not read is withheld)."""
    with open_engine() as t:
        _emit(t.reviews.get(t.principal(as_user), item_id), as_json)


@app.command("ask")
@handle_errors
def ask(question: str, as_user: str = AS_OPT, reason: str = typer.Option("", help="Why a human should look."),
        as_json: bool = JSON_OPT) -> None:
    """Ask a human: put QUESTION in the review queue."""
    with open_engine() as t:
        _emit(t.reviews.ask(t.principal(as_user), question, reason=reason), as_json)


@app.command("claim")
@handle_errors
def claim(item_id: int, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """Take an open item (fails if another reviewer has)."""
    _act(as_user, as_json, "claim", item_id)


@app.command("release")
@handle_errors
def release(item_id: int, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """Put an item you claimed back in the queue."""
    _act(as_user, as_json, "release", item_id)


@app.command("answer")
@handle_errors
def answer(item_id: int, text: str = typer.Option(..., "--text", help="The reviewed answer the asker will see."),
           as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """Answer an open item or one you claimed."""
    _act(as_user, as_json, "answer", item_id, text)


@app.command("dismiss")
@handle_errors
def dismiss(item_id: int, reason: str = typer.Option(..., "--reason", help="Why no answer is given."),
            as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """Close an item without an answer."""
    _act(as_user, as_json, "dismiss", item_id, reason)


@app.command("promote")
@handle_errors
def promote_cmd(
    item_id: int, as_user: str = AS_OPT,
    key_fact: list[str] = typer.Option(None, "--key-fact", help="A fact the answer must contain (repeatable;"
                                                                 " default: figures and dates of the answer)."),
    must_abstain: bool = typer.Option(False, "--must-abstain", help="The right outcome is 'not found'."),
    golden: Path = typer.Option(None, "--golden", help="Golden file (default: review.golden_path or"
                                                      " <data_dir>/golden/reviewed.yaml)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Append an answered item to a golden set (`tether eval run` reads it)."""
    with open_engine() as t:
        out = t.reviews.promote(t.principal(as_user), item_id, path=golden, facts=key_fact or None,
                                must_abstain=must_abstain)
    if as_json:
        print_json(out)
        return
    out_console.print(f"item #{item_id} promoted as golden case {out['case']['id']} in {out['path']}")
    if not out["case"].get("key_facts") and not must_abstain:
        err_console.print("[yellow]no key facts found in the answer[/yellow]; scored on expected_answer only")
