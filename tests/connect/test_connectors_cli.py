"""`tether connectors` as an operator runs it: add, sync (edits and deletions), list, show, rm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_connectors_cli_reflects_edits_and_deletions(settings, tmp_path: Path) -> None:
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "HF_HUB_OFFLINE": "1"}

    def run(*args: str, code: int = 0) -> dict:
        proc = subprocess.run([sys.executable, "-m", "tether.cli.main", "connectors", *args, "--json"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == code, proc.stderr
        [doc] = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]  # one JSON document
        return doc

    share = tmp_path / "share"
    share.mkdir()
    (share / "policy.md").write_text("# Travel\n\nTrains are booked two weeks ahead.\n")
    (share / "old.txt").write_text("The old canteen menu.\n")
    added = run("add", "share", "--kind", "folder", "--path", str(share), "--acl", "public")
    assert added["config"]["acl"] == ["public"] and added["kind"] == "folder"
    first = run("sync", "share")["run"]
    assert (first["status"], first["added"]) == ("done", 2)

    (share / "policy.md").write_text("# Travel\n\nTrains are booked three weeks ahead.\n")
    os.utime(share / "policy.md", (1, 2_000_000_000))
    (share / "old.txt").unlink()
    second = run("sync", "share")["run"]
    assert (second["updated"], second["deleted"]) == (1, 1)
    [listed] = run("list")["connectors"]
    assert listed["documents"] == 1 and listed["status"] == "ok"
    shown = run("show", "share")
    assert [r["id"] for r in shown["runs"]] == [second["id"], first["id"]]
    err = run("add", "share", "--kind", "folder", "--path", str(share), "--acl", "public", code=2)
    assert err["error"]["code"] == "conflict"
    assert run("rm", "share")["documents_deleted"] == 1
    assert run("list")["connectors"] == []
