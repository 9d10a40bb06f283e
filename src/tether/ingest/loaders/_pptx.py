"""PPTX: slides in order, each with its title, text, tables and speaker notes, via python-pptx.

A slide's title becomes a level-1 heading (so chunks carry it as their section path); the text of
its other shapes, in reading order (top to bottom, then left to right; grouped shapes opened),
becomes paragraphs, or list items for indented or body-placeholder paragraphs; a table shape is
written by :mod:`._tables`; the speaker notes follow as paragraphs. ``page`` is the slide number,
``metadata["slide_starts"]`` the offset where each slide's text begins (None: an empty slide)
and ``metadata["notes"]`` the ``[start, end]`` of each slide's notes.
"""

from __future__ import annotations

import io
from typing import Any

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER

from tether.errors import CorruptDocument
from tether.ingest.loaders._common import TextBuilder, collapse_spaces, require_text
from tether.ingest.loaders._options import LoadOptions, check_zip
from tether.ingest.loaders._tables import add_table
from tether.types import LoadedDocument

_TITLES = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE, PP_PLACEHOLDER.VERTICAL_TITLE)
_BODIES = (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT, PP_PLACEHOLDER.VERTICAL_BODY)


def _placeholder(shape: Any) -> Any:
    return shape.placeholder_format.type if shape.is_placeholder else None


def _shapes(shapes: Any) -> list[Any]:
    """Shapes in reading order, groups opened."""
    flat: list[Any] = []
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            flat.extend(_shapes(shape.shapes))
        else:
            flat.append(shape)
    return sorted(flat, key=lambda s: (s.top or 0, s.left or 0))


def _slide(out: TextBuilder, slide: Any, number: int, options: LoadOptions) -> str:
    """Append one slide; returns its title ('' when it has none)."""
    title = ""
    for shape in _shapes(slide.shapes):
        kind = _placeholder(shape)
        if shape.has_text_frame and kind in _TITLES and not title:
            title = collapse_spaces(shape.text_frame.text)
            out.add("heading", title, level=1, page=number)
        elif shape.has_text_frame:
            for para in shape.text_frame.paragraphs:
                bullet = para.level > 0 or kind in _BODIES
                out.add("list" if bullet else "paragraph", collapse_spaces(para.text), page=number)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            add_table(out, rows, group_chars=options.table_group_chars, page=number)
    return title


def load(data: bytes, filename: str, options: LoadOptions | None = None) -> LoadedDocument:
    options = options or LoadOptions()
    check_zip(data, filename, options, "PPTX")
    try:
        deck = Presentation(io.BytesIO(data))
        slides = list(deck.slides)
    except Exception as exc:  # KeyError, lxml errors, PackageNotFoundError...
        raise CorruptDocument(
            f"{filename}: cannot read PPTX ({type(exc).__name__}: {exc})", filename=filename
        ) from exc
    out = TextBuilder()
    slide_starts: list[int | None] = []
    notes: list[list[int] | None] = []
    first_title = ""
    for number, slide in enumerate(slides, start=1):
        before = len(out.blocks)
        title = _slide(out, slide, number, options)
        first_title = first_title or title
        note_span = None
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            first_note = len(out.blocks)
            for para in slide.notes_slide.notes_text_frame.paragraphs:
                out.add("paragraph", collapse_spaces(para.text), page=number)
            if len(out.blocks) > first_note:
                note_span = [out.blocks[first_note].start, out.blocks[-1].end]
        notes.append(note_span)
        slide_starts.append(out.blocks[before].start if len(out.blocks) > before else None)
    require_text(out.text, filename, "PPTX has no text")
    core = deck.core_properties
    metadata: dict[str, object] = {"slides": len(slides), "slide_starts": slide_starts, "notes": notes}
    if core.author:
        metadata["author"] = core.author
    title = collapse_spaces(core.title or "") or first_title
    return LoadedDocument(text=out.text, blocks=out.blocks, format="pptx", title=title, metadata=metadata)
