"""A small rule-based sentence splitter with character offsets.

Grounding needs offsets (a citation must point at an exact span), so it cannot use a splitter
that rewrites text. ``tether.ingest.sentences`` is being written for chunking; until the two are
unified this module keeps grounding self-contained. It handles abbreviations, decimals
("3.5"), initials ("J. R. R."), sentences glued without a space ("century.First") and line
breaks that end list items or headings.
"""

from __future__ import annotations

import re

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "co", "corp",
    "no", "fig", "figs", "eq", "al", "e.g", "i.e", "approx", "dept", "est", "gen", "gov", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k",
    "mt", "ft", "vol", "p", "pp", "ca", "cf", "op", "cit", "rev", "sen", "rep", "col", "lt", "sgt",
}
# A terminator: ., ! or ? (possibly repeated), optional closing quotes/brackets, then whitespace,
# or a period glued to a capitalised word ("century.First").
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|(?<=[a-z0-9)])\.(?=[A-Z][a-z])")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_CITE_AHEAD = re.compile(r"\s*(?:\[\^?\d+(?:\s*[,;\u2013-]\s*\d+)*\]\s*)+")


def _is_abbreviation(text: str, dot: int) -> bool:
    m = _WORD_BEFORE.search(text, 0, dot)
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    if word in _ABBREV:
        return True
    # single initials ("J.") and dotted acronyms ("U.S.")
    return len(word) == 1 or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def split_sentences(text: str, start: int = 0) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the sentences of ``text[start:]``, whitespace trimmed.

    Citation markers right after a terminator ("... in 1990. [2]") stay with that sentence.
    Newlines always end a sentence when the next line starts a list item, a heading or a blank
    line follows.
    """
    out: list[tuple[int, int]] = []
    for line_start, line_end in _blocks(text, start):
        seg_start = line_start
        for m in _END.finditer(text, line_start, line_end):
            end = m.end()
            if text[m.start()] == "." and m.end() - m.start() == 1:
                if _is_abbreviation(text, m.start()) or text[seg_start : m.start()].strip().isdigit():
                    continue  # "Dr.", "J.", "U.S.", or a "1." list marker
            cite = _CITE_AHEAD.match(text, end, line_end)
            if cite:
                end = cite.end()
            _emit(text, seg_start, end, out)
            seg_start = end
        _emit(text, seg_start, line_end, out)
    return out


def _blocks(text: str, start: int) -> list[tuple[int, int]]:
    """Split at blank lines and at newlines before list items / headings / table rows."""
    blocks: list[tuple[int, int]] = []
    b = start
    for m in re.finditer(r"\n", text[start:]):
        pos = start + m.start()
        rest = text[pos + 1 : pos + 12]
        prev = text[b:pos].strip()
        if (
            not rest.strip()
            or rest.startswith(("\n", "\r\n"))  # a blank line follows: paragraph break
            or (len(prev) <= 60 and not prev.endswith((",", ";")) and rest[:1].isupper()
                and "\n" not in text[b:pos].strip())  # a short heading-like line
            or not prev
            or re.match(r"\s*(?:[-*+•]\s|\d+[.)]\s|#|\|)", rest)
            or re.match(r"(?:[-*+•]\s|\d+[.)]\s|#|\|)", prev)
            or prev.endswith((".", "!", "?", ":", "]"))
        ):
            blocks.append((b, pos))
            b = pos + 1
    blocks.append((b, len(text)))
    return blocks


def _emit(text: str, s: int, e: int, out: list[tuple[int, int]]) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s and any(ch.isalnum() for ch in text[s:e]):
        out.append((s, e))
