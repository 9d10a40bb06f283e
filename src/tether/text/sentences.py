"""The one sentence splitter: spans that are exact slices of the text they came from.

Chunking (packing and overlapping whole sentences), the extractive generator (quoting source
sentences) and grounding (pointing a citation at an exact span, parsing an answer into claims)
all need sentences *with offsets*, and they must agree on where a sentence ends. General-purpose
splitters either lose offsets or are heavy, so this is a few rules, linear in the text:

* ``.``, ``!``, ``?`` or ``…`` (then any closing quotes, brackets or ``**``) followed by whitespace
  ends a sentence, except after an abbreviation (``e.g.``, ``Dr.``, ``vs.``), an initial (``J. Smith``),
  a dotted acronym before a lower-case word (``the U.S. market``), a number abbreviation before a
  number (``No. 5``, ``Art. 12``, ``Sec. 3``) or a list enumerator at the start of a line
  (``1. Item``); ``etc.``-like words and ellipses end one only before a capitalised word;
* decimals, versions, URLs and e-mail addresses (``3.5``, ``v2.1``, ``corvane.example/a?b``)
  never split: the stop is not followed by whitespace. A stop glued to a capitalised word
  (``century.First``) does split, unless the word before it is an abbreviation or a URL, path
  or address;
* citation markers right after a stop (``... in 1990. [2][3]``) stay with that sentence;
* a single line break does not end a sentence (hard-wrapped text goes on), but a blank line
  does (also a bare ``>`` in a quote), and so does a line break before a list item (``-``,
  ``*``, ``•``, ``1.``, ``a)``, ``(iv)``, ``[ ]``), a markdown heading or table row, or a
  ``Label: value`` line; after a heading (a markdown heading, a table row, an ALL-CAPS line) or a
  short ``Label: value`` line followed by a capital; and where an indented list item is followed
  by a line indented less than its marker.

``start`` has one meaning: it is added to every offset, so ``split_sentences(chunk, chunk_start)``
gives document offsets. Every span is trimmed of surrounding whitespace, non-empty, in order,
non-overlapping, and together the spans cover every non-whitespace character of ``text``; no
character is altered (``text[s.start - start : s.end - start] == s.text``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SentenceSpan", "split_sentences", "split_words"]


@dataclass(frozen=True, slots=True)
class SentenceSpan:
    """A sentence (or word) of a text: ``source[start - offset : end - offset] == text``."""

    start: int
    end: int
    text: str

    @property
    def has_words(self) -> bool:
        """Whether it holds a letter or digit: a lone rule (``---``) or bullet states nothing."""
        return any(c.isalnum() for c in self.text)


# Never sentence ends, whatever follows (compared lower-case, without the final period).
_ABBREVIATIONS = frozenset(
    """
    e.g i.e cf vs dr mr mrs ms prof sr jr st mt approx dept est
    col gen gov lt sgt capt rev al viz ca resp incl
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)
# Not sentence ends when a number follows ("No. 5", "Fig. 2", "pp. 10-12").
_NUMBER_ABBREVIATIONS = frozenset("no nos fig figs vol pp p eq eqs art arts sec ch ref refs".split())
# Sentence ends only when the next word is capitalised.
_SOFT_ABBREVIATIONS = frozenset("etc inc ltd co corp bros".split())
_OPENERS = "([{\"'“‘«"

_END = re.compile(r"[.!?…]+['\"”’)\]»*_`]*(?=\s|$)")  # closers: quotes, brackets, emphasis
_GLUED = re.compile(r"(?<=[a-z0-9)])\.(?=[A-Z][a-z])")
_CITATIONS = re.compile(r"(?:[ \t]*\[\^?\d+(?:\s*[,;\u2013-]\s*\d+)*\])+")
_NEXT_CHAR = re.compile(r"\s*(\S)")
_WORD = re.compile(r"\S+")
_TOKEN_REST = re.compile(r"\S*")
_NEWLINE = re.compile(r"\n")
_QUOTED = r"(?:[ \t]*>)*[ \t]*"  # block-quote marks and indentation before a line's text
# A line that starts a new unit: list item, checkbox, markdown heading, table row.
_MARKER = r"(?:[-*+•·▪◦‣–]|\d{1,3}[.)]|[a-zA-Z]\)|\((?:\d{1,2}|[a-z]|[ivx]{1,4})\)|\[[ xX✓]\]|#{1,6})"
_ITEM_LINE = re.compile(_QUOTED + _MARKER + r"[ \t]|" + _QUOTED + r"\|")
# A "Label: value" line (front matter, forms, case notes). Lower-case keys of flattened JSON or
# CSV rows ("people[0].email: ...") are not labels: a record's lines stay one unit to quote.
_LABEL_LINE = re.compile(_QUOTED + r"[A-Z][\w'()/&-]*(?: [\w'()/&-]+){0,3}:[ \t]")
_BLANK_LINE = re.compile(_QUOTED + r"(?:\r?\n|\r?$)")
_HEADING_LINE = re.compile(_QUOTED + r"(?:#{1,6}[ \t]|\|)")
_SHORT_LABEL = 60  # a label line this short that ends at a capital is a whole line, not wrapped
_LONG_WORD = 100  # characters; longer "words" are data, not prose


def split_sentences(text: str, start: int = 0) -> list[SentenceSpan]:
    """The sentences of ``text``, each offset shifted by ``start``; see the module docstring."""
    if not isinstance(text, str):
        raise TypeError(f"split_sentences needs a str, got {type(text).__name__}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    cuts = _stop_cuts(text) | _line_cuts(text)
    spans: list[SentenceSpan] = []
    prev = 0
    for cut in sorted(cuts) + [len(text)]:
        begin, end = _trim(text, prev, cut)
        if begin < end:
            spans.append(SentenceSpan(begin + start, end + start, text[begin:end]))
        prev = max(prev, cut)
    return spans


def split_words(text: str, start: int = 0) -> list[SentenceSpan]:
    """Whitespace-separated words of ``text``, each offset shifted by ``start`` (the unit an
    overlong sentence falls back to)."""
    return [SentenceSpan(m.start() + start, m.end() + start, m.group()) for m in _WORD.finditer(text)]


# -- full stops ----------------------------------------------------------------------------------


def _stop_cuts(text: str) -> set[int]:
    cuts: set[int] = set()
    for m in _END.finditer(text):
        if _is_boundary(text, m):
            cuts.add(_after_citations(text, m.end()))
    token_end, address = -1, False
    for m in _GLUED.finditer(text):
        pos = m.start()
        if pos >= token_end:  # a new token: judged once, however many dots it has
            token_end = _TOKEN_REST.match(text, pos).end()  # type: ignore[union-attr]
            address = _in_address(text, pos, token_end)
        if not address and _word_before(text, pos) not in _ABBREVIATIONS:
            cuts.add(_after_citations(text, m.end()))
    return cuts


def _after_citations(text: str, pos: int) -> int:
    m = _CITATIONS.match(text, pos)
    return m.end() if m else pos


def _word_before(text: str, pos: int) -> str:
    """The word ending at ``pos`` (back to whitespace), without opening brackets, lower-case;
    ``""`` for a word longer than ``_LONG_WORD`` (never an abbreviation; keeps this linear)."""
    begin = pos
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
        if pos - begin > _LONG_WORD:
            return ""
    return text[begin:pos].lstrip(_OPENERS).lower()


def _in_address(text: str, pos: int, end: int) -> bool:
    """Whether the token around ``pos`` (ending at ``end``) is a URL, e-mail address or path
    (``corvane.example/Guide.Html``), or longer than ``_LONG_WORD`` (minified code, data)."""
    begin = pos
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
        if end - begin > _LONG_WORD:
            return True
    if end - begin > _LONG_WORD:
        return True
    token = text[begin:end]
    return any(c in token for c in "/@\\") or "www." in token.lower()


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
    if pos == 0 or text[pos - 1].isspace():
        return True
    word = _word_before(text, pos)
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
    return not (word.isdigit() and _first_on_line(text, pos - len(word)))  # not "1. Item" starting a line


def _first_on_line(text: str, pos: int) -> bool:
    while pos > 0 and text[pos - 1] in " \t":
        pos -= 1
    return pos == 0 or text[pos - 1] == "\n"


# -- line structure ------------------------------------------------------------------------------


def _line_cuts(text: str) -> set[int]:
    """Line breaks that end a sentence whatever the punctuation (see the module docstring)."""
    cuts: set[int] = set()
    begin = 0  # start of the line before the break
    for m in _NEWLINE.finditer(text):
        pos = m.start()
        nxt = pos + 1
        if (
            _BLANK_LINE.match(text, nxt)
            or _BLANK_LINE.match(text, begin)  # after a blank quoted line (">")
            or _ITEM_LINE.match(text, nxt)
            or _LABEL_LINE.match(text, nxt)
            or _is_heading_line(text, begin, pos)
            or _is_short_label(text, begin, pos, nxt)
            or _item_ends(text, begin, pos, nxt)
        ):
            cuts.add(pos)
        begin = nxt
    return cuts


def _is_heading_line(text: str, begin: int, end: int) -> bool:
    """A markdown heading, a table row or an ALL-CAPS line ("WHEN TO ROLL BACK")."""
    if _HEADING_LINE.match(text, begin, end):
        return True
    line = text[begin:end]
    return sum(c.isalpha() for c in line) >= 4 and not any(c.islower() for c in line)


def _is_short_label(text: str, begin: int, end: int, nxt: int) -> bool:
    """"Classification: CONFIDENTIAL" followed by a capitalised line: two statements."""
    line = text[begin:end].strip()
    if len(line) > _SHORT_LABEL or line.endswith((",", ";", ":", "-")) or not _LABEL_LINE.match(line):
        return False
    following = _NEXT_CHAR.match(text, nxt)
    return following is not None and (following.group(1).isupper() or following.group(1).isdigit())


def _item_ends(text: str, begin: int, end: int, nxt: int) -> bool:
    """An indented list item ends where the next line is indented less than its marker."""
    if not _ITEM_LINE.match(text, begin, end):
        return False
    return _indent(text, nxt) < _indent(text, begin)


def _indent(text: str, pos: int) -> int:
    end = pos
    while end < len(text) and text[end] in " \t":
        end += 1
    return end - pos


def _trim(text: str, begin: int, end: int) -> tuple[int, int]:
    while begin < end and text[begin].isspace():
        begin += 1
    while end > begin and text[end - 1].isspace():
        end -= 1
    return begin, end
