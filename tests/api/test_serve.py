"""`tether serve --workers 2` as a real subprocess: both processes answer, SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .server import free_port


def test_serve_with_two_workers_and_graceful_stop(settings):
    port = free_port()
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "TETHER_API__RUN_WORKER": "false"}
    tether = Path(sys.executable).with_name("tether")
    proc = subprocess.Popen([str(tether), "serve", "--workers", "2", "--port", str(port), "--graceful", "5"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.time() < deadline, "server did not become ready"
            time.sleep(0.3)
        for _ in range(6):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        r = httpx.get(f"http://127.0.0.1:{port}/v1/documents")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert out.count("Started server process") == 2, out
    assert "Stopping parent process" in out, out
