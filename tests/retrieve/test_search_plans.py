"""Planner settings of the searches: scoped to their own statements, and the dense fallback for
filters too selective for the HNSW walk."""

from __future__ import annotations

import numpy as np

from tether.retrieve import dense, keyword
from tether.store.rls import enter_reader

SETTINGS = ("enable_nestloop", "enable_bitmapscan", "enable_seqscan", "jit", "work_mem")


def _settings(conn) -> dict[str, str]:
    return {n: conn.execute(f"SELECT current_setting('{n}') AS v").fetchone()["v"] for n in SETTINGS}


def _corpus(conn, dim: int, n: int, rng) -> tuple[np.ndarray, list[int]]:
    from tether.store.documents import collection_id, ensure_embedding_index

    ensure_embedding_index(conn, "test-vectors", dim)
    cid = collection_id(conn, "plans")
    doc = conn.execute(
        "INSERT INTO documents (collection_id, source_uri, format, content_hash, acl, body)"
        " VALUES (%s, 'p://1', 'txt', 'h', '{public}', 'x') RETURNING id", (cid,)).fetchone()["id"]
    vecs = rng.normal(size=(n, dim))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    texts = [" ".join(rng.choice(["alpha", "beta", "gamma", "delta", "omega"], size=8)) for _ in range(n)]
    terms = [keyword.analyze(t) for t in texts]
    rows = conn.execute(
        "INSERT INTO chunks (document_id, collection_id, ordinal, text, char_start, char_end, token_count,"
        " acl, classification, source_uri, doc_date, bm25_len, embedding)"
        " SELECT %s, %s, o, t, 0, length(t), l, CASE WHEN o %% 50 = 0 THEN '{g:few}'::text[] ELSE '{g:many}' END,"
        " 'internal', 'p://1', now(), l, e::vector"
        " FROM unnest(%s::text[], %s::int[], %s::text[]) WITH ORDINALITY AS u(t, l, e, o) RETURNING id, ordinal",
        (doc, cid, texts, [len(t) for t in terms], ["[" + ",".join(f"{x:.6f}" for x in v) + "]" for v in vecs]),
    ).fetchall()
    ids = [r["id"] for r in sorted(rows, key=lambda r: r["ordinal"])]
    keyword.index_chunks(conn, ids, terms, k1=1.2, b=0.75)
    conn.execute("ANALYZE chunks")
    return vecs, ids


def test_search_settings_do_not_leak_into_the_callers_transaction(db, monkeypatch) -> None:
    monkeypatch.setattr(keyword, "EXACT_POSTINGS", 0)  # the pruned path, with its own settings
    rng = np.random.default_rng(5)
    with db.transaction() as conn:
        vecs, _ = _corpus(conn, 16, 400, rng)
    with db.connection() as conn:
        before = _settings(conn)
        conn.commit()
        with conn.transaction():
            enter_reader(conn, ["g:many", "g:few"])
            assert keyword.search(conn, "alpha beta omega", acl_tokens=["g:many", "g:few"], k=10)
            assert dense.search(conn, vecs[3], dimension=16, acl_tokens=["g:many", "g:few"], k=10)
            assert _settings(conn) == before
        assert _settings(conn) == before


def test_dense_falls_back_when_the_filter_is_too_selective_for_hnsw(db, monkeypatch) -> None:
    """With the HNSW walk capped far below what a 2% filter needs, the first try finds fewer than
    k visible rows; the second (planner's choice) must still return the true neighbours, and only
    visible ones."""
    monkeypatch.setattr(dense, "MAX_SCAN_TUPLES", 20)
    rng = np.random.default_rng(9)
    with db.transaction() as conn:
        vecs, ids = _corpus(conn, 16, 1500, rng)
    few = {cid for i, cid in enumerate(ids) if (i + 1) % 50 == 0}
    for q in vecs[:10]:
        with db.connection() as conn:
            got = dense.search(conn, q, dimension=16, acl_tokens=["g:few"], k=20)
            ref = dense.search(conn, q, dimension=16, acl_tokens=["g:few"], k=20, exact=True)
        assert len(got) == 20 and {c for c, _ in got} <= few
        assert len({c for c, _ in got} & {c for c, _ in ref}) >= 19
