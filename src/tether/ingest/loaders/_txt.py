"""Plain text: the text is the file itself, so block offsets are offsets into the source.

Paragraphs are separated by blank lines. A paragraph whose first line starts with a bullet or
an enumerator (``-``, ``*``, ``•``, ``1.``) is split into one ``list`` block per item. No heading
detection: plain text has no reliable heading markup, and guessing would put wrong section paths
on chunks.
"""

from __future__ import annotations

import re
from itertools import pairwise

from tether.ingest.loaders._common import decode_utf8, require_text, trim_span
from tether.types import Block, LoadedDocument

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_ITEM = re.compile(r"^[ \t]*(?:[-*•+]|\d{1,3}[.)])[ \t]+\S", re.MULTILINE)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Trimmed spans of the runs of text between blank lines."""
    spans: list[tuple[int, int]] = []
    prev = 0
    for m in _BLANK_LINE.finditer(text):
        span = trim_span(text, prev, m.start())
        if span:
            spans.append(span)
        prev = m.end()
    span = trim_span(text, prev, len(text))
    if span:
        spans.append(span)
    return spans


def load(data: bytes, filename: str) -> LoadedDocument:
    text = decode_utf8(data, filename)
    require_text(text, filename, "empty or whitespace-only text file")
    blocks: list[Block] = []
    for start, end in paragraph_spans(text):
        items = [max(m.start(), start) for m in _ITEM.finditer(text, _line_start(text, start), end)]
        if items and items[0] == start:
            bounds = items + [end]
            for a, b in pairwise(bounds):
                span = trim_span(text, a, b)
                if span:
                    blocks.append(Block("list", *span))
        else:
            blocks.append(Block("paragraph", start, end))
    return LoadedDocument(text=text, blocks=blocks, format="txt")


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1
