"""BM25 and dense search of a hybrid retrieval run at once on two connections (issue 21).

The concurrent path must return exactly what the sequential one does (same snapshot, same
permission filter, same RLS role), and fall back to sequential when no spare connection is free.
"""

from __future__ import annotations

import random

import pytest

from tether.ingest.bulk import TextItem, index_texts
from tether.retrieve.retriever import _dense_beside, retrieve
from tether.settings import Settings
from tether.store import principals
from tether.store.db import Database

WORDS = ("leave policy contract liability salary budget server incident pricing retention "
         "travel expense onboarding laptop security password holiday invoice renewal notice").split()
QUERIES = ("liability contract renewal", "salary budget holiday", "laptop password security incident")


@pytest.fixture
def pair(db_url: str):
    """A pool holding three open connections, so a spare one is always at hand."""
    database = Database(db_url, min_size=3, max_size=4).open()
    yield database
    database.close()


@pytest.fixture
def corpus(settings: Settings, db: Database, embedder):
    """240 short documents over four groups (and some public), two users."""
    rng = random.Random(21)
    with db.transaction() as conn:
        gids = [principals.ensure_group(conn, f"grp{i}") for i in range(4)]
        for name, groups in (("ann", [0]), ("bob", [1, 2])):
            principals.ensure_user(conn, name)
            for g in groups:
                principals.add_member(conn, name, f"grp{g}")
    items = []
    for i in range(240):
        acl = ("public",) if i % 10 == 0 else (f"g:{gids[i % 4]}",)
        text = " ".join(rng.choice(WORDS) for _ in range(25)) + f" marker{i}"
        items.append(TextItem(uri=f"c://{i}", title=f"doc {i}", text=text, acl=acl))
    index_texts(db, embedder, settings, items, collection="conc")


def _principals(db: Database) -> list[list[str] | None]:
    with db.connection() as conn:
        return [None] + [principals.get_principal(conn, n).acl_tokens for n in ("ann", "bob")]


def _signature(res):
    return [(p.chunk_id, round(p.score, 9), tuple(sorted((k, round(v, 9)) for k, v in p.scores.items())))
            for p in res.passages]


def test_concurrent_equals_sequential_for_every_principal(corpus, pair, settings, embedder):
    for tokens in _principals(pair):
        for q in QUERIES:
            vec = embedder.embed([q])[0]
            with pair.connection() as conn:
                seq = retrieve(conn, embedder, q, acl_tokens=tokens, settings=settings.retrieve, k=15,
                               query_vec=vec)
            with pair.connection() as conn, pair.spare() as side:
                assert side is not None
                par = retrieve(conn, embedder, q, acl_tokens=tokens, settings=settings.retrieve, k=15,
                               query_vec=vec, side=side)
            assert par.concurrent and not seq.concurrent
            assert par.rls == seq.rls == (tokens is not None)
            assert len(par.passages) == 15
            assert _signature(par) == _signature(seq), (tokens, q)
            assert par.candidates == seq.candidates


def test_dense_beside_stays_inside_the_permission_filter(corpus, pair, settings, embedder):
    tokens = _principals(pair)[1]
    assert tokens is not None
    with pair.connection() as conn:
        visible = {r["id"] for r in conn.execute("SELECT id FROM chunks WHERE acl && %s::text[]", (tokens,))}
        total = conn.execute("SELECT count(*) AS n FROM chunks").fetchone()["n"]
    assert 0 < len(visible) < total
    with pair.connection() as conn, pair.spare() as side:
        res = retrieve(conn, embedder, "contract renewal notice", acl_tokens=tokens, settings=settings.retrieve,
                       k=100, side=side)
    assert res.concurrent
    assert {p.chunk_id for p in res.passages} <= visible
    assert res.candidates["dense"] == min(settings.retrieve.candidates, len(visible))


def test_the_side_search_reads_the_callers_snapshot(corpus, pair, settings, embedder):
    """A document committed after the caller's snapshot was exported is invisible to the side
    search (it imports that snapshot), and visible to the same search in a new one."""
    q = "quarterly zebra migration forecast"
    vec = embedder.embed([q])[0]
    with pair.connection() as conn, pair.spare() as side:
        assert side is not None
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot() AS s").fetchone()["s"]
        index_texts(pair, embedder, settings, [TextItem(uri="c://late", title="late", text=q)], collection="conc")
        before, _ = _dense_beside(side, snapshot, vec, embedder, None, None, 5, settings.retrieve)
        conn.rollback()
    with pair.connection() as conn, pair.spare() as side:
        now = retrieve(conn, embedder, q, acl_tokens=None, settings=settings.retrieve, k=5, query_vec=vec, side=side)
        late = conn.execute("SELECT id FROM chunks WHERE source_uri = 'c://late'").fetchone()["id"]
    assert now.concurrent and now.passages[0].chunk_id == late  # found first in a new snapshot
    assert late not in {cid for cid, _ in before} and len(before) == 5


def test_a_caller_transaction_runs_sequentially(corpus, pair, settings, embedder):
    with pair.connection() as conn, pair.spare() as side:
        conn.execute("SELECT 1")  # the caller's transaction is open
        res = retrieve(conn, embedder, QUERIES[2], acl_tokens=None, settings=settings.retrieve, k=5, side=side)
    assert not res.concurrent and len(res.passages) == 5


def test_no_spare_connection_means_sequential(corpus, db_url, settings, embedder):
    small = Database(db_url, min_size=1, max_size=1).open()
    try:
        with small.connection() as conn, small.spare() as side:
            assert side is None  # the only connection is taken: no wait, no deadlock
            res = retrieve(conn, embedder, QUERIES[0], acl_tokens=None, settings=settings.retrieve, k=5, side=side)
        assert not res.concurrent and len(res.passages) == 5
    finally:
        small.close()


def test_setting_off_or_single_mode_ignores_the_side(corpus, pair, settings, embedder):
    off = settings.retrieve.model_copy(update={"concurrent_searches": False})
    with pair.connection() as conn, pair.spare() as side:
        assert not retrieve(conn, embedder, QUERIES[1], acl_tokens=None, settings=off, k=5, side=side).concurrent
        dense_only = retrieve(conn, embedder, QUERIES[1], acl_tokens=None, settings=settings.retrieve, k=5,
                              mode="dense", side=side)
        assert not dense_only.concurrent and "bm25" not in dense_only.timings_ms
