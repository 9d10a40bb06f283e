"""Ingest detects each document's language and stores it with the document and its chunks; the
chunks' BM25 terms are written in that language, so an inflected Portuguese or Dutch query finds
them through the real pipeline (real PostgreSQL, the bundled embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.engine import Tether
from tether.store import principals

PT = """# Anexo local de Lisboa

## Férias

Os trabalhadores do escritório de Lisboa têm direito a vinte e cinco dias úteis de férias por ano.
Os pedidos de férias são aprovados pela chefia direta com duas semanas de antecedência.

## Reparações

As reparações acima de 1.500 euros precisam de aprovação por escrito do senhorio.
"""
NL = """# Lokale bijlage Utrecht

## Huur

De huurovereenkomst voor het kantoor in Utrecht loopt vijf jaar. De opzegtermijn van de huurder is
zes maanden en gaat in op de eerste dag van de maand na ontvangst van de brief.

## Thuiswerken

De vergoeding voor thuiswerken bedraagt twee euro per gewerkte dag, uitbetaald met het salaris.
"""
EN = """# Dublin office

## Repairs

Repairs above EUR 1,500 need the written approval of the landlord before any work starts, and the
office manager keeps the approvals on file.
"""
TABLE_PT = """# Tabela

A tabela seguinte foi aprovada pela direção financeira e aplica-se a todas as deslocações.

| Cidade | Valor |
|---|---|
| Lisboa | 12 |
| Porto | 11 |
"""


@pytest.fixture
def engine(settings):
    t = Tether(settings)
    with t.db.transaction() as conn:
        principals.ensure_user(conn, "ana")
    yield t
    t.close()


def _ingest(t: Tether, files: list[Path]) -> None:
    batch = t.enqueue_ingest(files, collection="handbook", acl=["public"])
    t.work(batch_id=batch.batch_id)
    assert [r["status"] for r in t.batch_report(batch.batch_id)] == ["done"] * len(files)


def test_languages_are_detected_stored_and_used_by_bm25(engine, tmp_path) -> None:
    files = []
    for name, text in (("lisbon-pt.md", PT), ("utrecht-nl.md", NL), ("dublin.md", EN), ("tabela-pt.md", TABLE_PT)):
        files.append(tmp_path / name)
        files[-1].write_text(text, encoding="utf-8")
    _ingest(engine, files)
    with engine.db.connection() as conn:
        rows = conn.execute(
            "SELECT d.source_uri, d.language, d.metadata->>'language' AS meta, array_agg(DISTINCT c.language) AS chunks"
            " FROM documents d JOIN chunks c ON c.document_id = d.id GROUP BY d.id ORDER BY d.source_uri"
        ).fetchall()
        terms = {r["term"] for r in conn.execute("SELECT term FROM bm25_terms WHERE df > 0")}
    got = {Path(r["source_uri"]).name: (r["language"], r["meta"], r["chunks"]) for r in rows}
    assert got == {"dublin.md": ("en", "en", ["en"]), "lisbon-pt.md": ("pt", "pt", ["pt"]),
                   "tabela-pt.md": ("pt", "pt", ["pt"]), "utrecht-nl.md": ("nl", "nl", ["nl"])}
    assert {"pt:fér", "pt:aprov", "nl:huurovereenkomst", "repair"} <= terms and "férias" not in terms

    ana = engine.principal("ana")
    for query, want in (("reparação aprovações", "lisbon-pt.md"), ("opzegtermijnen", "utrecht-nl.md"),
                        ("huurovereenkomsten", "utrecht-nl.md"), ("vergoedingen", "utrecht-nl.md"),
                        ("written approvals of repairs", "dublin.md")):
        hits = engine.search(ana, query, mode="bm25", k=3).passages
        assert hits and Path(hits[0].source_uri).name == want, (query, [p.source_uri for p in hits])
