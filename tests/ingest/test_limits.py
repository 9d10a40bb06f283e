"""Resource limits of ingestion (issue 17, item 4), end to end with the real worker and model.

- a pathological upload (116 KB, one heading of 87,000 characters that would be repeated into
  each of its 334 chunks) is refused with ``document_too_complex`` before anything is embedded,
  in seconds, and the job is not retried;
- the "title > section" context prefixed to each chunk is capped;
- per-user quotas (documents, bytes, jobs in flight) refuse the upload with ``QuotaExceeded``;
- a re-index queued before its document was deleted does not bring it back, fails at once, and
  writes no ``acl.change`` audit record (a successful one writes exactly one, with the write).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tether.engine import Tether
from tether.errors import DocumentTooComplex, QuotaExceeded
from tether.ingest.loaders import load_bytes
from tether.ingest.pipeline import prepare_chunks
from tether.store import principals

BODY = "Employees accrue 27 days of annual leave per year. Requests go to the line manager. " * 3


def _pathological() -> str:
    rng = random.Random(1)
    words = [f"w{rng.randint(0, 5000)}" for _ in range(20000)]
    heading = "# " + " ".join(words[:15000]) + "\n\n"
    return heading + "\n\n".join(" ".join(words[i:i + 60]) + "." for i in range(0, 5000, 60))


def _engine(settings, **ingest) -> Tether:
    t = Tether(settings.model_copy(update={"ingest": settings.ingest.model_copy(update=ingest)}))
    with t.db.transaction() as conn:
        principals.ensure_user(conn, "ana")
        principals.ensure_user(conn, "root", role="admin")
    return t


@pytest.fixture
def engine(settings):
    t = _engine(settings)
    yield t
    t.close()


def _upload(engine: Tether, who: str, tmp_path: Path, name: str, text: str):
    path = tmp_path / who / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return engine.ingest.upload(engine.principal(who), path, name, acl=["public"])


def test_a_pathological_heading_is_refused_before_any_embedding(engine, tmp_path, monkeypatch):
    text = _pathological()
    assert 100_000 < len(text.encode()) < 180_000
    calls: list[int] = []
    real = engine.embedder.embed
    monkeypatch.setattr(engine.embedder, "embed", lambda texts: calls.append(len(texts)) or real(texts))
    batch = _upload(engine, "ana", tmp_path, "huge-heading.md", text)
    t0 = time.perf_counter()
    engine.work()
    elapsed = time.perf_counter() - t0
    [job] = engine.batch_report(batch.batch_id)
    assert job["status"] == "failed" and job["attempts"] == 1  # deterministic: not retried
    assert job["error"]["code"] == "document_too_complex"
    assert "heading of 86,713 characters; the limit is 1,000" in job["error"]["message"]
    assert calls == [] and elapsed < 20
    with engine.db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM documents").fetchone()["n"] == 0


def test_context_is_capped_and_chunk_count_bounded(engine):
    heading = "Section " + "x" * 900  # under the heading limit, but repeated in every chunk
    loaded = load_bytes(f"# {heading}\n\n{BODY * 12}".encode(), "doc.md", max_bytes=10**7)
    chunks, _terms, texts = prepare_chunks(loaded, engine.embedder, engine.settings)
    assert len(chunks) > 2
    cap = engine.settings.chunk.max_context_chars
    assert all(len(t) <= cap + 1 + len(c.text) for t, c in zip(texts, chunks))
    assert all(t.endswith(c.text) for t, c in zip(texts, chunks))
    few = engine.settings.model_copy(update={"ingest": engine.settings.ingest.model_copy(
        update={"max_chunks_per_document": 2})})
    with pytest.raises(DocumentTooComplex) as exc:
        prepare_chunks(loaded, engine.embedder, few)
    assert exc.value.details == {"chunks": len(chunks), "limit": 2}


@pytest.mark.parametrize(("limits", "quota"), [
    ({"user_max_documents": 2}, "documents"),
    ({"user_max_active_jobs": 2}, "active_jobs"),
    ({"user_max_bytes": 2 * len(BODY) + 100}, "bytes"),
])
def test_per_user_upload_quotas(settings, tmp_path, limits, quota):
    engine = _engine(settings, **limits)
    try:
        for i in range(2):
            _upload(engine, "ana", tmp_path, f"doc{i}.md", f"# Doc {i}\n\n{BODY}")
        if quota == "bytes":  # bytes held are ingested documents' (jobs in flight are capped by count)
            engine.work()
        with pytest.raises(QuotaExceeded) as exc:
            _upload(engine, "ana", tmp_path, "doc2.md", f"# Doc 2\n\n{BODY}")
        assert exc.value.details["quota"] == quota and exc.value.status == 429
        _upload(engine, "root", tmp_path, "admin.md", f"# Admin\n\n{BODY}")  # administrators: no quota
        if quota == "active_jobs":  # jobs finished: room again
            engine.work()
            _upload(engine, "ana", tmp_path, "doc2.md", f"# Doc 2\n\n{BODY}")
    finally:
        engine.close()


def _audits(engine: Tether) -> list[dict]:
    with engine.db.connection() as conn:
        return conn.execute("SELECT details FROM audit_log WHERE action = 'acl.change' ORDER BY id").fetchall()


def test_a_queued_reindex_does_not_bring_a_deleted_document_back_nor_audit(engine, tmp_path):
    _upload(engine, "ana", tmp_path, "leave.md", f"# Leave\n\n{BODY}")
    engine.work()
    ana = engine.principal("ana")
    [doc] = engine.documents.list(ana)
    batch = engine.documents.reindex(ana, doc["id"], acl=["user:root"])
    assert _audits(engine) == []  # not before the change is made
    engine.documents.delete(ana, doc["id"])
    engine.work()
    [job] = engine.batch_report(batch.batch_id)
    assert job["status"] == "failed" and job["attempts"] == 1 and job["error"]["code"] == "not_found"
    assert engine.documents.list(engine.principal("root"), every=True) == []
    assert _audits(engine) == []

    _upload(engine, "ana", tmp_path, "leave.md", f"# Leave\n\n{BODY}")  # a new upload is not a re-index
    engine.work()
    [doc] = engine.documents.list(ana)
    engine.documents.reindex(ana, doc["id"], acl=["public", "user:root"])
    engine.work()
    [record] = _audits(engine)
    assert record["details"]["document_id"] == doc["id"] and record["details"]["acl"] == ["public", "user:root"]


def test_a_per_user_chunk_limit_binds_members_not_administrators(settings, tmp_path):
    engine = _engine(settings, user_max_chunks_per_document=2)
    try:
        text = "# Long\n\n" + "\n\n".join(f"Part {i}. {BODY * 4}" for i in range(6))
        member = _upload(engine, "ana", tmp_path, "long.md", text)
        admin = _upload(engine, "root", tmp_path, "long.md", text)
        engine.work()
        [job] = engine.batch_report(member.batch_id)
        assert job["status"] == "failed" and job["error"]["code"] == "document_too_complex"
        assert "the limit for your uploads is 2" in job["error"]["message"]
        [job] = engine.batch_report(admin.batch_id)
        assert job["status"] == "done" and job["result"]["chunks"] > 2
    finally:
        engine.close()
