"""A small, offset-preserving sentence splitter.

The chunker must split oversized blocks at sentence boundaries and overlap chunks by whole
sentences, while keeping every span an exact slice of the document text. General-purpose
splitters (spaCy, punkt) either lose offsets or are heavy; this one is a few rules:

* ``.``, ``!``, ``?`` or ``…`` (optionally followed by closing quotes/brackets) then whitespace
  ends a sentence, except after known abbreviations (``e.g.``, ``Dr.``, ``vs.``), single-letter
  initials (``J. Smith``) and list enumerators at the start of a line (``1. Item``);
* ``etc.`` and ellipses end a sentence only when the next word starts with a capital letter;
* decimals (``3.5``) never split, because the period is not followed by whitespace;
* a blank line always ends a sentence, and so does a newline followed by a bullet marker.
"""

from __future__ import annotations

import re

__all__ = ["split_sentences", "split_words"]

# Never sentence ends, whatever follows (compared lower-case, without the final period).
_ABBREVIATIONS = frozenset(
    """
    e.g i.e cf vs dr mr mrs ms prof sr jr st mt approx dept est
    col gen gov lt sgt capt rev al viz ca resp incl
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)
# Not sentence ends when a number follows ("No. 5", "Fig. 2", "pp. 10-12").
_NUMBER_ABBREVIATIONS = frozenset("no nos fig figs vol pp p eq eqs art sec ch ref refs".split())
# Sentence ends only when the next word is capitalised.
_SOFT_ABBREVIATIONS = frozenset("etc inc ltd co corp bros".split())

_END = re.compile(r"[.!?…]+['\"”’)\]»]*(?=\s|$)")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_BULLET_LINE = re.compile(r"\n[ \t]*(?:[-*•+]|\d{1,3}[.)])[ \t]")
_NEXT_CHAR = re.compile(r"\s*(\S)")
_WORD = re.compile(r"\S+")


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    punct = match.group(0)
    pos = match.start()
    following = _NEXT_CHAR.match(text, match.end())
    if following is None:
        return True
    next_char = following.group(1)
    next_upper = next_char.isupper() or next_char.isdigit()
    if "." not in punct or any(c in punct for c in "!?"):
        return True
    if punct.startswith("..") or punct.startswith("…"):
        return next_upper
    word_start = pos
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    if word_start == pos:
        return True
    word = text[word_start:pos].lstrip("([{\"'“‘").lower()
    if word in _ABBREVIATIONS:
        return False
    if word in _NUMBER_ABBREVIATIONS:
        return not next_char.isdigit()
    if word in _SOFT_ABBREVIATIONS:
        return next_upper
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "J. Smith"
    if "." in word and all(part.isalpha() and len(part) <= 2 for part in word.split(".")):
        return next_upper  # "U.S." style
    if word.isdigit() and _first_on_line(text, word_start):
        return False  # "1. Item" at the start of a line
    return True


def _first_on_line(text: str, pos: int) -> bool:
    while pos > 0 and text[pos - 1] in " \t":
        pos -= 1
    return pos == 0 or text[pos - 1] == "\n"


def split_sentences(text: str, start: int = 0) -> list[tuple[int, int]]:
    """Sentence spans ``(begin, end)`` of ``text``, shifted by ``start``.

    Spans are trimmed of surrounding whitespace, never empty, in order, and together cover every
    non-whitespace character of ``text``.
    """
    cuts: set[int] = set()
    for m in _END.finditer(text):
        if _is_boundary(text, m):
            cuts.add(m.end())
    for m in _BLANK_LINE.finditer(text):
        cuts.add(m.start())
    for m in _BULLET_LINE.finditer(text):
        cuts.add(m.start())
    spans: list[tuple[int, int]] = []
    prev = 0
    for cut in sorted(cuts) + [len(text)]:
        span = _trim(text, prev, cut)
        if span is not None:
            spans.append((span[0] + start, span[1] + start))
        prev = cut
    return spans


def split_words(text: str, start: int = 0) -> list[tuple[int, int]]:
    """Whitespace-separated word spans of ``text``, shifted by ``start``."""
    return [(m.start() + start, m.end() + start) for m in _WORD.finditer(text)]


def _trim(text: str, begin: int, end: int) -> tuple[int, int] | None:
    while begin < end and text[begin].isspace():
        begin += 1
    while end > begin and text[end - 1].isspace():
        end -= 1
    return (begin, end) if begin < end else None
