"""Pathological documents found by ``bench/ingest_limits.py`` (issue 17), end to end with the
real worker: each ends in a typed error without a retry, or is ingested, never ``internal``.

- HTML nested 20,000 ``<div>`` deep made the loader recurse past Python's limit (``internal``,
  retried): now ``document_too_complex``, at once;
- a run of 1,000,000 letters without a space is one token for the embedder's tokenizer, so it
  passed the token limits as one chunk of a million characters and its BM25 term overflowed
  PostgreSQL's index row (``internal``, retried three times, embedding each time): chunks are
  capped in characters (``max_chunk_chars``), and BM25 terms are cut to ``MAX_TERM_CHARS``, so
  a long identifier under the chunk cap is ingested and still found by search.
"""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from tether.engine import Tether
from tether.retrieve.analyzer import MAX_TERM_CHARS, analyze
from tether.store import principals


@pytest.fixture
def engine(settings):
    t = Tether(settings)
    with t.db.transaction() as conn:
        principals.ensure_user(conn, "ana")
    yield t
    t.close()


def _ingest(engine: Tether, tmp_path: Path, name: str, data: bytes) -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    batch = engine.ingest.upload(engine.principal("ana"), path, name, acl=["public"])
    engine.work()
    [job] = engine.batch_report(batch.batch_id)
    return job


def test_deeply_nested_html_is_refused_not_crashed(engine, tmp_path):
    n = 20_000
    job = _ingest(engine, tmp_path, "deep.html",
                  f"<html><body>{'<div>' * n}<p>Lunch is at noon.</p>{'</div>' * n}</body></html>".encode())
    assert job["status"] == "failed" and job["attempts"] == 1
    assert job["error"]["code"] == "document_too_complex" and "nested too deeply" in job["error"]["message"]


def test_a_million_letter_word_is_refused_before_embedding(engine, tmp_path, monkeypatch):
    calls: list[int] = []
    real = engine.embedder.embed
    monkeypatch.setattr(engine.embedder, "embed", lambda texts: calls.append(len(texts)) or real(texts))
    job = _ingest(engine, tmp_path, "blob.txt", b"x" * 1_000_000 + b"\n")
    assert job["status"] == "failed" and job["attempts"] == 1 and calls == []
    assert job["error"]["code"] == "document_too_complex"
    assert "a chunk of 1,000,000 characters; the limit is 20,000" in job["error"]["message"]


def test_a_long_identifier_is_ingested_and_found(engine, tmp_path):
    rng = random.Random(7)
    ident = "".join(rng.choice(string.ascii_lowercase) for _ in range(6000))  # incompressible
    assert analyze(ident) == [analyze(ident[:MAX_TERM_CHARS])[0]] and len(analyze(ident)[0]) <= MAX_TERM_CHARS
    text = f"# Build keys\n\nThe release signing key is {ident} and it rotates yearly.\n"
    job = _ingest(engine, tmp_path, "keys.md", text.encode())
    assert job["status"] == "done", job["error"]
    hits = engine.search(engine.principal("ana"), ident[:MAX_TERM_CHARS], k=3, mode="bm25").passages
    assert hits and hits[0].title == "Build keys"
