"""Markdown: the text is the file itself; a small line-based parser finds the structure.

Only what chunking needs is recognised: ATX (``## Title``) and setext (underlined) headings,
fenced code blocks, list items, pipe-table rows (a row above a ``|---|`` rule is a header row),
paragraphs, and YAML front matter (skipped, its
``title:`` used). A heading block spans only the heading's words (no ``#`` marks), so section
paths read cleanly; a code block spans the code between its fences.
"""

from __future__ import annotations

import re

from tether.ingest.loaders._common import collapse_spaces, decode_utf8, require_text, trim_span
from tether.types import Block, BlockKind, LoadedDocument

_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+|$)")
_CLOSING_HASHES = re.compile(r"(?:[ \t]+#+)?[ \t\r]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t\r]*$")
_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|[ \t\r]*$)")
_BREAK = re.compile(r" {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})\r?$")
_TABLE_RULE = re.compile(r"[ \t|:\-]+\r?$")
_FRONT_TITLE = re.compile(r"^title:[ \t]*['\"]?(.*?)['\"]?[ \t\r]*$", re.MULTILINE)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.blocks: list[Block] = []
        self.open_kind: BlockKind | None = None
        self.open_start = 0
        self.open_end = 0

    def add(self, kind: BlockKind, start: int, end: int, level: int = 0, header: bool = False) -> None:
        span = trim_span(self.text, start, end)
        if span:
            self.blocks.append(Block(kind, span[0], span[1], level=level, header=header))

    def flush(self) -> None:
        if self.open_kind is not None:
            self.add(self.open_kind, self.open_start, self.open_end)
        self.open_kind = None

    def extend(self, kind: BlockKind, start: int, end: int) -> None:
        if self.open_kind != kind:
            self.flush()
            self.open_kind, self.open_start = kind, start
        self.open_end = end


def _lines(text: str, start: int) -> list[tuple[int, int]]:
    """(start, end) of each line from ``start``, ``end`` excluding the newline."""
    return [
        (m.start(), m.end() - (1 if m.group().endswith("\n") else 0)) for m in _LINE.finditer(text, start)
    ]


def _front_matter(text: str) -> tuple[int, str]:
    """Where the body starts after YAML front matter, and the front matter's title if any."""
    if not (text.startswith("---\n") or text.startswith("---\r\n")):
        return 0, ""
    close = re.search(r"^---[ \t\r]*$", text[4:], re.MULTILINE)
    if close is None:
        return 0, ""
    header = text[4 : 4 + close.start()]
    title = _FRONT_TITLE.search(header)
    return 4 + close.end(), (title.group(1).strip() if title else "")


def parse(text: str, start: int = 0) -> list[Block]:
    p = _Parser(text)
    lines = _lines(text, start)
    i = 0
    while i < len(lines):
        a, b = lines[i]
        line = text[a:b]
        if not line.strip():
            p.flush()
        elif fence := _FENCE.match(line):
            p.flush()
            marker = fence.group(1)
            j = i + 1
            while j < len(lines) and not text[lines[j][0] : lines[j][1]].lstrip().startswith(marker):
                j += 1
            if j > i + 1:
                p.add("code", lines[i + 1][0], lines[j - 1][1])
            i = j
        elif atx := _ATX.match(line):
            p.flush()
            content_start = a + atx.end()
            closing = _CLOSING_HASHES.search(text, content_start, b)
            p.add("heading", content_start, closing.start() if closing else b, level=len(atx.group(1)))
        elif (setext := _SETEXT.match(line)) and p.open_kind == "paragraph":
            level = 1 if setext.group(1)[0] == "=" else 2
            p.add("heading", p.open_start, p.open_end, level=level)
            p.open_kind = None
        elif _BREAK.match(line):
            p.flush()
        elif _ITEM.match(line):
            p.flush()
            p.extend("list", a, b)
        elif line.lstrip().startswith("|"):
            p.flush()
            if not _TABLE_RULE.fullmatch(line):
                rule = i + 1 < len(lines) and _TABLE_RULE.fullmatch(text[lines[i + 1][0] : lines[i + 1][1]])
                p.add("table", a, b, header=bool(rule) and "|" in text[lines[i + 1][0] : lines[i + 1][1]])
        elif p.open_kind == "list":
            p.extend("list", a, b)  # lazy continuation of a list item
        else:
            p.extend("paragraph", a, b)
        i += 1
    p.flush()
    return p.blocks


def load(data: bytes, filename: str) -> LoadedDocument:
    text = decode_utf8(data, filename)
    require_text(text, filename, "empty or whitespace-only markdown file")
    body_start, front_title = _front_matter(text)
    blocks = parse(text, body_start)
    h1 = next((b for b in blocks if b.kind == "heading" and b.level == 1), None)
    title = collapse_spaces(text[h1.start : h1.end]) if h1 else front_title
    return LoadedDocument(text=text, blocks=blocks, format="md", title=title)
