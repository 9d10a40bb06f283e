"""`tether chat` end to end as a user runs it: the REPL on stdin (one JSON document per turn with
--json), one turn with --conversation, `tether conversations list|purge`."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_chat_repl_one_turn_and_purge(settings, tmp_path):
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "HF_HUB_OFFLINE": "1"}

    def run(*args: str, stdin: str = "", code: int = 0) -> list[dict]:
        proc = subprocess.run([sys.executable, "-m", "tether.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=300, input=stdin)
        assert proc.returncode == code, proc.stderr
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    (tmp_path / "leave.md").write_text("# Leave\n\nEmployees accrue 25 days of annual leave per year.\n\n"
                                       "Up to five days of annual leave may be carried over to the next year.\n")
    run("users", "add", "eve", "--json")
    run("ingest", str(tmp_path / "leave.md"), "--acl", "public", "--json")
    turns = run("chat", "--as", "eve", "--json",
                stdin="How many days of annual leave do employees get?\nCan they carry it over to the next year?\n")
    assert len(turns) == 2  # one JSON document per turn
    assert "25 days" in turns[0]["answer"]["text"] and turns[1]["rewrite"]["rewritten"]
    assert "annual" in turns[1]["rewrite"]["standalone"] and "five days" in turns[1]["answer"]["text"]
    cid = turns[0]["conversation_id"]
    [one] = run("chat", "--as", "eve", "--conversation", cid, "And what about the year after?", "--json")
    assert one["turn"]["ordinal"] == 3 and one["conversation_id"] == cid
    [listing] = run("conversations", "list", "--as", "eve", "--json")
    assert [c["turn_count"] for c in listing["conversations"]] == [3]
    [err] = run("chat", "--as", "eve", "--conversation", "0b7e3f9e-0000-4000-8000-000000000000", "Hi?", "--json",
                code=2)
    assert err["error"]["code"] == "not_found"
    [out] = run("conversations", "purge", "--older-than-days", "1", "--json")
    assert out["conversations"] == 0  # updated moments ago
    [out] = run("conversations", "purge", "--json")
    assert out == {"conversations": 0, "cached_answers": 0, "retention_days": 0}
