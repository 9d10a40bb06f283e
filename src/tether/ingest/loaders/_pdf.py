"""PDF: the text layer, page by page, via pypdf; pages without one (scans) through OCR.

pypdf returns each page as lines without blank lines between paragraphs, so a paragraph is taken
to end after a blank line or a line clearly shorter than the page's longest line. Headings come
from the PDF outline (bookmarks) when it has one: an outline entry whose title matches a line of
its page marks that line as a heading of the entry's depth. Pages are joined by a blank line;
``metadata["page_starts"]`` gives the offset where each page's text begins.

A page whose text layer is empty is rendered and read by OCR (:mod:`._ocr`) when
``LoadOptions.ocr`` is on; its paragraphs are added like extracted ones, so offsets and page
numbers stay exact, ``metadata["ocr_pages"]`` lists those pages and ``metadata["ocr_engine"]``
names the engine that read them. With OCR off, or where OCR reads nothing,
``metadata["pages_without_text"]`` lists the pages left empty.

Tables drawn with ruling lines or cell boxes are found by pdfplumber (:mod:`._pdf_tables`) and
written as table blocks with their header row (``metadata["tables"]``, ``metadata["table_pages"]``);
a page whose tables cannot be read keeps its text layer (``metadata["table_errors"]``).
"""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader

from tether.errors import CorruptDocument, EmptyDocument, TetherError
from tether.ingest.loaders._common import TextBuilder, collapse_spaces
from tether.ingest.loaders._options import LoadOptions
from tether.ingest.loaders._pdf_tables import Segment, page_segments, pages_with_drawings
from tether.ingest.loaders._tables import add_table
from tether.types import BlockKind, LoadedDocument

_BULLET = re.compile(r"(?:[-*•▪◦]|\d{1,3}[.)])\s")
_SHORT_LINE = 0.75  # a line shorter than this fraction of the page's longest ends a paragraph


def _paragraphs(page_text: str, titles: frozenset[str] = frozenset()) -> list[str]:
    """Group lines into paragraphs; a line equal to an outline title stands alone (a heading),
    whatever the length of the line before it."""
    lines = [line.rstrip() for line in page_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    longest = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if not line.strip():
            if current:
                paragraphs.append("\n".join(current))
                current = []
            continue
        if collapse_spaces(line).casefold() in titles:
            if current:
                paragraphs.append("\n".join(current))
                current = []
            paragraphs.append(line)
            continue
        current.append(line)
        if len(line) < _SHORT_LINE * longest:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


def _outline_headings(reader: PdfReader) -> dict[tuple[int, str], int]:
    """(page number, casefolded title) -> heading level, from the document outline."""
    found: dict[tuple[int, str], int] = {}

    def visit(items: list[Any], depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                visit(item, depth + 1)
                continue
            try:
                index = reader.get_destination_page_number(item)
            except Exception:  # noqa: BLE001 - a broken bookmark should not fail the load
                continue
            if index is None:  # a bookmark to no page
                continue
            page = index + 1
            title = collapse_spaces(str(getattr(item, "title", "") or "")).casefold()
            if title:
                found.setdefault((page, title), min(depth, 6))

    try:
        visit(reader.outline, 1)
    except Exception:  # noqa: BLE001 - outlines are optional and often malformed
        return {}
    return found


def _read(data: bytes, filename: str) -> tuple[PdfReader, list[str]]:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorruptDocument(f"{filename}: PDF is encrypted with a password", filename=filename)
        return reader, [page.extract_text() or "" for page in reader.pages]
    except CorruptDocument:
        raise
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, KeyError...)
        raise CorruptDocument(
            f"{filename}: cannot read PDF ({type(exc).__name__}: {exc})", filename=filename
        ) from exc


def _ocr(data: bytes, number: int, options: LoadOptions, filename: str) -> tuple[list[str], str]:
    if not options.ocr:
        return [], ""
    from tether.ingest.loaders._ocr import ocr_page

    try:
        return ocr_page(data, number - 1, options.ocr_dpi, options.ocr_engine, options.ocr_languages)
    except TetherError:  # the engine asked for is missing: a configuration error, not the file's
        raise
    except Exception as exc:  # pdfium's render errors, tesseract/onnxruntime failures and timeouts
        raise CorruptDocument(
            f"{filename}: cannot OCR page {number} ({type(exc).__name__}: {exc})", filename=filename, page=number
        ) from exc


def _tables(data: bytes, pages: list[str]) -> tuple[dict[int, list[Segment]], str]:
    """The segments of the pages with tables (1-based keys) and, where reading them failed, why."""
    try:
        candidates = {i for i in pages_with_drawings(data) if i < len(pages) and pages[i].strip()}
        if not candidates:
            return {}, ""
        return {i + 1: segments for i, segments in page_segments(data, candidates).items()}, ""
    except Exception as exc:  # noqa: BLE001 - pdfminer/pdfium errors: keep the text layer, say why
        return {}, f"{type(exc).__name__}: {exc}"[:300]


def _add_text(out: TextBuilder, page_text: str, number: int, headings: dict[tuple[int, str], int]) -> None:
    titles = frozenset(t for (p, t) in headings if p == number)
    for para in _paragraphs(page_text, titles):
        level = headings.get((number, collapse_spaces(para).casefold()), 0)
        kind: BlockKind = "heading" if level else ("list" if _BULLET.match(para.lstrip()) else "paragraph")
        out.add(kind, para, level=level, page=number)


def load(data: bytes, filename: str, options: LoadOptions | None = None) -> LoadedDocument:
    options = options or LoadOptions()
    reader, pages = _read(data, filename)
    headings = _outline_headings(reader)
    tables, table_error = _tables(data, pages)
    table_count = 0
    out = TextBuilder()
    page_starts: list[int] = []
    ocr_pages: list[int] = []
    empty_pages: list[int] = []
    engines: set[str] = set()
    for number, page_text in enumerate(pages, start=1):
        page_starts.append(out.length + (2 if out.blocks else 0))
        if not page_text.strip():
            paras, engine = _ocr(data, number, options, filename)
            (ocr_pages if paras else empty_pages).append(number)
            engines.update([engine] if paras else [])
            for para in paras:
                out.add("list" if _BULLET.match(para) else "paragraph", para, page=number)
            continue
        for segment in tables.get(number, [Segment(text=page_text)]):
            if segment.rows:
                table_count += bool(add_table(out, [list(r) for r in segment.rows],
                                              group_chars=options.table_group_chars, page=number))
            else:
                _add_text(out, segment.text, number, headings)
    text = out.text
    if not text.strip():
        why = "and OCR read nothing" if options.ocr else "and OCR is switched off (ingest.ocr)"
        raise EmptyDocument(f"{filename}: PDF has no extractable text layer {why}", filename=filename)
    meta = reader.metadata
    title = collapse_spaces(str(meta.title)) if meta is not None and meta.title else ""
    if not title:
        title = text[out.blocks[0].start : out.blocks[0].end].split("\n", 1)[0].strip()[:200]
    metadata: dict[str, object] = {"pages": len(pages), "page_starts": page_starts, "ocr_pages": ocr_pages,
                                   "tables": table_count, "table_pages": sorted(tables)}
    if table_error:
        metadata["table_errors"] = table_error
    if engines:
        metadata["ocr_engine"] = ",".join(sorted(engines))
    if empty_pages:
        metadata["pages_without_text"] = empty_pages
    if meta is not None and meta.author:
        metadata["author"] = str(meta.author)
    return LoadedDocument(text=text, blocks=out.blocks, format="pdf", title=title, metadata=metadata)
