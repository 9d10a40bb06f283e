"""The permission filter inside both searches, with many principals, and RLS as a second wall."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tether.ingest.bulk import TextItem, index_texts
from tether.retrieve import dense
from tether.retrieve.retriever import retrieve
from tether.settings import Settings
from tether.store import principals
from tether.store.db import Database
from tether.store.rls import enter_reader

WORDS = ("leave policy contract liability salary budget server incident pricing retention "
         "travel expense onboarding laptop security password holiday invoice renewal notice").split()


@pytest.fixture
def world(settings: Settings, db: Database, embedder):
    """30 users in 8 groups; 400 short documents with random ACLs (some public)."""
    rng = random.Random(7)
    with db.transaction() as conn:
        gids = [principals.ensure_group(conn, f"g{i}") for i in range(8)]
        uids = []
        for u in range(30):
            uid = principals.ensure_user(conn, f"u{u}")
            uids.append(uid)
            for g in rng.sample(range(8), rng.randint(0, 2)):
                principals.add_member(conn, f"u{u}", f"g{g}")
    items = []
    for i in range(400):
        r = rng.random()
        if r < 0.1:
            acl = ("public",)
        elif r < 0.7:
            acl = (f"g:{rng.choice(gids)}",)
        else:
            acl = (f"u:{rng.choice(uids)}", f"g:{rng.choice(gids)}")
        text = " ".join(rng.choice(WORDS) for _ in range(30)) + f" marker{i}"
        items.append(TextItem(uri=f"t://{i}", title=f"doc {i}", text=text, acl=acl))
    index_texts(db, embedder, settings, items, collection="perm")
    return rng


def _visible(db: Database, tokens: list[str]) -> set[int]:
    with db.connection() as conn:
        rows = conn.execute("SELECT id FROM chunks WHERE acl && %s::text[]", (tokens,)).fetchall()
    return {r["id"] for r in rows}


def test_every_principal_sees_only_what_it_may(world, db, settings, embedder):
    with db.connection() as conn:
        names = [r["name"] for r in principals.list_users(conn)]
    for name in names:
        with db.connection() as conn:
            p = principals.get_principal(conn, name)
        visible = _visible(db, p.acl_tokens)
        for mode in ("bm25", "dense", "hybrid"):
            for q in ("liability contract renewal", "salary budget", "laptop password security"):
                with db.connection() as conn:
                    res = retrieve(conn, embedder, q, acl_tokens=p.acl_tokens, settings=settings.retrieve,
                                   k=20, mode=mode)
                got = {x.chunk_id for x in res.passages}
                assert got <= visible, (name, mode, got - visible)
                # a full top-k from what the principal may see (every chunk matches some query word)
                assert len(got) == min(20, len(visible)) or mode == "bm25", (name, mode, len(got), len(visible))


def test_rls_hides_rows_even_without_the_application_filter(world, db):
    with db.connection() as conn:
        p = principals.get_principal(conn, "u3")
    visible = _visible(db, p.acl_tokens)
    with db.connection() as conn:
        with conn.transaction():
            assert enter_reader(conn, p.acl_tokens)
            # no WHERE clause at all: the policies alone filter
            seen = {r["id"] for r in conn.execute("SELECT id FROM chunks").fetchall()}
            docs = conn.execute("SELECT count(*) AS n FROM documents").fetchone()["n"]
        total = conn.execute("SELECT count(*) AS n FROM chunks").fetchone()["n"]
    assert seen == visible and len(seen) < total
    assert docs < 400
    with db.connection() as conn, conn.transaction():
        assert enter_reader(conn, [])
        assert conn.execute("SELECT count(*) AS n FROM chunks").fetchone()["n"] == 0


def test_revoking_membership_applies_on_next_request(world, db, settings, embedder):
    with db.transaction() as conn:
        principals.ensure_user(conn, "solo")
        principals.add_member(conn, "solo", "g0")
        before = principals.get_principal(conn, "solo")
    with db.connection() as conn:
        res = retrieve(conn, embedder, "salary budget", acl_tokens=before.acl_tokens, settings=settings.retrieve, k=50)
    gid = before.group_ids[0]
    with db.connection() as conn:
        acls = [r["acl"] for r in conn.execute("SELECT acl FROM chunks WHERE id = ANY(%s)",
                                                ([x.chunk_id for x in res.passages],)).fetchall()]
    assert any(f"g:{gid}" in a for a in acls)  # the group's documents were visible before
    with db.transaction() as conn:
        principals.remove_member(conn, "solo", "g0")
        after = principals.get_principal(conn, "solo")
    visible = _visible(db, after.acl_tokens)
    with db.connection() as conn:
        res = retrieve(conn, embedder, "salary budget", acl_tokens=after.acl_tokens, settings=settings.retrieve, k=50)
    assert {x.chunk_id for x in res.passages} <= visible


def test_filtered_hnsw_recall_against_exact(db, settings, embedder):
    """Dense recall@10 >= 0.95 against exact search under a filter admitting 10% of chunks."""
    rng = np.random.default_rng(3)
    n, dim = 6000, embedder.dimension
    centers = rng.normal(size=(40, dim))
    vecs = centers[rng.integers(0, 40, n)] + 0.6 * rng.normal(size=(n, dim))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with db.transaction() as conn:
        from tether.store.documents import collection_id, ensure_embedding_index

        ensure_embedding_index(conn, embedder.name, dim)
        cid = collection_id(conn, "rec")
        doc = conn.execute(
            "INSERT INTO documents (collection_id, source_uri, format, content_hash, acl, body)"
            " VALUES (%s, 'r://1', 'txt', 'h', '{public}', 'x') RETURNING id", (cid,)).fetchone()["id"]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO chunks (document_id, collection_id, ordinal, text, char_start, char_end, token_count,"
                " acl, classification, source_uri, doc_date, embedding) VALUES (%s,%s,%s,'x',0,1,1,%s,'internal','r://1',now(),%s::vector)",
                [(doc, cid, i, ["g:1"] if i % 10 == 0 else ["g:2"], "[" + ",".join(f"{x:.6f}" for x in v) + "]")
                 for i, v in enumerate(vecs)],
            )
        conn.execute("ANALYZE chunks")
    recalls = []
    for q in rng.normal(size=(50, dim)):
        q = centers[rng.integers(0, 40)] + 0.6 * q
        q /= np.linalg.norm(q)
        with db.connection() as conn:
            approx = dense.search(conn, q, dimension=dim, acl_tokens=["g:1"], k=10)
            exact = dense.search(conn, q, dimension=dim, acl_tokens=["g:1"], k=10, exact=True)
        assert len(approx) == 10
        recalls.append(len({a for a, _ in approx} & {e for e, _ in exact}) / 10)
    assert np.mean(recalls) >= 0.95, np.mean(recalls)
