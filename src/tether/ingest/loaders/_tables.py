"""Write a table into a document's text so that every group of rows carries its header row.

Why: a row means little without its header ("| Lisbon | L4 | 61,000 |"), and a chunk of rows
from the middle of a long table has none. Chunks are spans of the document text (citations
resolve to exact offsets), so the header cannot be prepended to a chunk afterwards; instead the
loader writes the header row again before each group of about ``table_group_chars`` of rows. The
chunker cuts tables only before a header block (:mod:`tether.ingest.chunker`), so each table
chunk starts with the header row, and the extractive generator quotes a row under it.

Every format with tables (DOCX, HTML, PDF, PPTX, XLSX) writes them here, in one form: one
``table`` block per row, ``| cell | cell |`` (a cell's ``|`` written ``/``), header rows flagged
``Block.header``. Rows are joined by single newlines; a group is separated by a blank line.
"""

from __future__ import annotations

from tether.ingest.loaders._common import TextBuilder, collapse_spaces


def render_row(cells: list[str]) -> str:
    """``| a | b |`` from cell texts (whitespace collapsed, ``|`` inside a cell replaced)."""
    return "| " + " | ".join(collapse_spaces(c).replace("|", "/") for c in cells) + " |"


def clean_rows(rows: list[list[str]]) -> list[list[str]]:
    """Rows without empty ones, padded to one width, with columns empty in every row dropped."""
    rows = [[collapse_spaces(c) for c in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    keep = [i for i in range(width) if any(row[i] for row in rows)]
    return [[row[i] for i in keep] for row in rows]


def add_table(out: TextBuilder, rows: list[list[str]], *, group_chars: int, page: int | None = None) -> int:
    """Append ``rows`` (the first is the header) as ``table`` blocks; returns the rows written.

    A table of one row is written as one plain row (a header with nothing under it)."""
    rows = clean_rows(rows)
    if not rows:
        return 0
    header = render_row(rows[0])
    if len(rows) == 1:
        out.add("table", header, page=page)
        return 1
    out.add("table", header, page=page, header=True)
    used = 0
    for row in rows[1:]:
        line = render_row(row)
        if used and used + len(line) > group_chars:
            out.add("table", header, page=page, header=True)
            used = 0
        out.add("table", line, page=page, sep="\n")
        used += len(line) + 1
    return len(rows)
