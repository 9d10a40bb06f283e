"""The database goes away under a running server and comes back: 503s, then 200s, no restart.

A separate embedded PostgreSQL (its own data directory, started with `tether db start`) serves a
real `tether serve` process through TETHER_DATABASE_URL. While it is stopped, every request gets
503 ``store_unavailable`` with ``Retry-After`` within a few seconds (never a 500, never a hang);
once it is started again the same server process answers 200 again.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from psycopg.rows import dict_row

from tether.store import api_keys, embedded, principals

from ._subproc import TETHER, stop, wait_ready
from .server import free_port

FAST_S = 5.0  # "a few seconds": the most one request may take while the database is down


def _db_cli(command: str, data_dir: Path, env: dict[str, str]) -> None:
    r = subprocess.run([TETHER, "db", command, "--json"], env={**env, "TETHER_DATA_DIR": str(data_dir)},
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr


def _get(url: str, key: str) -> tuple[httpx.Response, float]:
    t0 = time.monotonic()
    r = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return r, time.monotonic() - t0


def test_server_survives_a_database_restart(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TETHER_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    pg_dir = Path(tempfile.mkdtemp(prefix="tether-restart-", dir="/tmp"))
    pg_dir.chmod(0o755)
    proc = None
    out = ""
    try:
        _db_cli("start", pg_dir, env)  # creates and migrates the `tether` database
        status = embedded.status(pg_dir)
        assert status.running and status.uri
        url = psycopg.conninfo.make_conninfo(status.uri, dbname="tether")
        with psycopg.connect(url, row_factory=dict_row) as conn:
            principals.ensure_user(conn, "ana")
            key = api_keys.create_key(conn, "ana", name="restart")["key"]

        config = tmp_path / "tether.toml"
        config.write_text('[guard]\ninjection_mode = "heuristics"\npii_mode = "light"\n', encoding="utf-8")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve_env = {**env, "TETHER_DATABASE_URL": url, "TETHER_DATA_DIR": str(tmp_path / "data"),
                     "TETHER_CONFIG": str(config), "TETHER_API__RUN_WORKER": "false",
                     "TETHER_RETREIVE__TOP_K": "5"}  # misspelt on purpose: reported at start-up
        proc = subprocess.Popen([TETHER, "serve", "--port", str(port), "--graceful", "5"], cwd=tmp_path,
                                env=serve_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_ready(proc, port)
        for path in ("/v1/me", "/v1/documents"):
            r, _ = _get(base + path, key)
            assert r.status_code == 200, r.text

        assert embedded.stop(pg_dir)  # pg_ctl stop -m fast: every connection of the server is cut
        for _ in range(3):
            for path in ("/v1/me", "/v1/documents"):
                r, took = _get(base + path, key)
                assert r.status_code == 503, r.text
                error = r.json()["error"]
                assert error["code"] == "store_unavailable" and error["message"], error
                assert int(r.headers["retry-after"]) >= 1
                assert took < FAST_S, f"{path} took {took:.1f} s while the database was down"
        ready = httpx.get(base + "/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "store_unavailable"

        _db_cli("start", pg_dir, env)  # same data directory, same socket: the same URL works again
        deadline = time.monotonic() + 30
        codes = []
        while True:
            r, took = _get(base + "/v1/me", key)
            codes.append(r.status_code)
            assert r.status_code in (200, 503) and took < FAST_S, (r.status_code, took, r.text)
            if r.status_code == 200:
                break
            assert time.monotonic() < deadline, f"no recovery within 30 s: {codes}"
            time.sleep(0.5)
        assert r.json()["name"] == "ana"
        for path in ("/v1/me", "/v1/documents", "/readyz"):
            r, _ = _get(base + path, key)
            assert r.status_code == 200, r.text
    finally:
        if proc is not None:
            out = stop(proc, signal.SIGINT)
        embedded.stop(pg_dir)
        shutil.rmtree(pg_dir, ignore_errors=True)
    assert "unhandled error" not in out, out
    assert "TETHER_RETREIVE__TOP_K; did you mean TETHER_RETRIEVE__TOP_K?" in out, out
