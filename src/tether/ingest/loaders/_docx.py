"""DOCX: body paragraphs and tables in document order, via python-docx.

Paragraph styles carry the structure: ``Heading N`` (and ``Title``, as level 1) become headings,
``List ...`` styles or numbered paragraphs become list items, code-like styles become code.
Tables are written by :mod:`._tables` (header row repeated per group of rows; cells merged
across columns repeat in python-docx and are written once). DOCX has no stable pages, so ``page`` is None.
"""

from __future__ import annotations

import io
import re
from typing import Any

from docx import Document
from docx.table import Table, _Row
from docx.text.paragraph import Paragraph

from tether.errors import CorruptDocument
from tether.ingest.loaders._common import TextBuilder, collapse_spaces, require_text
from tether.ingest.loaders._options import LoadOptions, check_zip
from tether.ingest.loaders._tables import add_table
from tether.types import BlockKind, LoadedDocument

_HEADING_STYLE = re.compile(r"heading\s*(\d)", re.IGNORECASE)
_CODE_STYLES = ("code", "preformatted", "macro", "source")


def _paragraph_kind(paragraph: Paragraph) -> tuple[BlockKind, int]:
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    if style.lower() == "title":
        return "heading", 1
    if m := _HEADING_STYLE.match(style):
        return "heading", max(1, min(int(m.group(1)), 6))
    if style.lower().startswith("list"):
        return "list", 0
    ppr = paragraph._p.pPr  # numbering lives in the paragraph properties
    if ppr is not None and ppr.numPr is not None:
        return "list", 0
    if any(word in style.lower() for word in _CODE_STYLES):
        return "code", 0
    return "paragraph", 0


def _row_cells(row: _Row) -> list[str]:
    cells: list[str] = []
    seen: set[int] = set()
    for cell in row.cells:
        key = id(cell._tc)
        if key in seen:
            continue
        seen.add(key)
        cells.append(collapse_spaces(cell.text))  # empty cells keep the columns aligned
    return cells


def _read(data: bytes, filename: str) -> tuple[Any, list[Paragraph | Table]]:
    try:
        document = Document(io.BytesIO(data))
        items = list(document.iter_inner_content())
        return document, items
    except Exception as exc:  # zipfile.BadZipFile, KeyError, lxml errors, PackageNotFoundError...
        raise CorruptDocument(
            f"{filename}: cannot read DOCX ({type(exc).__name__}: {exc})", filename=filename
        ) from exc


def load(data: bytes, filename: str, options: LoadOptions | None = None) -> LoadedDocument:
    options = options or LoadOptions()
    check_zip(data, filename, options, "DOCX")
    document, items = _read(data, filename)
    out = TextBuilder()
    for item in items:
        if isinstance(item, Paragraph):
            kind, level = _paragraph_kind(item)
            content = item.text if kind == "code" else collapse_spaces(item.text)
            out.add(kind, content, level=level)
        elif isinstance(item, Table):
            add_table(out, [_row_cells(row) for row in item.rows], group_chars=options.table_group_chars)
    text = out.text
    require_text(text, filename, "DOCX has no text")
    core = document.core_properties
    title = collapse_spaces(core.title or "")
    if not title:
        first = next((b for b in out.blocks if b.kind == "heading"), None)
        title = text[first.start : first.end] if first else ""
    metadata: dict[str, object] = {"tables": len(document.tables)}
    if core.author:
        metadata["author"] = core.author
    return LoadedDocument(text=text, blocks=out.blocks, format="docx", title=title, metadata=metadata)
