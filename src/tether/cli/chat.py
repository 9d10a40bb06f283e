"""`tether chat --as USER`: a conversation at the terminal (a REPL on stdin, or one turn with
``--conversation ID "question"``), and `tether conversations list|purge`."""

from __future__ import annotations

import sys

import typer

from tether.cli._common import JSON_OPT, err_console, handle_errors, open_engine, out_console, print_json
from tether.errors import InvalidInput

conversations_app = typer.Typer(help="Conversations: list a user's threads, purge old ones.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
    app.add_typer(conversations_app, name="conversations")


def chat(
    question: str = typer.Argument(None, help="One turn (with --conversation); without it, read questions from stdin."),
    as_user: str = typer.Option(..., "--as", help="Chat as this user (permissions apply every turn)."),
    conversation: str = typer.Option(None, "--conversation", "-c", help="Continue this conversation (its id)."),
    model: str = typer.Option(None, "--model", help="A model name from the registry."),
    as_json: bool = JSON_OPT,
) -> None:
    """Ask follow-up questions; each is rewritten into a standalone question, then answered.
    With --json: one JSON document per turn (one line each)."""
    _chat(question, as_user, conversation, model, as_json=as_json)


@handle_errors
def _chat(question, as_user, conversation, model, *, as_json) -> None:
    if question is not None and conversation is None:
        raise InvalidInput("a question on the command line needs --conversation ID (or start the REPL without one)")
    with open_engine() as t:
        principal = t.principal(as_user)
        cid = conversation or t.conversations.create(principal)["id"]
        if question is not None:
            _turn(t, principal, cid, question, model, as_json)
            return
        if not as_json:
            err_console.print(f"conversation {cid} (an empty line or Ctrl-D ends it)")
        for line in sys.stdin:
            if not line.strip():
                break
            _turn(t, principal, cid, line.strip(), model, as_json)


def _turn(t, principal, cid: str, question: str, model: str | None, as_json: bool) -> None:
    out = t.conversations.ask(principal, cid, question, model=model)
    if as_json:
        out.pop("timings_ms", None)
        print_json(out)
        return
    rw = out.get("rewrite") or {}
    if rw.get("rewritten"):
        err_console.print(f"[dim]understood as: {rw['standalone']}[/dim]")
    a = out["answer"]
    out_console.print(a["text"])
    if a["abstained"]:
        err_console.print(f"[yellow]abstained[/yellow] ({', '.join(a.get('reasons', []))})")
    for _, c in sorted({c["number"]: c for c in a["citations"]}.items()):
        out_console.print(f"[{c['number']}] {c['title']} (doc {c['document_id']}, "
                          f"chars {c['doc_start']}-{c['doc_end']})")


@conversations_app.command("list")
def list_cmd(as_user: str = typer.Option(..., "--as", help="Whose conversations."), as_json: bool = JSON_OPT) -> None:
    """A user's conversations, most recently updated first."""
    _list(as_user, as_json=as_json)


@handle_errors
def _list(as_user: str, *, as_json: bool) -> None:
    with open_engine() as t:
        rows = t.conversations.list(t.principal(as_user))
    if as_json:
        print_json({"conversations": rows})
        return
    for r in rows:
        out_console.print(f"{r['id']}  {r['turn_count']:>4} turns  {r['updated_at']:%Y-%m-%d %H:%M}  {r['title']}")


@conversations_app.command("purge")
def purge_cmd(
    older_than_days: float = typer.Option(None, "--older-than-days", help="Default: conversations.retention_days."),
    as_json: bool = JSON_OPT,
) -> None:
    """Delete conversations not updated for the retention period (turns and cached answers too)."""
    _purge(older_than_days, as_json=as_json)


@handle_errors
def _purge(older_than_days: float | None, *, as_json: bool) -> None:
    with open_engine() as t:
        out = t.conversations.purge(older_than_days)
    if as_json:
        print_json(out)
    else:
        out_console.print(f"purged {out['conversations']} conversation(s), {out['cached_answers']} cached answer(s)")
