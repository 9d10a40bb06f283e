"""BM25 in Portuguese and Dutch: each chunk analysed in its language, queries read in every
language. An inflected query finds the Portuguese and Dutch chunks that English stemming misses;
monolingual scores equal the reference pipeline (``bm25s`` tokenising with the same Snowball
stemmer and stopword list), on the full-aggregation and the pruned (MaxScore) paths alike."""

from __future__ import annotations

import pytest
import Stemmer

from tether.retrieve import keyword, keyword_topk
from tether.retrieve.analyzer import analyze, analyze_query

K1, B = 1.2, 0.75

PT = [
    "O contrato de arrendamento do escritório de Lisboa tem a duração de cinco anos.",
    "As reparações acima de 1.500 euros precisam de aprovação por escrito do senhorio.",
    "A renda mensal é paga no primeiro dia útil de cada mês por transferência bancária.",
    "Os trabalhadores de Lisboa têm direito a vinte e cinco dias úteis de férias por ano.",
    "As despesas de deslocação são reembolsadas com os recibos originais no prazo de trinta dias.",
    "O subsídio de refeição é pago em cartão e não acumula com as ajudas de custo.",
    "Os pedidos de férias são aprovados pela chefia direta com duas semanas de antecedência.",
    "A renovação automática dos contratos depende de aviso prévio de seis meses.",
]  # fmt: skip
NL = [
    "De huurovereenkomst voor het kantoor in Utrecht loopt vijf jaar vanaf maart 2026.",
    "De opzegtermijn van de huurder is zes maanden, schriftelijk per aangetekende brief.",
    "Medewerkers in Utrecht krijgen een reiskostenvergoeding voor woon-werkverkeer per fiets.",
    "Declaraties van zakelijke kosten worden binnen dertig dagen met de bonnen ingediend.",
    "Reparaties boven 1.500 euro vereisen vooraf de schriftelijke goedkeuring van de verhuurder.",
    "Verlofaanvragen worden twee weken vooraf door de leidinggevende goedgekeurd.",
    "Thuiswerken is mogelijk op twee dagen per week in overleg met het team.",
    "De vergoeding voor thuiswerken bedraagt twee euro per gewerkte dag.",
]  # fmt: skip
EN = [
    "Repairs above EUR 1,500 need the written approval of the landlord.",
    "The lease of the Dublin office runs for ten years with a break clause after five.",
    "Leave requests are approved by the line manager two weeks in advance.",
]


def _collection(conn, name: str) -> int:
    return conn.execute("INSERT INTO collections (name) VALUES (%s) RETURNING id", (name,)).fetchone()["id"]


def _index(conn, coll: int, docs: list[tuple[str, str, str]]) -> dict[int, str]:
    """One single-chunk document per ``(uri, text, language)``; returns chunk id -> uri."""
    out: dict[int, str] = {}
    for uri, text, lang in docs:
        doc = conn.execute(
            "INSERT INTO documents (collection_id, source_uri, format, content_hash, acl, body, language)"
            " VALUES (%s, %s, 'txt', 'h', '{public}', %s, %s) RETURNING id", (coll, uri, text, lang),
        ).fetchone()["id"]
        terms = analyze(text, lang)
        cid = conn.execute(
            "INSERT INTO chunks (document_id, collection_id, ordinal, text, char_start, char_end, token_count,"
            " acl, classification, source_uri, doc_date, bm25_len, language)"
            " VALUES (%s, %s, 1, %s, 0, length(%s), %s, '{public}', 'internal', %s, now(), %s, %s) RETURNING id",
            (doc, coll, text, text, len(terms), uri, len(terms), lang),
        ).fetchone()["id"]
        keyword.index_chunks(conn, [cid], [terms], k1=K1, b=B)
        out[cid] = uri
    return out


def _top(conn, ids: dict[int, str], query: str) -> list[str]:
    return [ids[c] for c, _ in keyword.search(conn, query, acl_tokens=None, k=3)]


def test_analyzers_per_language() -> None:
    assert analyze("As aprovações dos contratos", "pt") == ["pt:aprov", "pt:contrat"]  # "as", "dos": stopwords
    assert analyze("aprovação", "pt") == analyze("aprovações", "pt")
    assert analyze("aprovação") != analyze("aprovações")  # English Snowball keeps them apart
    assert analyze("De huurovereenkomsten en opzegtermijnen", "nl") == ["nl:huurovereenkomst", "nl:opzegtermijn"]
    assert analyze("The leases") == ["leas"]  # English is unprefixed, as before
    assert analyze_query("leases", ("en", "pt")) == ["leas", "pt:leas"]
    with pytest.raises(ValueError, match="supported: en, pt, nl, de, fr, es"):
        analyze("text", "xx")


def test_inflected_queries_find_portuguese_and_dutch_chunks_english_stemming_misses(db) -> None:
    docs = [(f"pt{i}", t, "pt") for i, t in enumerate(PT)] + [(f"nl{i}", t, "nl") for i, t in enumerate(NL)]
    docs += [(f"en{i}", t, "en") for i, t in enumerate(EN)]
    queries = {"reparação aprovações": "pt1", "renovações": "pt7", "huurovereenkomsten": "nl0",
               "opzegtermijnen": "nl1", "vergoedingen": "nl7"}
    with db.connection() as conn:
        coll = _collection(conn, "all-english")
        ids = _index(conn, coll, [(u, t, "en") for u, t, _ in docs])  # as before: English for all
        missed = {q: _top(conn, ids, q)[:1] for q in queries}
        assert all(top != [want] for (q, want), top in zip(queries.items(), missed.values())), missed
        conn.execute("DELETE FROM documents")
        ids = _index(conn, _collection(conn, "by-language"), docs)
        found = {q: _top(conn, ids, q)[:1] for q in queries}
        assert found == {q: [want] for q, want in queries.items()}
        # English queries still find the English chunk first, with the others in the index
        assert _top(conn, ids, "written approval of repairs")[:1] == ["en0"]
        assert _top(conn, ids, "leave requests approved")[:1] == ["en2"]


def _reference(texts: list[str], language: str, stemmer: str):
    import bm25s

    tokens = bm25s.tokenize(texts, stopwords=language, stemmer=Stemmer.Stemmer(stemmer).stemWords,
                            return_ids=False, show_progress=False)
    model = bm25s.BM25(method="lucene", k1=K1, b=B)
    model.index(tokens, show_progress=False)
    return model, tokens


@pytest.mark.parametrize(("language", "stemmer", "texts", "queries"), [
    ("pt", "portuguese", PT, ["férias aprovadas", "contratos de arrendamento", "reparações", "dias úteis",
                              "despesas reembolsadas recibos", "renda mensal paga"]),
    ("nl", "dutch", NL, ["huurovereenkomsten utrecht", "thuiswerken vergoeding", "opzegtermijnen",
                         "declaraties bonnen", "verlof goedgekeurd", "reparaties goedkeuring"]),
])  # fmt: skip
def test_monolingual_scores_equal_bm25s_with_the_same_stemmer(db, monkeypatch, language, stemmer, texts,
                                                              queries) -> None:
    import bm25s

    model, tokens = _reference(texts, language, stemmer)
    prefix = language + ":"
    assert [[t.removeprefix(prefix) for t in analyze(x, language)] for x in texts] == tokens
    with db.connection() as conn:
        ids = list(_index(conn, _collection(conn, language), [(str(i), t, language) for i, t in enumerate(texts)]))
        for pruned in (False, True):
            if pruned:  # force the MaxScore path on this small corpus
                monkeypatch.setattr(keyword, "EXACT_POSTINGS", 0)
                monkeypatch.setattr(keyword_topk, "SEED_POSTINGS", 2)
                monkeypatch.setattr(keyword_topk, "NONESSENTIAL_MIN_DF", 0.0)
            for q in queries:
                qt = bm25s.tokenize([q], stopwords=language, stemmer=Stemmer.Stemmer(stemmer).stemWords,
                                    return_ids=False, show_progress=False)[0]
                scores = model.get_scores(qt)
                ref = sorted(((ids[i], float(s)) for i, s in enumerate(scores) if s > 0), key=lambda r: (-r[1], r[0]))
                assert ref, q
                for fn in (keyword.search, keyword.exact_search):
                    got = fn(conn, q, acl_tokens=None, k=len(texts))
                    assert [c for c, _ in got] == [c for c, _ in ref], (q, fn.__name__, pruned)
                    assert [s for _, s in got] == pytest.approx([s for _, s in ref], rel=1e-5), q
