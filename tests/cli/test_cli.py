"""The CLI end to end, as a user runs it: every command with --json prints one JSON document."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def run(settings):
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "HF_HUB_OFFLINE": "1"}

    def _run(*args: str, ok: bool = True) -> tuple[int, object]:
        proc = subprocess.run([sys.executable, "-m", "tether.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=300)
        if ok:
            assert proc.returncode == 0, proc.stderr
        out = proc.stdout.strip()
        doc = json.loads(out) if out else None
        if "--json" in args:
            assert len(out.splitlines()) == 1, out  # exactly one JSON document
        return proc.returncode, doc

    return _run


def test_cli_flow_with_json(run, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nEmployees accrue 25 days of annual leave per year.\n")
    (docs / "bands.md").write_text(
        "# Salary bands\n\nBand E3 pays between EUR 70,000 and EUR 85,000. CANARY-HR-abc123\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")

    assert run("groups", "add", "hr", "--json")[1] == {"name": "hr", "members": []}
    run("users", "add", "ana", "--group", "hr", "--json")
    run("users", "add", "eve", "--json")
    code, users = run("users", "list", "--json")
    assert {u["name"] for u in users["users"]} == {"ana", "eve"}

    code, rep = run("ingest", str(docs / "leave.md"), "--collection", "handbook", "--acl", "public", "--json")
    assert rep["summary"]["created"] == 1
    code, rep = run("ingest", str(docs / "bands.md"), str(docs / "broken.pdf"), "--collection", "hr",
                    "--acl", "group:hr", "--json", ok=False)
    assert code == 1 and rep["summary"] == {"created": 1, "updated": 0, "unchanged": 0, "metadata": 0, "failed": 1}
    failed = [f for f in rep["files"] if f["status"] == "failed"][0]
    assert failed["error"]["code"] == "corrupt_document"

    code, listing = run("docs", "list", "--as", "eve", "--json")
    assert [d["title"] for d in listing["documents"]] == ["Leave"]
    code, listing = run("docs", "list", "--as", "ana", "--json")
    assert {d["title"] for d in listing["documents"]} == {"Leave", "Salary bands"}

    code, hits = run("search", "salary band E3", "--as", "eve", "--json")
    assert all("CANARY" not in h["text"] for h in hits["hits"])
    code, hits = run("search", "salary band E3", "--as", "ana", "--json")
    assert hits["hits"][0]["title"] == "Salary bands"

    code, ans = run("ask", "How many days of annual leave do employees get?", "--as", "eve", "--json")
    assert not ans["answer"]["abstained"] and "25 days" in ans["answer"]["text"]
    assert ans["answer"]["citations"][0]["title"] == "Leave"

    code, err = run("search", "x", "--as", "nobody", "--json", ok=False)
    assert code == 2 and err["error"]["code"] == "unknown_principal"

    code, st = run("db", "status", "--json")
    assert st["external"] is True


def test_unknown_acl_group_is_a_clear_error(run, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("hello world, this is a document")
    code, err = run("ingest", str(f), "--acl", "group:nope", "--json", ok=False)
    # the job fails with a typed error naming the known groups
    assert code == 1
    assert err["files"][0]["error"]["code"] == "unknown_principal"
    assert "nope" in err["files"][0]["error"]["message"]


def test_keys_and_audit_of_admin_changes(run):
    run("users", "add", "ana", "--json")
    code, key = run("keys", "create", "ana", "--name", "laptop", "--json")
    assert key["key"].startswith("tth_") and key["user"] == "ana"
    code, keys = run("keys", "list", "--json")
    assert [k["prefix"] for k in keys["api_keys"]] == [key["prefix"]]
    assert keys["api_keys"][0]["max_documents"] is None  # no own quota: the [ingest] key_max_* defaults
    code, ci = run("keys", "create", "ana", "--name", "ci", "--max-documents", "5", "--max-active-jobs", "0", "--json")
    assert (ci["max_documents"], ci["max_active_jobs"], ci["max_bytes"]) == (5, 0, None)
    run("keys", "revoke", str(ci["id"]), "--json")
    assert "key" not in keys["api_keys"][0] and "key_hash" not in keys["api_keys"][0]  # shown once only
    run("keys", "revoke", str(key["id"]), "--json")
    code, keys = run("keys", "list", "--json")
    assert keys["api_keys"][0]["revoked_at"]
    code, log = run("audit", "--action", "admin.", "--json")
    actions = [r["action"] for r in log["audit"]]
    assert actions == ["admin.key.revoke", "admin.key.revoke", "admin.key.create", "admin.key.create", "admin.user.add"]
    assert all(r["actor"] == "(operator)" and r["details"]["via"] == "cli" for r in log["audit"])
    assert key["key"] not in json.dumps(log)  # the secret never reaches the log


def test_docs_publishing_sets_a_collections_rights(run):
    run("groups", "add", "hr", "--json")
    assert run("docs", "publishing", "handbook", "--authoritative", "--writer", "group:hr", "--json")[1] == {
        "name": "handbook", "authoritative": True, "writers": ["group:hr"]}
    assert run("docs", "publishing", "handbook", "--not-authoritative", "--open", "--json")[1] == {
        "name": "handbook", "authoritative": False, "writers": None}
    code, _ = run("docs", "publishing", "handbook", "--writer", "public", "--json", ok=False)
    assert code != 0  # writers are users or groups
