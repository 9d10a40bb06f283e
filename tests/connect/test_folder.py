"""The folder connector: the contract, POSIX permissions as ACLs, and syncs through the engine."""

from __future__ import annotations

import grp
import os
import pwd
import threading
import time
from pathlib import Path

import pytest
from contract import ConnectorContract
from helpers import SYSTEM, docs, sync

from tether.connect.base import ConnectorContext
from tether.connect.folder import FolderConfig, FolderConnector
from tether.errors import InvalidInput

CTX = ConnectorContext({}, "/tmp", 1_000_000)


def _folder(path: Path, **kw) -> FolderConnector:
    return FolderConnector.create(FolderConfig(path=str(path), **kw), CTX)


class FolderSource:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "a.txt").write_text("alpha: the office opens at nine.\n")
        (root / "b.md").write_text("# Beta\n\nbeta: the canteen closes at two.\n")
        for p in root.iterdir():
            p.chmod(0o644)

    def connector(self) -> FolderConnector:
        return _folder(self.root)

    def change(self, name: str, text: str) -> None:
        path = self.root / name
        path.write_text(text)
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # coarse clocks

    def delete(self, name: str) -> None:
        (self.root / name).unlink()

    def item_id(self, name: str) -> str:
        return name


class TestFolderContract(ConnectorContract):
    @pytest.fixture
    def source(self, tmp_path: Path) -> FolderSource:
        return FolderSource(tmp_path / "share")

    @pytest.fixture
    def unreachable(self, tmp_path: Path) -> FolderConnector:
        return _folder(tmp_path / "not-mounted")


def test_posix_permissions_map_to_acls(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("x")
    me = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    mapped = _folder(tmp_path, users={me: "ana"}, groups={group: "hr"})
    f.chmod(0o644)
    assert mapped.permissions(f.stat()) == ("public",)
    f.chmod(0o640)
    assert mapped.permissions(f.stat()) == ("group:hr", "user:ana")
    f.chmod(0o600)
    assert mapped.permissions(f.stat()) == ("user:ana",)
    assert _folder(tmp_path).permissions(f.stat()) == ()  # unmapped names are dropped: nobody
    assert _folder(tmp_path, unmapped="same").permissions(f.stat()) == (f"user:{me}",)
    assert _folder(tmp_path, acl=["group:ops"]).permissions(f.stat()) == ("group:ops",)


def test_hidden_and_unsupported_files_are_not_items(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.txt").write_text("x")
    (tmp_path / "tool.exe").write_bytes(b"MZ")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "n.md").write_text("# n")
    assert [r.external_id for r in _folder(tmp_path).list(None).items] == ["sub/n.md"]


def test_a_config_with_a_secret_is_refused(engine, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="password_env"):
        engine.connectors.add(SYSTEM, "share", "folder", config={"path": str(tmp_path), "password": "hunter2"})
    with pytest.raises(InvalidInput, match="its options"):
        engine.connectors.add(SYSTEM, "share", "folder", config={"pth": str(tmp_path)})
    with pytest.raises(InvalidInput, match="kinds are"):
        engine.connectors.add(SYSTEM, "share", "ftp", config={})


def test_sync_follows_edits_deletions_and_revocations(engine, tmp_path: Path) -> None:
    src = FolderSource(tmp_path / "share")
    (src.root / "c.txt").write_text("gamma: parking is free on fridays.\n")
    (src.root / "c.txt").chmod(0o644)
    engine.connectors.add(SYSTEM, "share", "folder", collection="files", config={"path": str(src.root)})

    run = sync(engine, "share")
    assert (run["status"], run["added"], run["failed"]) == ("done", 3, 0)
    held = docs(engine, "files")
    assert sorted(held) == ["connector://share/a.txt", "connector://share/b.md", "connector://share/c.txt"]
    assert all(d["acl"] == ["public"] for d in held.values())

    run = sync(engine, "share")  # nothing changed: nothing re-read
    assert (run["unchanged"], run["added"], run["updated"]) == (3, 0, 0)

    src.change("a.txt", "alpha: the office now opens at eight.\n")
    src.delete("b.md")
    (src.root / "c.txt").chmod(0o600)  # nobody mapped may read it any more: revoked
    run = sync(engine, "share")
    assert (run["updated"], run["deleted"], run["unchanged"]) == (1, 2, 0)
    held = docs(engine, "files")
    assert sorted(held) == ["connector://share/a.txt"]
    assert held["connector://share/a.txt"]["version"] == 2
    body = engine.documents.get(SYSTEM, held["connector://share/a.txt"]["id"])["body"]
    assert "eight" in body and "nine" not in body
    assert engine.connectors.show(SYSTEM, "share")["status"] == "ok"
    [listed] = engine.connectors.list(SYSTEM)
    assert listed["documents"] == 1 and listed["last_run"]["deleted"] == 2


def test_a_failing_item_is_recorded_and_the_rest_goes_on(engine, tmp_path: Path) -> None:
    src = FolderSource(tmp_path / "share")
    engine.settings.ingest.max_file_bytes = 2000
    (src.root / "big.txt").write_text("word " * 1000)
    (src.root / "big.txt").chmod(0o644)
    engine.connectors.add(SYSTEM, "share", "folder", config={"path": str(src.root)})
    run = sync(engine, "share")
    assert (run["added"], run["failed"]) == (2, 1)
    shown = engine.connectors.show(SYSTEM, "share")
    assert shown["status"] == "degraded"
    assert shown["last_error"]["code"] == "file_too_large" and shown["last_error"]["item"] == "big.txt"
    [failed] = shown["failed_items"]
    assert failed["external_id"] == "big.txt" and failed["next_attempt_at"] is None  # bad input: not retried
    run = sync(engine, "share")  # unchanged bad item: deferred, not failed again
    assert (run["failed"], run["deferred"], run["unchanged"]) == (0, 1, 2)
    (src.root / "big.txt").write_text("small now")
    run = sync(engine, "share")
    assert (run["added"], run["failed"]) == (1, 0)
    assert engine.connectors.show(SYSTEM, "share")["status"] == "ok"


def test_an_unreachable_folder_fails_the_run_with_a_typed_error(engine, tmp_path: Path) -> None:
    engine.connectors.add(SYSTEM, "gone", "folder", config={"path": str(tmp_path / "nowhere")})
    run = sync(engine, "gone")
    assert run["status"] == "failed" and run["error"]["code"] == "source_unreachable"
    shown = engine.connectors.show(SYSTEM, "gone")
    assert shown["status"] == "error" and shown["last_error"]["code"] == "source_unreachable"


def test_watch_mode_enqueues_a_sync_after_a_change(engine, tmp_path: Path) -> None:
    src = FolderSource(tmp_path / "share")
    engine.connectors.add(SYSTEM, "share", "folder", config={"path": str(src.root)})
    sync(engine, "share")
    stop = threading.Event()
    seen: list[dict] = []

    def watch() -> None:
        for started in engine.connectors.watch(SYSTEM, "share", stop):
            seen.append(started)
            stop.set()

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    time.sleep(0.5)
    (src.root / "new.txt").write_text("delta: a new file appeared.\n")
    th.join(timeout=10)
    stop.set()
    assert seen and seen[0]["created"]
    engine.work(batch_id=seen[0]["batch_id"])
    assert "connector://share/new.txt" in docs(engine, "default")


def test_a_share_unreachable_after_a_sync_fails_the_run_and_keeps_every_document(engine, tmp_path: Path) -> None:
    src = FolderSource(tmp_path / "share")
    engine.connectors.add(SYSTEM, "share", "folder", config={"path": str(src.root)})
    assert sync(engine, "share")["added"] == 2
    before = docs(engine, "default")
    src.root.rename(tmp_path / "unmounted")  # the mount went away: not "every file was deleted"
    run = sync(engine, "share")
    assert (run["status"], run["error"]["code"], run["deleted"], run["processed"]) == \
        ("failed", "source_unreachable", 0, 0)
    shown = engine.connectors.show(SYSTEM, "share")
    assert shown["status"] == "error" and shown["last_error"]["code"] == "source_unreachable"
    assert docs(engine, "default") == before  # nothing deleted, nothing half-written
    (tmp_path / "unmounted").rename(src.root)
    run = sync(engine, "share")
    assert (run["status"], run["unchanged"], run["added"]) == ("done", 2, 0)
    assert engine.connectors.show(SYSTEM, "share")["status"] == "ok"


def test_a_file_that_turns_corrupt_fails_alone_and_keeps_its_last_good_version(engine, tmp_path: Path) -> None:
    src = FolderSource(tmp_path / "share")
    (src.root / "c.docx").write_bytes(_docx("gamma: the lockers are emptied on fridays."))
    (src.root / "c.docx").chmod(0o644)
    engine.connectors.add(SYSTEM, "share", "folder", config={"path": str(src.root)})
    assert sync(engine, "share")["added"] == 3
    good = docs(engine, "default")["connector://share/c.docx"]
    (src.root / "c.docx").write_bytes(b"PK\x03\x04 a truncated upload")
    os.utime(src.root / "c.docx", ns=(time.time_ns(), time.time_ns() + 2_000_000_000))
    run = sync(engine, "share")
    assert (run["failed"], run["unchanged"], run["status"]) == (1, 2, "done")
    [failed] = engine.connectors.show(SYSTEM, "share")["failed_items"]
    assert failed["external_id"] == "c.docx" and failed["error"]["code"] == "corrupt_document"
    kept = docs(engine, "default")["connector://share/c.docx"]
    assert (kept["id"], kept["version"]) == (good["id"], good["version"])  # the last good version stays whole
    assert "lockers" in engine.documents.get(SYSTEM, kept["id"])["body"] and kept["chunks"] == good["chunks"]


def _docx(text: str) -> bytes:
    import io

    import docx

    d = docx.Document()
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()
