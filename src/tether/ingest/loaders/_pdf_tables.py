"""Tables in born-digital PDFs, found by pdfplumber from the lines and boxes drawn around cells.

Why: a PDF's text layer reads a table as runs of cells ("Q2 2026 3.9 0.8 64.2"), and a cell that
wraps breaks its row across lines, so neither BM25 nor the embedder nor a reader can tell which
figure belongs to which column. pdfplumber's ``lines`` strategy rebuilds the grid from the ruling
lines and cell boxes; each table is then written by :mod:`._tables` (``| cell | cell |`` rows,
the header row again before each group), like the tables of DOCX, HTML and XLSX.

A page on which pdfium finds no path object (no line or box is drawn) cannot hold such a table,
so pdfplumber (pdfminer's layout analysis, about ten times slower than pypdf's text) opens only
PDFs and pages that draw something. On a page with tables, the text around them is read by
pdfplumber too (characters whose centre lies inside a table are left to the table), as segments
in reading order: the text above the first table, the table, the text up to the next one...
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

#: pdfplumber's settings: tables from drawn lines and cell boxes only. The ``text`` strategy
#: (tables from aligned words) takes justified prose and lists for tables, so it is not used.
_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}


@dataclass(frozen=True)
class Segment:
    """A piece of a page in reading order: ``text`` (lines as pdfplumber reads them) or ``rows``."""

    text: str = ""
    rows: tuple[tuple[str, ...], ...] = ()


def pages_with_drawings(data: bytes) -> set[int]:
    """0-based numbers of the pages that draw at least one path (line, box, curve)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    found: set[int] = set()
    document = pdfium.PdfDocument(data)
    try:
        for index in range(len(document)):
            page = document[index]
            try:
                if next(iter(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2)), None) is not None:
                    found.add(index)
            finally:
                page.close()
    finally:
        document.close()
    return found


def _centre_in(obj: dict[str, Any], boxes: list[tuple[float, float, float, float]]) -> bool:
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for (x0, top, x1, bottom) in boxes)


def _text_between(page: Any, boxes: list[tuple[float, float, float, float]], top: float, bottom: float) -> str:
    """The page's text whose centre lies in ``[top, bottom)`` and in no table."""

    def keep(obj: dict[str, Any]) -> bool:
        if obj.get("object_type") != "char":
            return True
        y = (obj["top"] + obj["bottom"]) / 2
        return top <= y < bottom and not _centre_in(obj, boxes)

    return str(page.filter(keep).extract_text() or "")


def _rows(table: Any) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(cell or "" for cell in row) for row in table.extract())


def page_segments(data: bytes, pages: set[int]) -> dict[int, list[Segment]]:
    """For each of ``pages`` (0-based) that holds a table: its text and tables in reading order.

    Pages without a table are left out (the caller keeps pypdf's text for them)."""
    import pdfplumber

    found: dict[int, list[Segment]] = {}
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for index in sorted(pages):
            page = pdf.pages[index]
            tables = sorted((t for t in page.find_tables(_SETTINGS) if len(t.rows) >= 2), key=lambda t: t.bbox[1])
            if not tables:
                page.close()
                continue
            boxes = [(float(t.bbox[0]), float(t.bbox[1]), float(t.bbox[2]), float(t.bbox[3])) for t in tables]
            segments: list[Segment] = []
            top = float("-inf")
            for table in tables:  # text beside a table (same height, other column) comes after it
                segments.append(Segment(text=_text_between(page, boxes, top, table.bbox[1])))
                segments.append(Segment(rows=_rows(table)))
                top = table.bbox[1]
            segments.append(Segment(text=_text_between(page, boxes, top, float("inf"))))
            found[index] = [s for s in segments if s.rows or s.text.strip()]
            page.close()
    return found
