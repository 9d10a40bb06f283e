"""Structure-aware chunking with exact character offsets.

Retrieval quality and citations both depend on chunks that (a) keep a section's text together,
(b) fit the embedder's window, and (c) map back to the source exactly. So every chunk is a
contiguous span of ``doc.text`` (``doc.text[c.start:c.end] == c.text`` always) and:

* blocks are packed in order up to ``max_tokens``; a block too large alone is split into
  sentences (code and table blocks into lines), and a sentence too large alone into word runs;
* a table row (one ``table`` block) is never split unless it alone exceeds ``max_tokens``; a
  chunk is cut inside a table only before a header row (``Block.header``, which the loaders
  write again before each group of rows), or else the open group of rows moves on whole to the
  next chunk, so each chunk of a table starts with its header row; rows are never overlap;
* a heading always starts a new chunk at a top-level heading (the smallest level in the
  document) and at deeper headings once the current chunk holds ``min_tokens`` of body text, so
  a heading is at the start of the chunk that begins its section; a chunk holding only headings
  flows on into the next section rather than standing alone; a chunk's ``section_path`` is the
  heading path in force at its first body (non-heading) text;
* when a section spans several chunks, each next chunk starts with about ``overlap_tokens`` of
  whole trailing sentences of the previous one (never across a heading);
* a chunk adding fewer than ``min_tokens`` of new text joins the previous chunk of the same
  section when the result stays within ``1.25 * max_tokens`` (the only way a chunk may exceed
  ``max_tokens``, besides a single word longer than ``max_tokens``).

Tokens are counted once per sentence (or line; words of overlong sentences, cached), and a
block's or chunk's count is the sum of its parts. Finished chunks are re-counted exactly until
``CALIBRATION_CHUNKS`` in a row have matched their sums (a tokenizer additive across whitespace,
such as WordPiece); a mismatch keeps re-counting on and pushes units out of a chunk that is over.
So a 1 MB text costs about one tokenisation pass.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from tether.text import split_sentences, split_words
from tether.types import Block, ChunkSpan, LoadedDocument

__all__ = ["chunk_document"]

MERGE_SLACK = 1.25
CALIBRATION_CHUNKS = 16
_LINE = re.compile(r"[^\n]+")


@dataclass(frozen=True)
class _Unit:
    """The smallest piece packed into chunks: a block, or a sentence/line/word run of one."""

    start: int
    end: int
    tokens: int
    path: tuple[str, ...]
    page: int | None
    level: int = 0  # heading level; 0 for body text
    splittable: bool = False  # a whole body block, which may be split into sentences for overlap
    gap: int = 0  # tokens of non-space text (markup) between the previous unit and this one
    table: bool = False  # a whole table row (never split, never repeated as overlap)
    header: bool = False  # a table's header row, written by the loader before each row group


@dataclass
class _Draft:
    start: int
    end: int
    tokens: int
    new_tokens: int  # tokens not repeated from the previous chunk
    path: tuple[str, ...]
    page: int | None


class _Chunker:
    def __init__(
        self, doc: LoadedDocument, count: Callable[[str], int], max_tokens: int, overlap: int, min_tokens: int
    ) -> None:
        self.text = doc.text
        self.count = count
        self.max = max_tokens
        self.overlap = overlap
        self.min = min_tokens
        self._word_tokens: dict[str, int] = {}
        self._sentences: dict[tuple[int, int], list[_Unit]] = {}
        self._calibration = CALIBRATION_CHUNKS

    # -- units ---------------------------------------------------------------------------------

    def units(self, blocks: list[Block]) -> list[_Unit]:
        units: list[_Unit] = []
        stack: list[tuple[int, str]] = []
        prev_end = 0
        for block in blocks:
            body = self.text[block.start : block.end]
            gap = self._gap(prev_end, block.start) if units else 0
            prev_end = max(prev_end, block.end)
            if block.kind == "heading":
                level = max(block.level, 1)
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, " ".join(body.split())))
                path = tuple(name for _, name in stack)
                heading = _Unit(
                    block.start, block.end, self.count(body), path, block.page, level=level, gap=gap
                )
                if heading.tokens <= self.max:
                    units.append(heading)
                else:  # absurdly long heading: word runs, the first one still a heading
                    runs = self._word_runs(heading)
                    units.extend([replace(runs[0], level=level), *runs[1:]])
                continue
            path = tuple(name for _, name in stack)
            whole = _Unit(block.start, block.end, 0, path, block.page, splittable=True)
            pieces = self._pieces(whole, by_line=block.kind in ("code", "table"))
            if pieces and gap:  # the first piece carries the join to the previous block
                pieces[0] = replace(pieces[0], gap=gap)
            tokens = sum(p.tokens for p in pieces)
            if tokens <= self.max:
                table = block.kind == "table"
                units.append(_Unit(block.start, block.end, tokens, path, block.page, splittable=not table,
                                   gap=gap, table=table, header=table and block.header))
                continue
            for piece in pieces:
                units.extend([piece] if piece.tokens <= self.max else self._word_runs(piece))
        return units

    def _gap(self, start: int, end: int) -> int:
        """Tokens of the text between two units (markup such as ``##`` or fences), if any."""
        between = self.text[start:end]
        return 0 if not between or between.isspace() else self.count(between)

    def _word_runs(self, unit: _Unit) -> list[_Unit]:
        runs: list[_Unit] = []
        run_start, run_end, run_tokens = -1, -1, 0
        for word in split_words(self.text[unit.start : unit.end], unit.start):
            start, end = word.start, word.end
            tokens = self._word_count(word.text)
            if run_start >= 0 and run_tokens + tokens > self.max:
                runs.append(
                    _Unit(run_start, run_end, run_tokens, unit.path, unit.page, gap=0 if runs else unit.gap)
                )
                run_start, run_tokens = -1, 0
            if run_start < 0:
                run_start = start
            run_end, run_tokens = end, run_tokens + tokens
        if run_start >= 0:
            runs.append(
                _Unit(run_start, run_end, run_tokens, unit.path, unit.page, gap=0 if runs else unit.gap)
            )
        return runs

    def _word_count(self, word: str) -> int:
        tokens = self._word_tokens.get(word)
        if tokens is None:
            tokens = self._word_tokens[word] = self.count(word)
        return tokens

    def _count(self, start: int, end: int) -> int:
        """Tokens of a sentence; one with more words than ``max_tokens`` is surely too long
        (every word is at least one token), so it is summed per word instead of tokenised whole."""
        text = self.text[start:end]
        if len(text) > self.max:
            words = text.split()
            if len(words) > self.max:
                return sum(self._word_count(w) for w in words)
        return self.count(text)

    def _measure(self, start: int, end: int, estimate: int) -> int:
        """Exact tokens of a finished chunk. Until ``CALIBRATION_CHUNKS`` chunks in a row have
        matched the sum of their parts' counts the text is re-counted; after that the tokenizer
        is taken to be additive across whitespace (WordPiece is) and the sum is used."""
        if self._calibration == 0:
            return estimate
        tokens = self.count(self.text[start:end])
        self._calibration = CALIBRATION_CHUNKS if tokens != estimate else self._calibration - 1
        return tokens

    def _pieces(self, unit: _Unit, by_line: bool = False) -> list[_Unit]:
        """Sentences (or lines) of a whole block, each counted once and cached."""
        key = (unit.start, unit.end)
        if key not in self._sentences:
            body = self.text[unit.start : unit.end]
            spans = (
                _lines(body, unit.start)
                if by_line
                else [(s.start, s.end) for s in split_sentences(body, unit.start)]
            )
            self._sentences[key] = [_Unit(s, e, self._count(s, e), unit.path, unit.page) for s, e in spans]
        return self._sentences[key]

    def _sentence_units(self, unit: _Unit) -> list[_Unit]:
        return (self._pieces(unit) or [unit]) if unit.splittable else [unit]

    # -- packing -------------------------------------------------------------------------------

    def pack(self, units: list[_Unit]) -> list[_Draft]:
        top = min((u.level for u in units if u.level), default=1)
        queue = deque(units)
        drafts: list[_Draft] = []
        cur: list[_Unit] = []
        n_overlap = 0
        while queue or cur:
            unit = queue.popleft() if queue else None
            body = [u for u in cur if not u.level]
            total = _estimate(cur) + (unit.gap + unit.tokens if unit else 0)
            if unit is None:
                split = True
            elif unit.level:
                split = (bool(body) and (unit.level <= top or sum(u.tokens for u in body) >= self.min)) or (
                    bool(cur) and total > self.max
                )
            else:
                split = bool(cur) and total > self.max
            if not split:
                cur.append(unit)  # type: ignore[arg-type]  # unit is None only when split
                continue
            carry: list[_Unit] = []
            while unit is not None and not unit.level and body and cur[-1].level:
                carry.insert(0, cur.pop())  # a trailing heading moves on with its section
            if unit is not None and unit.table and not unit.header and not carry:
                carry = self._row_group(cur, unit, n_overlap)  # rows move on with their header
            draft, emitted, pushed = self._emit(cur, n_overlap)
            drafts.append(draft)
            queue.extendleft(reversed([*pushed, *carry, *([unit] if unit else [])]))
            nxt = queue[0] if queue else None
            same_section = nxt is not None and not nxt.level and nxt.path == emitted[-1].path
            cur = (
                self._tail(emitted, min(self.overlap, self.max - nxt.tokens - nxt.gap))
                if nxt and same_section
                else []
            )
            n_overlap = len(cur)
        return drafts

    def _row_group(self, cur: list[_Unit], unit: _Unit, n_overlap: int) -> list[_Unit]:
        """The open row group at the end of ``cur`` (its header row, the rows after it, and a
        heading right before it), taken out of ``cur`` so that it starts the next chunk with
        ``unit``; nothing when that would leave ``cur`` without new body text or the group
        with ``unit`` does not fit in one chunk (then the chunk after starts with a bare row)."""
        h = max((i for i, u in enumerate(cur) if u.header), default=-1)
        if h < 0 or not all(u.table and not u.header for u in cur[h + 1 :]):
            return []
        while h > 0 and cur[h - 1].level:
            h -= 1
        if not any(not u.level for u in cur[n_overlap:h]) or _estimate([*cur[h:], unit]) > self.max:
            return []
        moved = cur[h:]
        del cur[h:]
        return moved

    def _tail(self, units: list[_Unit], budget: int) -> list[_Unit]:
        """Whole trailing sentences of ``units`` worth at most ``budget`` tokens (no table rows:
        the next chunk of a table starts with its header row)."""
        picked: list[_Unit] = []
        total = 0
        for unit in reversed(units):
            if unit.level or unit.table:
                break
            for sentence in reversed(self._sentence_units(unit)):
                cost = sentence.tokens + (picked[0].gap if picked else 0)
                if total + cost > budget:
                    return picked
                picked.insert(0, sentence)
                total += cost
        if picked and picked[0].start <= units[0].start:
            picked.pop(0)  # never repeat the whole previous chunk
        return picked

    def _emit(self, units: list[_Unit], n_overlap: int) -> tuple[_Draft, list[_Unit], list[_Unit]]:
        """The chunk of ``units`` (the first ``n_overlap`` repeated from the previous chunk),
        the units it holds, and trailing units pushed back because the exact count was over."""
        units = list(units)
        pushed: list[_Unit] = []
        first = 0
        while True:
            start, end = units[first].start, units[-1].end
            tokens = self._measure(start, end, _estimate(units[first:]))
            if tokens <= self.max or len(units) - first <= 1:
                break
            if first < n_overlap:
                first += 1
            elif len(units) - max(first, n_overlap) > 1:
                pushed.insert(0, units.pop())
            else:
                break
        content = units[max(first, n_overlap) :]
        anchor = next((u for u in units[first:] if not u.level), units[-1])
        draft = _Draft(
            start, end, tokens, sum(u.gap + u.tokens for u in content), anchor.path, units[first].page
        )
        return draft, units[first:], pushed

    def merge_small(self, drafts: list[_Draft]) -> list[_Draft]:
        merged: list[_Draft] = []
        for draft in drafts:
            prev = merged[-1] if merged else None
            if prev is not None and draft.new_tokens < self.min and draft.path == prev.path:
                end = max(prev.end, draft.end)
                tokens = self._measure(prev.start, end, prev.tokens + draft.new_tokens)
                if tokens <= self.max * MERGE_SLACK:
                    merged[-1] = _Draft(
                        prev.start, end, tokens, prev.new_tokens + draft.new_tokens, prev.path, prev.page
                    )
                    continue
            merged.append(draft)
        return merged


def _estimate(units: list[_Unit]) -> int:
    """Tokens of the span from the first unit to the last, from the parts' counts."""
    return sum(u.tokens + u.gap for u in units) - (units[0].gap if units else 0)


def _lines(text: str, offset: int) -> list[tuple[int, int]]:
    """Trimmed spans of the non-blank lines of ``text``, shifted by ``offset``."""
    spans: list[tuple[int, int]] = []
    for m in _LINE.finditer(text):
        stripped = m.group().strip()
        if stripped:
            begin = m.start() + m.group().index(stripped)
            spans.append((offset + begin, offset + begin + len(stripped)))
    return spans


def chunk_document(
    doc: LoadedDocument,
    *,
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap_tokens: int = 40,
    min_tokens: int = 20,
) -> list[ChunkSpan]:
    """Split ``doc`` into ordered, structure-aware chunks; see the module docstring for the rules."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"overlap_tokens must be in [0, max_tokens), got {overlap_tokens}")
    if min_tokens < 0:
        raise ValueError(f"min_tokens must be >= 0, got {min_tokens}")
    n = len(doc.text)
    blocks = sorted((b for b in doc.blocks if b.end > b.start), key=lambda b: (b.start, b.end))
    for b in blocks:
        if b.start < 0 or b.end > n:
            raise ValueError(f"block {b} lies outside the document text (length {n})")
    chunker = _Chunker(doc, count_tokens, max_tokens, overlap_tokens, min_tokens)
    drafts = chunker.merge_small(chunker.pack(chunker.units(blocks)))
    return [
        ChunkSpan(
            ordinal=i,
            start=d.start,
            end=d.end,
            text=doc.text[d.start : d.end],
            section_path=d.path,
            page=d.page,
            token_count=d.tokens,
        )
        for i, d in enumerate(drafts)
    ]
