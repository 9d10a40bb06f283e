"""BM25 keyword search in PostgreSQL: exact statistics, agreement with bm25s, filters, drift."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tether.retrieve import keyword, keyword_topk
from tether.retrieve.analyzer import analyze
from tether.retrieve.filters import SearchFilter

SCIFACT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "retrieval" / "scifact-dev"
K1, B = 1.2, 0.75
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _collection(conn, name: str) -> int:
    return conn.execute("INSERT INTO collections (name) VALUES (%s) RETURNING id", (name,)).fetchone()["id"]


def _add_doc(conn, coll: int, uri: str, texts: list[str], *, acl=("public",), cls="internal",
             date=T0, quarantined=False) -> list[int]:  # fmt: skip
    doc = conn.execute(
        "INSERT INTO documents (collection_id, source_uri, format, content_hash, acl, classification, body)"
        " VALUES (%s, %s, 'txt', 'h', %s, %s, %s) RETURNING id",
        (coll, uri, list(acl), cls, "\n".join(texts)),
    ).fetchone()["id"]
    return _add_chunks(conn, doc, coll, uri, texts, acl=acl, cls=cls, date=date, quarantined=quarantined)


def _add_chunks(conn, doc, coll, uri, texts, *, acl=("public",), cls="internal", date=T0, quarantined=False):
    terms = [analyze(t) for t in texts]
    rows = conn.execute(
        "INSERT INTO chunks (document_id, collection_id, ordinal, text, char_start, char_end, token_count,"
        " acl, classification, source_uri, doc_date, quarantined, bm25_len)"
        " SELECT %s, %s, o, t, 0, length(t), l, %s, %s, %s, %s, %s, l"
        " FROM unnest(%s::text[], %s::int[]) WITH ORDINALITY AS u(t, l, o) RETURNING id, ordinal",
        (doc, coll, list(acl), cls, uri, date, quarantined, texts, [len(t) for t in terms]),
    ).fetchall()
    ids = [r["id"] for r in sorted(rows, key=lambda r: r["ordinal"])]
    keyword.index_chunks(conn, ids, terms, k1=K1, b=B)
    return ids


def _add_docs_bulk(conn, coll: int, items: list[tuple[str, str, list[str], bool]]) -> list[int]:
    """One single-chunk document per ``(uri, text, acl, quarantined)``, indexed in one call."""
    uris, texts = [u for u, *_ in items], [t for _, t, *_ in items]
    acls = ["{" + ",".join(a) + "}" for _, _, a, _ in items]
    terms = [analyze(t) for t in texts]
    rows = conn.execute(
        "WITH d AS (INSERT INTO documents (collection_id, source_uri, format, content_hash, acl, body)"
        "  SELECT %s, u, 'txt', 'h', a::text[], t FROM unnest(%s::text[], %s::text[], %s::text[]) AS x(u, t, a)"
        "  RETURNING id, source_uri, acl)"
        " INSERT INTO chunks (document_id, collection_id, ordinal, text, char_start, char_end, token_count,"
        "  acl, classification, source_uri, doc_date, quarantined, bm25_len)"
        " SELECT d.id, %s, 1, x.t, 0, length(x.t), x.l, d.acl, 'internal', d.source_uri, %s, x.q, x.l"
        " FROM unnest(%s::text[], %s::text[], %s::int[], %s::bool[]) AS x(u, t, l, q)"
        " JOIN d ON d.source_uri = x.u RETURNING id, source_uri",
        (coll, uris, texts, acls, coll, T0, uris, texts, [len(t) for t in terms], [q for *_, q in items]),
    ).fetchall()
    by_uri = {r["source_uri"]: r["id"] for r in rows}
    ids = [by_uri[u] for u in uris]
    keyword.index_chunks(conn, ids, terms, k1=K1, b=B)
    return ids


def _load_scifact(n: int) -> list[tuple[str, str]]:
    out = []
    with open(SCIFACT / "corpus.jsonl") as f:
        for line in f:
            d = json.loads(line)
            out.append((d["_id"], (d.get("title", "") + " " + d["text"]).strip()))
            if len(out) == n:
                break
    return out


def _queries(n: int) -> list[str]:
    with open(SCIFACT / "queries.jsonl") as f:
        return [json.loads(line)["text"] for line in f][:n]


def _check_stats(conn) -> None:
    """df, n_chunks and total_len equal a recount from the chunks themselves."""
    texts = [r["text"] for r in conn.execute("SELECT text FROM chunks")]
    toks = [analyze(t) for t in texts]
    st = conn.execute("SELECT n_chunks, total_len FROM bm25_stats").fetchone()
    assert st["n_chunks"] == len(texts)
    assert st["total_len"] == sum(len(t) for t in toks)
    df = Counter(t for ts in toks for t in set(ts))
    got = {r["term"]: r["df"] for r in conn.execute("SELECT term, df FROM bm25_terms WHERE df > 0")}
    assert got == dict(df)
    tf_rows = conn.execute("SELECT count(*) AS n, coalesce(sum(tf), 0) AS s FROM bm25_postings").fetchone()
    assert tf_rows["n"] == sum(len(set(t)) for t in toks) and tf_rows["s"] == st["total_len"]


def test_analyze() -> None:
    assert analyze("The Running dogs, and THE cats!") == ["run", "dog", "cat"]
    assert analyze("COVID-19 in 2020: a_b x 42") == ["covid", "19", "2020", "42"]
    assert analyze("Café naïve Ελληνικά") == ["café", "naïv", "ελληνικά"]
    assert analyze("") == [] and analyze("the of and") == []


def test_stats_exact_under_insert_delete_replace(db) -> None:
    with db.connection() as conn:
        coll = _collection(conn, "c")
        _add_doc(conn, coll, "a", ["alpha beta beta gamma", "beta delta", "the and of"])
        _add_doc(conn, coll, "b", ["alpha alpha epsilon", "gamma gamma gamma beta"])
        _check_stats(conn)
        conn.execute("DELETE FROM documents WHERE source_uri = 'a'")  # cascades to chunks, postings
        _check_stats(conn)
        doc = conn.execute("SELECT id FROM documents WHERE source_uri = 'b'").fetchone()["id"]
        with conn.transaction():  # replace the document's chunks
            conn.execute("DELETE FROM chunks WHERE document_id = %s", (doc,))
            _add_chunks(conn, doc, coll, "b", ["zeta eta", "alpha zeta zeta zeta"])
        _check_stats(conn)
        assert keyword.search(conn, "zeta", acl_tokens=None)[0][0] == keyword.exact_search(
            conn, "zeta", acl_tokens=None)[0][0]  # fmt: skip
        conn.execute("DELETE FROM documents")
        _check_stats(conn)
        assert keyword.search(conn, "alpha", acl_tokens=None) == []


def _bm25s(docs_tokens):
    import bm25s

    model = bm25s.BM25(method="lucene", k1=K1, b=B)
    model.index(docs_tokens, show_progress=False)
    return model


def _compare(conn, model, ids: list[int], queries: list[str], search_fn) -> tuple[int, int]:
    vocab = model.vocab_dict
    ok = total = 0
    for q in queries:
        qt = [t for t in analyze(q) if t in vocab]
        if not qt:
            continue
        total += 1
        scores = model.get_scores(qt)
        order = sorted(range(len(ids)), key=lambda i: -scores[i])[:10]
        ref = [(ids[i], float(scores[i])) for i in order if scores[i] > 0]
        got = search_fn(conn, q, acl_tokens=None, k=10)
        if len(got) != len(ref):
            continue
        if any(abs(g[1] - r[1]) > 1e-4 * max(1.0, r[1]) for g, r in zip(got, ref)):
            continue
        cut = ref[-1][1]  # ids must agree except among ties at the cut
        strict_ref = {c for c, s in ref if s > cut * (1 + 1e-5)}
        if strict_ref <= {c for c, _ in got}:
            ok += 1
    return ok, total


def _pruned(monkeypatch):
    """Force the MaxScore path (small corpora would otherwise be aggregated in full), with a seed
    small enough that both attempts and the probes of non-essential terms are exercised."""
    monkeypatch.setattr(keyword, "EXACT_POSTINGS", 0)
    monkeypatch.setattr(keyword_topk, "SEED_POSTINGS", 20)
    monkeypatch.setattr(keyword_topk, "NONESSENTIAL_MIN_DF", 0.0)


def test_matches_bm25s_on_scifact_including_deletes(db, monkeypatch) -> None:
    corpus = _load_scifact(2000)
    queries = _queries(100)
    with db.connection() as conn:
        coll = _collection(conn, "scifact")
        ids = []
        for start in range(0, len(corpus), 500):
            ids += _add_docs_bulk(conn, coll, [(e, t, ["public"], False) for e, t in corpus[start : start + 500]])
            conn.commit()
        toks = [analyze(t) for _, t in corpus]
        model = _bm25s(toks)
        for fn in (keyword.search, keyword.exact_search):
            ok, total = _compare(conn, model, ids, queries, fn)
            assert total >= 95 and ok >= total - 2, (fn.__name__, ok, total)
        with monkeypatch.context() as m:
            _pruned(m)
            ok, total = _compare(conn, model, ids, queries, keyword.search)
            assert total >= 95 and ok >= total - 2, ("pruned", ok, total)
        # delete 10% of the documents; rebuild the reference on what remains
        gone = {ext for i, (ext, _) in enumerate(corpus) if i % 10 == 3}
        conn.execute("DELETE FROM documents WHERE source_uri = ANY(%s)", (list(gone),))
        conn.commit()
        keep = [i for i, (ext, _) in enumerate(corpus) if ext not in gone]
        model = _bm25s([toks[i] for i in keep])
        ok, total = _compare(conn, model, [ids[i] for i in keep], queries, keyword.search)
        assert total >= 95 and ok >= total - 2, (ok, total)
        _pruned(monkeypatch)
        ok, total = _compare(conn, model, [ids[i] for i in keep], queries, keyword.search)
        assert total >= 95 and ok >= total - 2, ("pruned", ok, total)
        for q in queries[:30]:  # top-100 agrees with full aggregation, scores included
            got, ref = keyword.search(conn, q, acl_tokens=None), keyword.exact_search(conn, q, acl_tokens=None)
            assert [s for _, s in got] == pytest.approx([s for _, s in ref], rel=0, abs=1e-9)


@pytest.mark.parametrize("force_pruning", [False, True])
def test_acl_filter_inside_the_query(db, monkeypatch, force_pruning) -> None:
    if force_pruning:
        _pruned(monkeypatch)
    corpus = _load_scifact(600)
    with db.connection() as conn:
        coll = _collection(conn, "acl")
        items = [(e, t, ["g:few"] if i % 20 == 0 else ["g:many"], i % 20 == 10) for i, (e, t) in enumerate(corpus)]
        ids = _add_docs_bulk(conn, coll, items)
        secret = {c for c, it in zip(ids, items) if it[2] != ["g:few"]}
        visible = {r["id"] for r in conn.execute("SELECT id FROM chunks WHERE 'g:few' = ANY(acl)")}
        assert len(visible) == 30
        for q in ["cell", "cells protein expression", "the effect of treatment on patients"]:
            got = keyword.search(conn, q, acl_tokens=["g:few"], k=10)
            ref = keyword.exact_search(conn, q, acl_tokens=["g:few"], k=10)
            assert got and {c for c, _ in got} <= visible and not ({c for c, _ in got} & secret)
            assert [s for _, s in got] == pytest.approx([s for _, s in ref], rel=0, abs=1e-9)
        matching = {c for c, _ in keyword.exact_search(conn, "cell", acl_tokens=None, k=1000)}
        assert len(keyword.search(conn, "cell", acl_tokens=["g:few"], k=10)) == min(10, len(matching & visible))
        assert keyword.search(conn, "cell", acl_tokens=["g:nobody"]) == []
        quarantined = {r["id"] for r in conn.execute("SELECT id FROM chunks WHERE quarantined")}
        assert not ({c for c, _ in keyword.search(conn, "cell", acl_tokens=None, k=1000)} & quarantined)


def test_metadata_filters(db) -> None:
    corpus = _load_scifact(300)
    with db.connection() as conn:
        colls = [_collection(conn, "alpha"), _collection(conn, "beta")]
        for i, (ext, text) in enumerate(corpus):
            _add_doc(conn, colls[i % 2], f"{'s3://x' if i % 3 else 'file:/y'}/{ext}", [text],
                     cls="secret" if i % 4 == 0 else "internal", date=T0 + timedelta(days=i))  # fmt: skip
        rows = {r["id"]: r for r in conn.execute(
            "SELECT c.id, c.classification, c.source_uri, c.doc_date, k.name FROM chunks c"
            " JOIN collections k ON k.id = c.collection_id")}  # fmt: skip
        cases = [
            (SearchFilter(collections=("beta",)), lambda r: r["name"] == "beta"),
            (SearchFilter(classifications=("secret",)), lambda r: r["classification"] == "secret"),
            (SearchFilter(date_from=T0 + timedelta(days=50), date_to=T0 + timedelta(days=100)),
             lambda r: T0 + timedelta(days=50) <= r["doc_date"] <= T0 + timedelta(days=100)),
            (SearchFilter(source_prefix="s3://x/"), lambda r: r["source_uri"].startswith("s3://x/")),
        ]  # fmt: skip
        for flt, pred in cases:
            allowed = {i for i, r in rows.items() if pred(r)}
            got = keyword.search(conn, "cell protein", acl_tokens=["public"], flt=flt, k=20)
            ref = keyword.exact_search(conn, "cell protein", acl_tokens=["public"], flt=flt, k=20)
            assert got and {c for c, _ in got} <= allowed
            assert [s for _, s in got] == pytest.approx([s for _, s in ref], rel=0, abs=1e-9)


def test_exact_under_length_drift_and_reweight(db, monkeypatch) -> None:
    _pruned(monkeypatch)
    corpus = _load_scifact(400)
    with db.connection() as conn:
        coll = _collection(conn, "drift")
        for ext, text in corpus[:200]:  # short chunks first, then long ones: avgdl grows
            _add_doc(conn, coll, ext, [" ".join(text.split()[:40])])
        for ext, text in corpus[200:]:
            _add_doc(conn, coll, ext, [text + " " + text])
        queries = _queries(40)
        for q in queries:
            got = keyword.search(conn, q, acl_tokens=None, k=20)
            ref = keyword.exact_search(conn, q, acl_tokens=None, k=20)
            assert [s for _, s in got] == pytest.approx([s for _, s in ref], rel=0, abs=1e-9), q
        n, total = keyword.stats(conn)
        assert keyword.reweight(conn, k1=K1, b=B) > 0
        w = conn.execute(
            "SELECT p.tf, p.weight, c.bm25_len FROM bm25_postings p JOIN chunks c ON c.id = p.chunk_id LIMIT 200"
        ).fetchall()
        for r in w:
            want = (K1 + 1) * keyword.tfc(r["tf"], r["bm25_len"], total / n, K1, B)
            assert math.isclose(r["weight"], want, rel_tol=1e-6)
        for q in queries:
            got = keyword.search(conn, q, acl_tokens=None, k=20)
            ref = keyword.exact_search(conn, q, acl_tokens=None, k=20)
            assert [s for _, s in got] == pytest.approx([s for _, s in ref], rel=0, abs=1e-9), q


def test_maxscore_path_at_real_limits_is_exact(db, monkeypatch) -> None:
    """The pruning path with its production settings (only EXACT_POSTINGS lowered so a 2000-chunk
    corpus takes it) returns the exact top-10 and top-100, scores included, with and without a
    filter; and never falls back silently: count the attempts that hand over to aggregation."""
    monkeypatch.setattr(keyword, "EXACT_POSTINGS", 0)
    fallbacks = []
    orig = keyword.maxscore_topk

    def spy(*a, **kw):
        out = orig(*a, **kw)
        fallbacks.append(out is None)
        return out

    monkeypatch.setattr(keyword, "maxscore_topk", spy)
    corpus = _load_scifact(2000)
    queries = _queries(60)
    with db.connection() as conn:
        coll = _collection(conn, "real")
        items = [(e, t, ["g:a"] if i % 10 == 0 else ["g:b"], False) for i, (e, t) in enumerate(corpus)]
        for start in range(0, len(items), 500):
            _add_docs_bulk(conn, coll, items[start : start + 500])
        conn.commit()
        for acl in (None, ["g:a"]):
            for q in queries:
                for k in (10, 100):
                    got = keyword.search(conn, q, acl_tokens=acl, k=k)
                    ref = keyword.exact_search(conn, q, acl_tokens=acl, k=k)
                    assert [s for _, s in got] == pytest.approx([s for _, s in ref], rel=0, abs=1e-9), (q, acl, k)
                    cut = ref[-1][1] if ref else 0.0
                    assert {c for c, s in ref if s > cut + 1e-9} <= {c for c, _ in got}, (q, acl, k)
        assert fallbacks and sum(fallbacks) <= len(fallbacks) // 10, (sum(fallbacks), len(fallbacks))
