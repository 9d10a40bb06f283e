"""Tables as tables: in every format that has them, a table is chunked so that each chunk of it
starts with the header row and no row is cut, and a question about one cell is answered by
quoting that row under its header."""

from __future__ import annotations

import io

import pytest

from tether.ingest.chunker import chunk_document
from tether.ingest.loaders import LoadOptions, load_bytes
from tether.types import LoadedDocument, Passage

MB = 10 * 1024 * 1024
MAX_TOKENS = 120
#: As the pipeline sets it (``tether.ingest.pipeline.load_options``): 1.5 characters per token.
OPTIONS = LoadOptions(table_group_chars=MAX_TOKENS * 3 // 2)
HEADER = ["Office", "Level", "Midpoint", "Range"]
OFFICES = {"Dublin": 1.0, "Manchester": 0.92, "Utrecht": 0.97, "Lisbon": 0.72}
LEVELS = {"L1": 38_000, "L2": 46_000, "L3": 58_000, "L4": 72_000, "L5": 88_000, "L6": 104_000}
ROWS = [[office, level, f"EUR {round(base * f):,}", f"EUR {round(base * f * 0.8):,} to {round(base * f * 1.2):,}"]
        for office, f in OFFICES.items() for level, base in LEVELS.items()]
INTRO = "Salary bands 2026. Each office applies its location factor to the Dublin midpoint."


def _html() -> bytes:
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in ROWS)
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in HEADER) + "</tr>"
    return f"<html><body><h1>Bands</h1><p>{INTRO}</p><table>{head}{cells}</table></body></html>".encode()


def _docx() -> bytes:
    from docx import Document

    doc = Document()
    doc.add_heading("Bands", 1)
    doc.add_paragraph(INTRO)
    table = doc.add_table(rows=len(ROWS) + 1, cols=len(HEADER))
    for r, row in enumerate([HEADER, *ROWS]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Bands"
    for row in [HEADER, *ROWS]:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Bands"
    table = slide.shapes.add_table(len(ROWS) + 1, len(HEADER), Inches(0.5), Inches(1.5), Inches(9), Inches(5)).table
    for r, row in enumerate([HEADER, *ROWS]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


BUILDERS = {"bands.html": _html, "bands.docx": _docx, "bands.xlsx": _xlsx, "bands.pptx": _pptx}


def _row_line(row: list[str]) -> str:
    return "| " + " | ".join(row) + " |"


def _chunks(embedder, doc: LoadedDocument):  # noqa: ANN001, ANN202
    return chunk_document(doc, count_tokens=embedder.count_tokens, max_tokens=MAX_TOKENS, overlap_tokens=30,
                          min_tokens=20)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_each_table_chunk_starts_with_the_header_row_and_rows_stay_whole(embedder, name: str) -> None:
    doc = load_bytes(BUILDERS[name](), name, max_bytes=MB, options=OPTIONS)
    chunks = _chunks(embedder, doc)
    header = _row_line(HEADER)
    with_rows = [c for c in chunks if "| EUR" in c.text]
    assert len(with_rows) >= 3, "the table spans several chunks"
    for c in with_rows:
        table_lines = [line for line in c.text.splitlines() if line.startswith("|")]
        assert table_lines[0] == header, c.text
    for row in ROWS:  # every row is in exactly one chunk, whole (rows are never overlap)
        line = _row_line(row)
        assert sum(line in c.text.splitlines() for c in chunks) == 1, line
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


@pytest.fixture(scope="module")
def scorer():  # noqa: ANN201
    from ground.helpers import verifier_missing_reason

    from tether.ground.answerable import load_verifier
    from tether.ground.focus import AnswerScorer
    from tether.settings import AnswerabilityConfig

    if verifier_missing_reason() is not None:
        pytest.skip(verifier_missing_reason() or "")
    verifier = load_verifier(AnswerabilityConfig())
    assert verifier is not None
    return AnswerScorer(verifier)


@pytest.mark.parametrize("name", ["bands.html", "bands.xlsx", "bands.docx"])
def test_a_question_about_one_cell_is_answered_from_its_row(embedder, scorer, name: str) -> None:  # noqa: ANN001
    from tether.generate import ExtractiveGenerator, GenerationRequest
    from tether.ground import ground_answer

    doc = load_bytes(BUILDERS[name](), name, max_bytes=MB, options=OPTIONS)
    chunks = _chunks(embedder, doc)
    passages = [Passage(i, 1, c.ordinal, c.text, c.start, c.end, title="Bands") for i, c in enumerate(chunks, 1)]
    answer = ExtractiveGenerator(embedder, scorer=scorer).generate(
        GenerationRequest("What is the L4 midpoint in Lisbon?", passages)).text
    lisbon_l4 = _row_line(next(r for r in ROWS if r[:2] == ["Lisbon", "L4"]))
    lines = [line.rsplit(" [", 1)[0] for line in answer.splitlines()]
    assert lisbon_l4 in lines, answer
    assert lines[lines.index(lisbon_l4) - 1] == _row_line(HEADER), "the row is quoted under its header"
    assert "EUR 51,840" in answer
    grounded = ground_answer(answer, passages, embedder)
    assert grounded.sentences and all(s.verdict == "supported" for s in grounded.sentences)
