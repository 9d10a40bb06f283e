"""`tether ingest` and `tether worker`: enqueue ingest jobs and process them with progress."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tether.cli._common import JSON_OPT, err_console, handle_errors, open_engine, out_console, print_json
from tether.errors import InvalidInput


def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders (recursively)."),
    collection: str = typer.Option("default", "--collection", "-c"),
    acl: list[str] = typer.Option([], "--acl", help="public | group:NAME | user:NAME (repeatable)."),
    owner: str = typer.Option(None, "--owner", help="Owning user (may always read)."),
    classification: str = typer.Option("internal", "--classification"),
    title: str = typer.Option(None, "--title", help="Title (single file only)."),
    sync: bool = typer.Option(False, "--sync", help="Delete documents whose file is gone from the folder."),
    workers: int = typer.Option(1, "--workers", help="Worker threads in this process (0: leave to `tether worker`)."),
    detach: bool = typer.Option(False, "--detach", help="Only enqueue; print the batch id."),
    as_json: bool = JSON_OPT,
) -> None:
    """Ingest files into a collection, with an ACL."""
    _ingest(paths, collection, acl, owner, classification, title, sync, workers, detach, as_json=as_json)


@handle_errors
def _ingest(paths, collection, acl, owner, classification, title, sync, workers, detach, *, as_json) -> None:
    for p in paths:
        if not p.exists():
            raise InvalidInput(f"no such file or folder: {p}")
    if sync and not all(p.is_dir() for p in paths):
        raise InvalidInput("--sync needs folders, not files")
    if not acl and not owner:
        raise InvalidInput("give an ACL (--acl public, --acl group:NAME, --acl user:NAME) or an --owner")
    with open_engine() as t:
        batch = t.enqueue_ingest(paths, collection=collection, acl=acl, owner=owner,
                                 classification=classification, title=title)
        if detach:
            print_json({"batch_id": batch.batch_id, "files": len(batch.files)}) if as_json else \
                out_console.print(f"enqueued {len(batch.files)} files as batch {batch.batch_id}")
            return
        threads = [threading.Thread(target=t.work, kwargs={"batch_id": batch.batch_id}, daemon=True)
                   for _ in range(max(workers, 0))]
        for th in threads:
            th.start()
        _progress(t, batch.batch_id, len(batch.files), quiet=as_json)
        for th in threads:
            th.join()
        report = t.batch_report(batch.batch_id)
        removed = []
        if sync:
            present = [r["payload"]["path"] for r in report if r["status"] == "done"]
            present += [r["payload"]["path"] for r in report if r["status"] == "failed"]  # keep on bad parse
            for p in paths:
                removed += t.sync_folder(p, collection, present)
    results = [_row(r) for r in report]
    summary = {s: sum(1 for r in results if r["status"] == s) for s in
               ("created", "updated", "unchanged", "metadata", "failed")}
    if as_json:
        print_json({"batch_id": batch.batch_id, "summary": summary, "files": results, "removed": removed})
    else:
        table = Table("file", "status", "chunks", "detail")
        for r in results:
            detail = r["error"]["message"] if r.get("error") else f"doc {r.get('document_id')} v{r.get('version')}"
            table.add_row(Path(r["path"]).name, r["status"], str(r.get("chunks", "")), detail)
        out_console.print(table)
        out_console.print(", ".join(f"{k}: {v}" for k, v in summary.items() if v)
                          + (f", removed: {len(removed)}" if removed else ""))
    if summary["failed"]:
        raise typer.Exit(1)


def _row(job: dict) -> dict:
    if job["status"] == "done":
        return dict(job["result"])
    return {"path": job["payload"]["path"], "status": job["status"],
            "error": job["error"], "chunks": 0}


def _progress(t, batch_id: str, total: int, *, quiet: bool) -> None:
    with Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, disable=quiet) as prog:
        task = prog.add_task("ingest", total=total)
        while True:
            st = t.batch_status(batch_id)
            prog.update(task, completed=st["done"] + st["failed"])
            if st["queued"] == 0 and st["running"] == 0:
                break
            time.sleep(0.2)


def worker(
    once: bool = typer.Option(False, "--once", help="Exit when the queue is empty."),
    as_json: bool = JSON_OPT,
) -> None:
    """Process ingest jobs from the queue (run as many as you like, on any machine)."""
    _worker(once, as_json=as_json)


@handle_errors
def _worker(once: bool, *, as_json: bool) -> None:
    results: list[dict] = []

    def show(r: dict) -> None:
        results.append(r)
        if not as_json:
            err_console.print(f"{r.get('status'):>9}  {r.get('path')}")

    with open_engine() as t:
        t.work(until_empty=once, on_result=show)
    if as_json:
        print_json({"processed": len(results), "results": results})
