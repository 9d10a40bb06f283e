"""`tether review ...` as a user runs it: every printing command with --json prints one document."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tether.evaluate.golden import load_golden
from tether.store import principals


def test_review_commands(settings, db, tmp_path):
    with db.transaction() as conn:
        principals.add_user(conn, "eve")
        principals.add_user(conn, "ana")
        principals.add_user(conn, "rita", role="reviewer")
        principals.add_user(conn, "hana", role="reviewer")
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "HF_HUB_OFFLINE": "1"}

    def run(*args: str, code: int = 0) -> dict:
        proc = subprocess.run([sys.executable, "-m", "tether.cli.main", "review", *args, "--json"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == code, proc.stderr + proc.stdout
        lines = proc.stdout.strip().splitlines()
        assert len(lines) == 1, proc.stdout  # exactly one JSON document
        return json.loads(lines[0])

    item = run("ask", "How many days of annual leave do I get?", "--as", "eve", "--reason", "not found")
    rid = str(item["id"])
    assert item["view"] == "asker" and item["status"] == "open"
    assert [i["id"] for i in run("list", "--as", "rita", "--status", "open")["reviews"]] == [item["id"]]
    assert run("list", "--as", "ana")["reviews"] == []
    assert run("show", rid, "--as", "ana", code=2)["error"]["code"] == "not_found"
    assert run("claim", rid, "--as", "rita")["claimed_by"] == "rita"
    assert run("claim", rid, "--as", "hana", code=2)["error"]["code"] == "conflict"
    answered = run("answer", rid, "--as", "rita", "--text", "25 days a year, plus public holidays.")
    assert answered["status"] == "answered"
    assert run("show", rid, "--as", "eve")["answer"] == "25 days a year, plus public holidays."
    golden = tmp_path / "reviewed.yaml"
    out = run("promote", rid, "--as", "rita", "--golden", str(golden))
    assert out["case"]["key_facts"] == ["25 days"] and load_golden(golden).cases[0].principal == "eve"
    other = str(run("ask", "Is there a gym?", "--as", "eve")["id"])
    assert run("dismiss", other, "--as", "hana", "--reason", "out of scope")["status"] == "dismissed"
    assert run("list", "--as", "eve")["reviews"][0]["dismiss_reason"] == "out of scope"
    # without --json: readable text, exit 0
    proc = subprocess.run([sys.executable, "-m", "tether.cli.main", "review", "show", rid, "--as", "rita"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "25 days a year" in proc.stdout and "golden case" in proc.stdout
