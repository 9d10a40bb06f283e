"""Quotable units of a passage: sentences, but a list item, a table row or a data record whole.

Why: an answer that quotes half a table row ("| Lisbon | 0.72 |") or the first sentence of a
bullet loses the fact the asker needs, and a row means little without its table's header. The
extractive generator quotes units and the answerability gate scores them, and both must cut a
passage the same way, so the rules live here, on top of :func:`tether.text.split_sentences`:

* a table row (a line that starts with ``|``, or has cells joined by `` | `` as converted HTML
  tables do) is one unit; its table's header row is its ``context`` (separator rows ``|---|``
  are neither units nor context); blank lines between rows do not end a table, and the header
  row written again before a group of rows (as loaders write long tables) is context again;
* a list item (``-``, ``*``, ``•``, ``1.``, ``a)`` ...) with its continuation lines is one unit;
  the line that introduces the list ("Complete these courses within 30 days:") is its context;
* a flattened data record, a ``key: value; key: value`` line (CSV rows) or consecutive
  ``name[i].key: value`` lines of one index (JSON arrays), is one unit;
* markdown headings and ALL-CAPS heading lines are not units (they become list lead-ins);
* everything else is split into sentences.

Offsets are those of the passage text (``text[u.start:u.end] == u.text``); units are in order
and do not overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tether.text.sentences import split_sentences

__all__ = ["Unit", "block_spans", "quotable_units"]

_ROW = re.compile(r"[ \t]*\||[^|\n]+(?: \| [^|\n]*){2,}$")  # "| a | b |", or "a | b | c" (HTML tables)
_SEPARATOR = re.compile(r"[ \t]*\|?[ \t:|-]*-{2,}[ \t:|-]*$")
_ITEM = re.compile(r"[ \t]*(?:[-*+•·▪◦‣–]|\d{1,3}[.)]|[a-zA-Z]\)|\((?:\d{1,2}|[a-z]|[ivx]{1,4})\))[ \t]+\S")
_HEADING = re.compile(r"[ \t]*#{1,6}[ \t]")
_CSV_RECORD = re.compile(r"[ \t]*[A-Za-z_][\w ]{0,40}: [^\n]*; [A-Za-z_][\w ]{0,40}: ")
_JSON_KEY = re.compile(r"[ \t]*([A-Za-z_]\w*\[\d+\])[.\w\[\]]*: ")


@dataclass(frozen=True, slots=True)
class Unit:
    """One quotable piece of a passage."""

    start: int
    end: int
    text: str
    kind: str  # "sentence" | "item" | "row" | "record" (a table's header row is context only)
    #: What the unit needs to be read alone: a row's header row, a list item's lead-in line.
    context: str = ""
    #: Units of one list or table share a block number (-1: not in a list or table).
    block: int = -1


def _lines(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _blocks(text: str) -> list[tuple[int, int, str, str, int]]:
    """``(start, end, kind, context, block)`` of the rows, items and records of ``text``."""
    lines = _lines(text)
    out: list[tuple[int, int, str, str, int]] = []
    header, lead, block, in_table, in_list = "", "", -1, False, False
    i = 0
    while i < len(lines):
        s, e = lines[i]
        line = text[s:e]
        if not line.strip():
            i += 1
            continue
        if _ROW.match(line):
            if _SEPARATOR.match(line):
                i += 1
                continue
            if not in_table:  # the first row of a table is its header: context, not a unit
                in_table, header, block = True, line.strip(), block + 1
                in_list = False
                out.append((s, e, "header", "", block))
                i += 1
                continue
            if line.strip() == header:  # the header written again before a group of rows
                out.append((s, e, "header", "", block))
                i += 1
                continue
            out.append((s, e, "row", header, block))
            i += 1
            continue
        in_table = False
        if _ITEM.match(line) and not _HEADING.match(line) and not _shouting(line) and not _section(text, lines, i):
            if not in_list:
                in_list, block = True, block + 1
            end = e
            j = i + 1
            while j < len(lines):
                ns, ne = lines[j]
                nxt = text[ns:ne]
                if not nxt.strip() and _runs_on(text[s:end], text, lines, j):
                    j += 1  # a page break or extraction gap inside a sentence ("Use the\n\ncompany ...")
                    continue
                if not nxt.strip() or _ITEM.match(nxt) or _ROW.match(nxt) or _HEADING.match(nxt):
                    break
                end, j = ne, j + 1
            out.append((s, end, "item", lead, block))
            i = j
            continue
        in_list = False
        key = _JSON_KEY.match(line)
        if key:
            end, j = e, i + 1
            while j < len(lines):
                m = _JSON_KEY.match(text[lines[j][0]:lines[j][1]])
                if not m or m.group(1) != key.group(1):
                    break
                end, j = lines[j][1], j + 1
            out.append((s, end, "record", "", -1))
            i = j
            continue
        if _CSV_RECORD.match(line):
            out.append((s, e, "record", "", -1))
        else:  # a heading or a line of prose introduces what follows
            lead = line.strip().lstrip("#").strip()
            if _HEADING.match(line) or _shouting(line):
                out.append((s, e, "heading", "", -1))
            elif lead.endswith(":"):
                items = _paragraph_items(text, lines, i + 1)
                if items:
                    block += 1
                    out += [(a, b, "item", lead, block) for a, b, _ in items]
                    i = items[-1][2]
        i += 1
    return out


def _paragraph_items(text: str, lines: list[tuple[int, int]], i: int) -> list[tuple[int, int, int]]:
    """A list written as paragraphs after a lead-in line ending with ":" (bullets lost in a
    document conversion): the following one-line, short, full-stopped paragraphs, as
    ``(start, end, line index)``; a heading, a table, a list or another lead-in ends it."""
    out: list[tuple[int, int, int]] = []
    while i < len(lines):
        s, e = lines[i]
        line = text[s:e].strip()
        if not line:
            i += 1
            continue
        if (_ROW.match(line) or _ITEM.match(line) or _HEADING.match(line) or _shouting(line)
                or len(line.split()) > 25 or not line.endswith((".", "!", "?", ")"))):
            break
        nxt = text[lines[i + 1][0]:lines[i + 1][1]].strip() if i + 1 < len(lines) else ""
        if nxt and not _ROW.match(nxt):  # a wrapped paragraph is prose, not a list entry
            break
        out.append((s, e, i))
        i += 1
    return out if len(out) >= 2 else []


def _runs_on(item: str, text: str, lines: list[tuple[int, int]], blank: int) -> bool:
    """Whether the item goes on after the blank line ``blank``: it stops mid-sentence and the
    next line starts in lower case."""
    if blank + 1 >= len(lines) or item.rstrip().endswith((".", "!", "?", ":", ";", ")")):
        return False
    nxt = text[lines[blank + 1][0]:lines[blank + 1][1]].lstrip()
    return bool(nxt) and nxt[0].islower()


def _section(text: str, lines: list[tuple[int, int]], i: int) -> bool:
    """A short numbered line without a full stop before a blank line ("3. Accounts and
    authentication") is a section heading, not a list item."""
    line = text[lines[i][0]:lines[i][1]].strip()
    if not re.match(r"\d{1,2}[.)]\s", line) or len(line.split()) > 7 or line.endswith((".", ";", ",")):
        return False
    return i + 1 >= len(lines) or not text[lines[i + 1][0]:lines[i + 1][1]].strip()


def _shouting(line: str) -> bool:
    """An enumerated ALL-CAPS line ("3. CUSTODIANS") is a heading, not a list item."""
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 3 and not any(c.islower() for c in letters)


def block_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every row, header row, heading, list item and record of ``text``
    (trimmed): the pieces a quote may be besides a sentence (grounding resolves citations to them)."""
    out = []
    for s, e, _kind, _context, _block in _blocks(text):
        ts, te = _trim_start(text, s), _trim_end(text, e)
        if ts < te:
            out.append((ts, te))
    return out


def quotable_units(text: str) -> list[Unit]:
    """The units of ``text`` in order (see the module docstring); whitespace-only pieces and bare
    rules are left out."""
    units = []
    ranges = []
    for s, e, kind, context, block in _blocks(text):
        ts, te = _trim_start(text, s), _trim_end(text, e)
        if ts < te:
            ranges.append((ts, te))
            if kind not in ("header", "heading"):
                units.append(Unit(ts, te, text[ts:te], kind, context, block))
    for sent in split_sentences(text):
        for a, b in _minus(sent.start, sent.end, ranges):
            a, b = _trim_start(text, a), _trim_end(text, b)
            if a < b:
                units.append(Unit(a, b, text[a:b], "sentence"))
    units.sort(key=lambda u: u.start)
    return [u for u in units if any(c.isalnum() for c in u.text)]


def _minus(start: int, end: int, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``[start, end)`` without the (sorted, disjoint) ``ranges``."""
    out, pos = [], start
    for s, e in ranges:
        if e <= pos or s >= end:
            continue
        if s > pos:
            out.append((pos, s))
        pos = max(pos, e)
    if pos < end:
        out.append((pos, end))
    return out


def _trim_start(text: str, s: int) -> int:
    while s < len(text) and text[s].isspace():
        s += 1
    return s


def _trim_end(text: str, e: int) -> int:
    while e > 0 and text[e - 1].isspace():
        e -= 1
    return e
