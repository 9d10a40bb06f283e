"""`tether ask "question" --as USER`: a grounded answer with citations, or an abstention."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from tether.cli._common import JSON_OPT, err_console, handle_errors, open_engine, out_console, print_json
from tether.errors import InvalidInput


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)


def ask(
    question: str,
    as_user: str = typer.Option(..., "--as", help="Ask as this user (permissions apply)."),
    model: str = typer.Option(None, "--model", help="A model name from the registry."),
    json_schema: Path = typer.Option(None, "--json-schema", help="Answer as JSON valid against this schema."),
    stream: bool = typer.Option(False, "--stream", help="Print tokens as they arrive."),
    research: bool = typer.Option(False, "--research", help="Research mode: plan sub-questions and second hops."),
    as_json: bool = JSON_OPT,
) -> None:
    """Answer QUESTION from the documents USER may read, with checked citations."""
    _ask(question, as_user, model, json_schema, stream, as_json=as_json, mode="research" if research else "plain")


@handle_errors
def _ask(question, as_user, model, json_schema, stream, *, as_json, mode="plain") -> None:
    schema = None
    if json_schema is not None:
        try:
            schema = json.loads(json_schema.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"cannot read JSON schema {json_schema}: {exc}") from exc
    if stream and schema is not None:
        raise InvalidInput("--stream and --json-schema cannot be combined")
    with open_engine() as t:
        principal = t.principal(as_user)
        if stream:
            events = []
            for ev in t.ask_stream(principal, question, model=model, mode=mode):
                events.append(ev)
                if as_json:
                    continue
                if ev["type"] == "step":
                    err_console.print(f"[dim]step {ev['index']} ({ev['kind']}): {ev.get('query', ev.get('tool', ''))}"
                                      f" -> {ev['hits']} passages[/dim]")
                elif ev["type"] == "token":
                    sys.stdout.write(ev["text"])
                    sys.stdout.flush()
                elif ev["type"] == "retract":
                    err_console.print(f"\n[yellow]retracted sentence {ev['index']}[/yellow]: {ev.get('reason', '')}")
                elif ev["type"] == "replace":
                    out_console.print(f"\n[yellow]answer replaced by policy:[/yellow] {ev['text']}")
            done = next((e for e in reversed(events) if e["type"] == "done"), None)
            if as_json:
                print_json({"events": events})
            elif done:
                _print_answer(done["answer"], header=False)
            return
        if mode == "research" and not as_json:
            err_console.print("[dim]researching...[/dim]")
        result = t.ask(principal, question, model=model, json_schema=schema, mode=mode)
    if as_json:
        print_json(result.to_dict())
        return
    for st in (result.research or {}).get("steps", []):
        err_console.print(f"[dim]step {st['index']} ({st['kind']}): {st.get('query', st.get('tool', ''))}"
                          f" -> {st['hits']} passages[/dim]")
    _print_answer(result.answer.to_dict(), header=True)


def _print_answer(a: dict, *, header: bool) -> None:
    if header:
        out_console.print(a["text"] if a.get("data") is None else json.dumps(a["data"], indent=2))
    if a["abstained"]:
        err_console.print(f"[yellow]abstained[/yellow] ({', '.join(a.get('reasons', []))})"
                          + ("; escalation suggested" if a.get("escalate") else ""))
        return
    out_console.print()
    seen = set()
    for c in a["citations"]:
        if c["number"] in seen:
            continue
        seen.add(c["number"])
        out_console.print(f"[{c['number']}] {c['title']} (doc {c['document_id']}, "
                          f"chars {c['doc_start']}-{c['doc_end']}): \"{c['quote'][:160]}\"")
