"""Helpers every loader shares: strict UTF-8 decoding, span trimming, and a text builder.

Loaders of formats whose text must be *extracted* (HTML, PDF, DOCX, CSV, JSON) assemble the
document text block by block with :class:`TextBuilder`, which records each block's offsets as
it goes, so ``text[block.start:block.end]`` is right by construction.
"""

from __future__ import annotations

import re

from tether.errors import CorruptDocument, EmptyDocument
from tether.types import Block, BlockKind

_BOM = "\ufeff"
_SPACE = re.compile(r"\s+")


def decode_utf8(data: bytes, filename: str) -> str:
    """Decode ``data`` as UTF-8 without replacing anything; a leading BOM is dropped.

    Raises :class:`CorruptDocument` naming the byte offset (in the file) of the first bad byte.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptDocument(
            f"{filename}: not valid UTF-8 (first invalid byte at offset {exc.start})",
            filename=filename,
            byte_offset=exc.start,
        ) from exc
    return text[1:] if text.startswith(_BOM) else text


def require_text(text: str, filename: str, what: str = "no text") -> None:
    """Raise :class:`EmptyDocument` when ``text`` holds nothing but whitespace."""
    if not text.strip():
        raise EmptyDocument(f"{filename}: {what}", filename=filename)


def trim_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Shrink ``[start, end)`` to exclude surrounding whitespace; None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def collapse_spaces(text: str) -> str:
    """Runs of whitespace become one space; ends are stripped (for HTML/DOCX inline text)."""
    return _SPACE.sub(" ", text).strip()


class TextBuilder:
    """Appends blocks to a growing text, separated by blank lines (or ``sep``)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.blocks: list[Block] = []

    def add(
        self,
        kind: BlockKind,
        content: str,
        *,
        level: int = 0,
        page: int | None = None,
        sep: str = "\n\n",
        header: bool = False,
    ) -> Block | None:
        """Append ``content`` (stripped) as one block; empty content adds nothing."""
        content = content.strip()
        if not content:
            return None
        if self._length:
            self._parts.append(sep)
            self._length += len(sep)
        start = self._length
        self._parts.append(content)
        self._length += len(content)
        block = Block(kind=kind, start=start, end=self._length, level=level, page=page, header=header)
        self.blocks.append(block)
        return block

    def extend(self, text: str, blocks: list[Block], *, level_shift: int = 0, sep: str = "\n\n") -> int:
        """Append another loaded text verbatim with its blocks shifted to their new offsets
        (heading levels deepened by ``level_shift``, at most 6): an e-mail's attachments.
        Returns the offset where ``text`` now starts (-1: nothing appended, it has no blocks)."""
        if not blocks:
            return -1
        if self._length:
            self._parts.append(sep)
            self._length += len(sep)
        offset = self._length
        self._parts.append(text)
        self._length += len(text)
        for b in blocks:
            level = min(b.level + level_shift, 6) if b.level else 0
            self.blocks.append(Block(b.kind, b.start + offset, b.end + offset, level, b.page, b.header))
        return offset

    @property
    def length(self) -> int:
        return self._length

    @property
    def text(self) -> str:
        return "".join(self._parts)
