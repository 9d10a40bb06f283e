"""End-to-end ingestion against the real embedded PostgreSQL and the real bundled model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tether.engine import Tether
from tether.store import principals

LOREM = (
    "Employees accrue {n} days of annual leave per year. Leave requests go to the line manager "
    "at least two weeks in advance. Unused leave of up to five days may be carried over to the "
    "next calendar year, after which it lapses. "
)


def _write_corpus(root: Path, n: int = 6) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        p = root / f"policy_{i}.md"
        body = "\n\n".join(f"## Part {j}\n\n" + LOREM.format(n=20 + i) * 3 for j in range(4))
        p.write_text(f"# Policy {i}\n\nIntro for policy {i}.\n\n{body}\n", encoding="utf-8")
        files.append(p)
    return files


@pytest.fixture
def engine(settings):
    t = Tether(settings)
    with t.db.transaction() as conn:
        principals.ensure_group(conn, "hr")
        principals.ensure_group(conn, "legal")
        principals.ensure_user(conn, "ana")
        principals.add_member(conn, "ana", "hr")
        principals.ensure_user(conn, "ben")
        principals.add_member(conn, "ben", "legal")
        principals.ensure_user(conn, "eve")
    yield t
    t.close()


def _ingest(t: Tether, paths, **kw) -> list[dict]:
    batch = t.enqueue_ingest(paths, **kw)
    t.work(batch_id=batch.batch_id)
    return t.batch_report(batch.batch_id)


def test_chunks_map_back_to_source_and_carry_acl(engine, tmp_path):
    files = _write_corpus(tmp_path / "docs", 2)
    report = _ingest(engine, files, collection="hr", acl=["group:hr"])
    assert [r["status"] for r in report] == ["done", "done"]
    with engine.db.connection() as conn:
        docs = conn.execute("SELECT id, body, acl, source_uri FROM documents ORDER BY id").fetchall()
        hr_gid = conn.execute("SELECT id FROM groups WHERE name='hr'").fetchone()["id"]
        for d in docs:
            assert d["body"] == Path(d["source_uri"].removeprefix("file://")).read_text(encoding="utf-8")
            assert d["acl"] == [f"g:{hr_gid}"]
            chunks = conn.execute(
                "SELECT text, char_start, char_end, acl, section_path, embedding IS NOT NULL AS has_vec,"
                " bm25_len FROM chunks WHERE document_id=%s ORDER BY ordinal", (d["id"],)
            ).fetchall()
            assert len(chunks) >= 2
            for c in chunks:
                assert d["body"][c["char_start"]:c["char_end"]] == c["text"]
                assert c["acl"] == d["acl"]
                assert c["has_vec"] and c["bm25_len"] > 0
            assert any(c["section_path"] for c in chunks)


def test_reingest_is_idempotent_and_update_replaces_atomically(engine, tmp_path):
    files = _write_corpus(tmp_path / "docs", 3)
    _ingest(engine, files, collection="c", acl=["public"])
    with engine.db.connection() as conn:
        before = conn.execute("SELECT id, ordinal, text FROM chunks ORDER BY id").fetchall()
        stats = conn.execute("SELECT n_chunks, total_len FROM bm25_stats").fetchone()
    again = _ingest(engine, files, collection="c", acl=["public"])
    assert {r["result"]["status"] for r in again} == {"unchanged"}
    with engine.db.connection() as conn:
        assert conn.execute("SELECT id, ordinal, text FROM chunks ORDER BY id").fetchall() == before
        assert conn.execute("SELECT n_chunks, total_len FROM bm25_stats").fetchone() == stats

    files[0].write_text("# Changed\n\nEmployees now accrue 30 days of annual leave.\n", encoding="utf-8")
    upd = _ingest(engine, [files[0]], collection="c", acl=["public"])
    assert upd[0]["result"]["status"] == "updated" and upd[0]["result"]["version"] == 2
    with engine.db.connection() as conn:
        doc = conn.execute("SELECT id, version, body FROM documents WHERE source_uri=%s",
                           (files[0].resolve().as_uri(),)).fetchone()
        assert doc["version"] == 2 and "30 days" in doc["body"]
        rows = conn.execute("SELECT text FROM chunks WHERE document_id=%s", (doc["id"],)).fetchall()
        assert len(rows) == 1 and "30 days" in rows[0]["text"]
        # BM25 statistics are exact after the replacement
        n, total = conn.execute("SELECT count(*), sum(bm25_len) FROM chunks").fetchone().values()
        st = conn.execute("SELECT n_chunks, total_len FROM bm25_stats").fetchone()
        assert (st["n_chunks"], st["total_len"]) == (n, total)
        orphan = conn.execute("SELECT count(*) AS n FROM bm25_postings p LEFT JOIN chunks c ON c.id=p.chunk_id"
                              " WHERE c.id IS NULL").fetchone()["n"]
        assert orphan == 0


def test_acl_change_updates_chunk_copies_without_reembedding(engine, tmp_path):
    files = _write_corpus(tmp_path / "docs", 1)
    _ingest(engine, files, collection="c", acl=["group:hr"])
    with engine.db.connection() as conn:
        ids_before = [r["id"] for r in conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()]
    r = _ingest(engine, files, collection="c", acl=["group:legal"])
    assert r[0]["result"]["status"] == "metadata"
    ben, ana = engine.principal("ben"), engine.principal("ana")
    assert engine.search(ben, "annual leave", k=3).passages
    assert engine.search(ana, "annual leave", k=3).passages == []
    with engine.db.connection() as conn:
        assert [r["id"] for r in conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()] == ids_before


def test_sync_deletes_removed_files_with_everything_derived(engine, tmp_path):
    folder = tmp_path / "docs"
    files = _write_corpus(folder, 3)
    _ingest(engine, [folder], collection="c", acl=["public"])
    files[1].unlink()
    batch = engine.enqueue_ingest([folder], collection="c", acl=["public"])
    engine.work(batch_id=batch.batch_id)
    removed = engine.sync_folder(folder, "c", batch.files)
    assert [Path(r["source_uri"]).name for r in removed] == ["policy_1.md"]
    with engine.db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM documents").fetchone()["n"] == 2
        n = conn.execute("SELECT count(*) AS n FROM chunks c JOIN documents d ON d.id=c.document_id"
                         " WHERE d.source_uri LIKE %s", ("%policy_1.md",)).fetchone()["n"]
        assert n == 0
        st = conn.execute("SELECT n_chunks FROM bm25_stats").fetchone()["n_chunks"]
        assert st == conn.execute("SELECT count(*) AS n FROM chunks").fetchone()["n"]


def _bad_files(root: Path, max_bytes: int) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    bad = {
        "corrupt_document": root / "broken.pdf",
        "empty_document": root / "empty.txt",
        "unsupported_format": root / "image.xyz",
        "file_too_large": root / "huge.txt",
    }
    bad["corrupt_document"].write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage\x00\xff")
    bad["empty_document"].write_bytes(b"")
    bad["unsupported_format"].write_bytes(b"\x89PNG\r\n")
    bad["file_too_large"].write_bytes(b"a " * (max_bytes // 2 + 10))
    utf = root / "latin1.txt"
    utf.write_bytes("caf\xe9 au lait".encode("latin-1"))
    bad["invalid_utf8"] = utf
    return bad


def test_bad_files_fail_individually_and_the_batch_goes_on(engine, tmp_path):
    engine.settings.ingest.max_file_bytes = 50_000
    bad = _bad_files(tmp_path / "bad", 50_000)
    good = _write_corpus(tmp_path / "good", 2)
    report = _ingest(engine, [*bad.values(), *good], collection="c", acl=["public"])
    by_name = {Path(r["payload"]["path"]).name: r for r in report}
    for code, path in bad.items():
        r = by_name[path.name]
        assert r["status"] == "failed", path
        expected = "corrupt_document" if code == "invalid_utf8" else code
        assert r["error"]["code"] == expected, (path, r["error"])
        assert path.name in r["error"]["message"] or code == "invalid_utf8"
        assert r["attempts"] == 1  # bad input is not retried
    assert all(by_name[g.name]["status"] == "done" for g in good)
    with engine.db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM documents").fetchone()["n"] == 2


def test_kill_9_mid_ingest_loses_and_duplicates_nothing(engine, tmp_path, settings):
    files = _write_corpus(tmp_path / "many", 14)
    batch = engine.enqueue_ingest(files, collection="c", acl=["public"])
    env = {**os.environ, "TETHER_DATABASE_URL": settings.database_url, "TETHER_DATA_DIR": str(settings.data_dir),
           "TETHER_INGEST__JOB_LEASE_S": "60"}
    cmd = [sys.executable, "-m", "tether.cli.main", "worker", "--once"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline:
        done = engine.batch_status(batch.batch_id)["done"]
        if done >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    st = engine.batch_status(batch.batch_id)
    assert 3 <= st["done"] < 14, st  # killed mid-batch
    # a new worker picks up the abandoned job at once (its session is gone) and finishes the rest
    proc2 = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc2.returncode == 0, proc2.stderr
    st = engine.batch_status(batch.batch_id)
    assert st["done"] == 14 and st["failed"] == 0, st
    with engine.db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM documents").fetchone()["n"] == 14
        per_doc = conn.execute("SELECT document_id, count(*) AS n, count(DISTINCT ordinal) AS d,"
                               " max(ordinal) AS mx FROM chunks GROUP BY document_id").fetchall()
        assert len(per_doc) == 14
        assert all(r["n"] == r["d"] == r["mx"] + 1 for r in per_doc)  # no duplicate, no gap
        # every document has exactly the chunks a clean ingest produces: none half-written
        from tether.embed.tokenizer import count_tokens
        from tether.ingest.chunker import chunk_document
        from tether.ingest.loaders import load_file

        cs = engine.settings.chunk
        expected = {
            f.resolve().as_uri(): len(chunk_document(
                load_file(f, max_bytes=10**7), count_tokens=count_tokens, max_tokens=cs.max_tokens,
                overlap_tokens=cs.overlap_tokens, min_tokens=cs.min_tokens))
            for f in files
        }
        got = {r["source_uri"]: r["n"] for r in conn.execute(
            "SELECT d.source_uri, count(*) AS n FROM chunks c JOIN documents d ON d.id=c.document_id"
            " GROUP BY d.source_uri").fetchall()}
        assert got == expected
        st = conn.execute("SELECT n_chunks FROM bm25_stats").fetchone()["n_chunks"]
        assert st == sum(r["n"] for r in per_doc)
