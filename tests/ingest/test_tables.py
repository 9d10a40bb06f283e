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


def _pdf(rows: list[list[str]] | None = None, font_size: float = 10) -> bytes:
    """A born-digital PDF (fpdf2): a heading, the intro, the table with ruled cells, a closing line.
    fpdf2 repeats the header row at the top of each page a long table runs onto."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    pdf.cell(0, 10, "Bands", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=font_size)
    pdf.multi_cell(0, 6, INTRO, new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as table:
        for row in [HEADER, *(rows or ROWS)]:
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.multi_cell(0, 6, "Bands are reviewed every April.", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


BUILDERS = {"bands.html": _html, "bands.docx": _docx, "bands.xlsx": _xlsx, "bands.pptx": _pptx, "bands.pdf": _pdf}


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


@pytest.mark.parametrize("name", ["bands.html", "bands.xlsx", "bands.docx", "bands.pdf"])
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


def test_a_pdf_table_becomes_table_blocks_with_exact_offsets_and_pages() -> None:
    doc = load_bytes(_pdf(), "bands.pdf", max_bytes=MB, options=OPTIONS)
    rows = [b for b in doc.blocks if b.kind == "table"]
    assert [doc.text[b.start : b.end] for b in rows if not b.header] == [_row_line(r) for r in ROWS]
    assert {doc.text[b.start : b.end] for b in rows if b.header} == {_row_line(HEADER)}
    assert all(b.page == 1 for b in rows) and doc.metadata["tables"] == 1 and doc.metadata["table_pages"] == [1]
    prose = [doc.text[b.start : b.end] for b in doc.blocks if b.kind != "table"]
    assert prose[:2] == ["Bands", INTRO] and prose[-1] == "Bands are reviewed every April."
    assert not any("EUR" in p for p in prose), "no cell is read twice, as text and as a table"


def test_a_pdf_table_running_onto_a_second_page_keeps_its_header_there() -> None:
    rows = ROWS * 3  # 72 rows at 14 pt do not fit one A4 page
    doc = load_bytes(_pdf(rows, font_size=14), "long.pdf", max_bytes=MB, options=OPTIONS)
    assert doc.metadata["pages"] >= 2 and doc.metadata["table_pages"] == list(range(1, doc.metadata["pages"] + 1))
    body = [doc.text[b.start : b.end] for b in doc.blocks if b.kind == "table" and not b.header]
    assert body == [_row_line(r) for r in rows], "no row lost, cut or read twice across the page break"
    for page in range(1, doc.metadata["pages"] + 1):
        first = next(b for b in doc.blocks if b.kind == "table" and b.page == page)
        assert first.header and doc.text[first.start : first.end] == _row_line(HEADER)


def test_a_pdf_without_ruled_tables_keeps_its_text_layer() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for row in [HEADER, *ROWS[:4]]:  # columns of text without lines: not a table to pdfplumber's lines
        pdf.cell(0, 6, "    ".join(row), new_x="LMARGIN", new_y="NEXT")
    doc = load_bytes(bytes(pdf.output()), "plain.pdf", max_bytes=MB, options=OPTIONS)
    assert doc.metadata["tables"] == 0 and doc.metadata["table_pages"] == []
    assert not any(b.kind == "table" for b in doc.blocks)
    assert "Dublin    L1    EUR 38,000" in doc.text
