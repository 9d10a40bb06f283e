"""`tether demo`: set up the demo principals, ingest the demo corpus, answer a sample question."""

from __future__ import annotations

from pathlib import Path

import typer

from tether.cli._common import JSON_OPT, err_console, handle_errors, open_engine, out_console, print_json
from tether.cli.ingest import _progress

DEMO_DIR = Path(__file__).resolve().parents[3] / "demo"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    corpus: Path = typer.Option(DEMO_DIR, "--dir", help="Folder with manifest.json and corpus/."),
    question: str = typer.Option("How many days of annual leave do employees get?", "--question"),
    as_user: str = typer.Option("eve", "--as"),
    as_json: bool = JSON_OPT,
) -> None:
    """Ingest the demo corpus (idempotent) and answer a sample question."""
    _demo(corpus, question, as_user, as_json=as_json)


@handle_errors
def _demo(corpus: Path, question: str, as_user: str, *, as_json: bool) -> None:
    from tether.ingest.manifest import Manifest
    from tether.types import Principal

    manifest = Manifest.load(corpus / "manifest.json")
    with open_engine() as t:
        t.accounts.apply_manifest(Principal.system(), manifest)
        batch = t.enqueue_requests(manifest.requests())
        import threading

        th = threading.Thread(target=t.work, kwargs={"batch_id": batch.batch_id}, daemon=True)
        th.start()
        _progress(t, batch.batch_id, len(batch.files), quiet=as_json)
        th.join()
        report = t.batch_report(batch.batch_id)
        principal = t.principal(as_user)
        res = t.search(principal, question, k=3)
    summary: dict[str, int] = {}
    for r in report:
        s = r["result"]["status"] if r["status"] == "done" else r["status"]
        summary[s] = summary.get(s, 0) + 1
    failed = [{"path": r["payload"]["path"], "error": r["error"]} for r in report if r["status"] == "failed"]
    top = [{"title": p.title, "section": list(p.section_path), "text": p.text} for p in res.passages]
    if as_json:
        print_json({"ingested": summary, "failed": failed, "question": question, "as": as_user, "top": top})
        return
    err_console.print(f"demo corpus: {summary}")
    for f in failed:
        err_console.print(f"[red]failed[/red] {f['path']}: {f['error']}")
    out_console.print(f"\n[bold]Q ({as_user}):[/bold] {question}")
    for i, p in enumerate(top, 1):
        out_console.print(f"[{i}] {p['title']} > {' > '.join(p['section'])}\n    {p['text'][:300]}")
