"""`tether serve`: the HTTP API, the OpenAI-compatible endpoint and the web UI under uvicorn.

One process serves in-process (``create_app``); ``--workers N`` runs N uvicorn processes
from an import string, each building its settings from the environment. In-flight requests
get ``--graceful`` seconds to finish on shutdown. ``--demo`` first loads the demo corpus and
prints an API key for each demo user, so ``make run`` gives a working system in one step.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import typer

from tether.cli._common import err_console, handle_errors, open_engine, out_console, settings


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8080, "--port"),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (each runs an ingest worker thread)."),
    demo: bool = typer.Option(False, "--demo", help="Load the demo corpus and print demo API keys first."),
    graceful: int = typer.Option(30, "--graceful", help="Seconds in-flight requests get on shutdown."),
) -> None:
    """Serve the API (/v1, /docs), the OpenAI-compatible endpoint and the web UI (/ui)."""
    _serve(host, port, workers, demo, graceful)


@handle_errors
def _serve(host: str, port: int, workers: int, demo: bool, graceful: int) -> None:
    import uvicorn

    # Start (or attach to) PostgreSQL and migrate once, before any worker process races to.
    cfg = settings()  # loaded (and unknown keys reported) once; each --workers process loads its own
    with open_engine(cfg=cfg) as t:
        if demo:
            _load_demo(t, f"http://{host}:{port}")
    url = f"http://{host}:{port}"
    err_console.print(f"serving on [bold]{url}[/bold]  (UI {url}/ui/chat, API docs {url}/docs)")
    common: dict[str, Any] = dict(host=host, port=port, timeout_graceful_shutdown=graceful, proxy_headers=True,
                                  log_level="info")
    # uvicorn re-raises SIGTERM after its graceful shutdown; exit 0 as on SIGINT instead
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if workers > 1:
        uvicorn.run("tether.api.server:app_from_env", factory=True, workers=workers, **common)
        return
    from tether.api import create_app

    uvicorn.run(create_app(cfg, secrets=os.environ), **common)


def _load_demo(t, url: str) -> None:
    """Ingest the demo corpus (idempotent) and print a fresh API key for each demo user."""
    from tether.cli.demo import DEMO_DIR
    from tether.cli.ingest import _progress
    from tether.ingest.manifest import Manifest
    from tether.types import Principal

    operator = Principal.system()
    manifest = Manifest.load(DEMO_DIR / "manifest.json")
    t.accounts.apply_manifest(operator, manifest)
    t.accounts.ensure_user(operator, "admin", role="admin")
    manifest.apply_guard(t.settings.guard)  # shared with the app's settings: the demo's own names stay unredacted
    batch = t.enqueue_requests(manifest.requests())
    th = threading.Thread(target=t.work, kwargs={"batch_id": batch.batch_id}, daemon=True)
    th.start()
    _progress(t, batch.batch_id, len(batch.files), quiet=False)
    th.join()
    failed = [r for r in t.batch_report(batch.batch_id) if r["status"] == "failed"]
    for r in failed:
        err_console.print(f"[red]failed[/red] {r['payload']['path']}: {r['error']}")
    names = ["admin", *(u["name"] for u in manifest.users if u["name"] != "admin")]
    keys = {n: t.accounts.create_key(operator, n, name="demo", via="cli")["key"] for n in names}
    out_console.print(f"\nDemo ready: {len(batch.files) - len(failed)} documents. Sign in at {url}/ui/sign-in")
    for n in names:
        role = next((u.get("role", "member") for u in manifest.users if u["name"] == n), "admin")
        out_console.print(f"  {n:<8} {role:<9} {keys[n]}")
    out_console.print("")
