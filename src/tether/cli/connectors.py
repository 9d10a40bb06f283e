"""`tether connectors add|list|show|rm|sync`: sources Tether keeps in step with (engine.connectors).

The operator (``Principal.system()``) acts unless ``--as NAME`` names an administrator. ``sync``
enqueues a run and works it off here with a progress bar (``--workers 0`` leaves it to
``tether worker``); ``--watch`` (folder connectors) syncs again after every change.
"""

from __future__ import annotations

import json
import threading
import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tether.cli._common import JSON_OPT, acting, err_console, handle_errors, open_engine, out_console, print_json
from tether.errors import InvalidInput

app = typer.Typer(help="Connectors: folders, S3 buckets, websites, git repositories, mailboxes, pushed items.",
                  no_args_is_help=True)
AS_OPT = typer.Option(None, "--as", help="Act as this administrator (default: the operator).")
_COUNTS = ("added", "updated", "unchanged", "deleted", "failed", "deferred")


def _config(pairs: list[str], **named: object) -> dict:
    config = {k: v for k, v in named.items() if v not in (None, [], "")}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            config[key] = json.loads(raw)
        except json.JSONDecodeError:
            config[key] = raw
    return config


@app.command("add")
@handle_errors
def add(
    name: str,
    kind: str = typer.Option(..., "--kind", help="folder | s3 | web | git | imap | push"),
    collection: str = typer.Option("default", "--collection", "-c"),
    path: str = typer.Option(None, "--path", help="folder: the folder."),
    url: list[str] = typer.Option([], "--url", help="web: a seed URL (repeatable)."),
    sitemap: str = typer.Option(None, "--sitemap", help="web: a sitemap's URL."),
    repository: str = typer.Option(None, "--repository", help="git: a repository path or URL."),
    branch: str = typer.Option(None, "--branch", help="git: the branch (default main)."),
    bucket: str = typer.Option(None, "--bucket", help="s3: the bucket."),
    prefix: str = typer.Option(None, "--prefix", help="s3: only keys under this prefix."),
    acl: list[str] = typer.Option([], "--acl", help="A fixed ACL: public | group:NAME | user:NAME (repeatable)."),
    interval: int = typer.Option(None, "--interval", help="Sync every this many seconds (default: on demand)."),
    setting: list[str] = typer.Option([], "--set", help="Any other option as KEY=VALUE (JSON values allowed)."),
    as_user: str = AS_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Add a connector (its config may name secrets' env vars or files, never hold them)."""
    named: dict[str, object] = {"path": path, "bucket": bucket, "prefix": prefix, "acl": list(acl), "urls": list(url),
                                "sitemap": sitemap, "repository": repository, "branch": branch}
    with open_engine() as t:
        row = t.connectors.add(acting(t, as_user), name, kind, collection=collection,
                               config=_config(setting, **named), interval_s=interval)
    if as_json:
        print_json(row)
    else:
        out_console.print(f"added {kind} connector {name} (collection {collection})")


@app.command("list")
@handle_errors
def list_(as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """Connectors with their status, last run and next run."""
    with open_engine() as t:
        rows = t.connectors.list(acting(t, as_user))
    if as_json:
        print_json({"connectors": rows})
        return
    table = Table("name", "kind", "collection", "status", "documents", "failed", "last run", "next run")
    for r in rows:
        last = r.get("last_run")
        summary = ", ".join(f"{k} {last[k]}" for k in _COUNTS if last and last[k]) if last else "never"
        table.add_row(r["name"], r["kind"], r["collection"], r["status"], str(r["documents"]),
                      str(r["failed_items"]), summary or "nothing new", str(r["next_run_at"] or "on demand"))
    out_console.print(table)


@app.command("show")
@handle_errors
def show(name: str, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """One connector: config, status, recent runs and failed items with their errors."""
    with open_engine() as t:
        row = t.connectors.show(acting(t, as_user), name)
    if as_json:
        print_json(row)
        return
    out_console.print(f"[bold]{row['name']}[/bold] ({row['kind']}, collection {row['collection']}): {row['status']}")
    if row["last_error"]:
        out_console.print(f"  last error: {row['last_error'].get('code')}: {row['last_error'].get('message')}")
    out_console.print(f"  config: {json.dumps(row['config'])}")
    for r in row["runs"]:
        out_console.print(f"  run {r['id']} {r['status']}: " + ", ".join(f"{k} {r[k]}" for k in _COUNTS))
    for i in row["failed_items"]:
        out_console.print(f"  failed {i['external_id']}: {(i['error'] or {}).get('code')}")


@app.command("rm")
@handle_errors
def rm(name: str, keep_documents: bool = typer.Option(False, "--keep-documents"),
       as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """Remove a connector and (unless --keep-documents) the documents it made."""
    with open_engine() as t:
        out = t.connectors.remove(acting(t, as_user), name, keep_documents=keep_documents)
    if as_json:
        print_json(out)
    else:
        out_console.print(f"removed {out['removed']} ({out['documents_deleted']} documents deleted)")


@app.command("sync")
@handle_errors
def sync(
    name: str,
    workers: int = typer.Option(1, "--workers", help="Worker threads here (0: leave it to `tether worker`)."),
    watch: bool = typer.Option(False, "--watch", help="folder: sync again after every change (Ctrl-C stops)."),
    as_user: str = AS_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Sync a connector now, with a progress bar; --json prints the finished run."""
    with open_engine() as t:
        actor = acting(t, as_user)
        started = t.connectors.sync(actor, name)
        run = _run_to_end(t, actor, started, workers, quiet=as_json)
        _report(run, as_json)
        if watch:
            stop = threading.Event()
            try:
                for again in t.connectors.watch(actor, name, stop):
                    _report(_run_to_end(t, actor, again, workers, quiet=as_json), as_json)
            except KeyboardInterrupt:
                stop.set()
    if run["status"] == "failed" and not watch:
        raise typer.Exit(1)


def _run_to_end(t, actor, started: dict, workers: int, *, quiet: bool) -> dict:
    threads = [threading.Thread(target=t.work, kwargs={"batch_id": started["batch_id"]}, daemon=True)
               for _ in range(max(workers, 0))]
    for th in threads:
        th.start()
    with Progress(TextColumn(f"syncing {started['connector']}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, disable=quiet) as prog:
        task = prog.add_task("sync", total=None)
        while True:
            run = t.connectors.run(actor, started["run_id"])
            done = run["unchanged"] + run["processed"] + run["deferred"]
            prog.update(task, total=max(run["listed"], done) or None, completed=done)
            if run["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
    for th in threads:
        th.join()
    return run


def _report(run: dict, as_json: bool) -> None:
    if as_json:
        print_json({"run": run})
        return
    line = ", ".join(f"{k}: {run[k]}" for k in _COUNTS if run[k]) or "nothing new"
    if run["error"]:
        err_console.print(f"[red]sync failed[/red] ({run['error']['code']}): {run['error']['message']}")
    else:
        out_console.print(f"run {run['id']} done: {line}")
