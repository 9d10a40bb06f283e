"""The text injection rules and the classifier see: NFKC-normalised, invisible characters
removed, lookalike letters folded to Latin.

Why: "ig\u200bnore previous instructions" (a zero-width space), "ignоre" (a Cyrillic о) or
fullwidth "ｉｇｎｏｒｅ" read the same to a language model but slipped past every regular
expression. :func:`fold` undoes all three before any rule runs, and keeps, for every character
of its output, the offset of the character it came from, so a rule's hit still names the span of
the original text (``neutralise`` quotes exactly that span).

The confusables table is deliberately small: Cyrillic and Greek letters that look like Latin
ones in common fonts (Unicode's confusables.txt, restricted to those scripts). Folding them in
genuine Russian or Greek text only changes what the rules look at, never what is stored or shown.
"""

from __future__ import annotations

import unicodedata

#: Zero-width characters, joiners, bidi controls and other invisible format characters.
INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
    "\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"
)

_CONFUSABLES = {
    # Cyrillic lower and upper case
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ӏ": "l", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ї": "I", "Ј": "J", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
    "Һ": "H", "Ӏ": "I",
    # Greek lower and upper case
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "υ": "u", "χ": "x", "ε": "e",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}
CONFUSABLES = str.maketrans(_CONFUSABLES)


def _clusters(text: str) -> list[tuple[int, str]]:
    """(offset, base character with its combining marks), so NFKC can compose within one."""
    out: list[tuple[int, str]] = []
    for i, ch in enumerate(text):
        if out and unicodedata.combining(ch):
            out[-1] = (out[-1][0], out[-1][1] + ch)
        else:
            out.append((i, ch))
    return out


def fold(text: str) -> tuple[str, list[int]]:
    """``(folded, offsets)``: ``folded[i]`` comes from ``text[offsets[i]]``; ``offsets`` has one
    more entry, ``len(text)``, so a span's end maps too."""
    if text.isascii():
        return text, [*range(len(text) + 1)]
    chars: list[str] = []
    offsets: list[int] = []
    for start, cluster in _clusters(text):
        piece = unicodedata.normalize("NFKC", cluster)
        piece = "".join(ch for ch in piece if ch not in INVISIBLE and unicodedata.category(ch) != "Cf")
        piece = piece.translate(CONFUSABLES)
        chars.append(piece)
        offsets.extend([start] * len(piece))
    offsets.append(len(text))
    return "".join(chars), offsets


def folded(text: str) -> str:
    """The folded text alone (for the classifier, which needs no offsets)."""
    return fold(text)[0]


def original_span(offsets: list[int], text_len: int, start: int, end: int) -> tuple[int, int]:
    """The span of the original text a ``[start, end)`` span of the folded text came from."""
    a = offsets[start] if start < len(offsets) else text_len
    if end <= start:
        return a, a
    last = offsets[end - 1] if end - 1 < len(offsets) else text_len
    # the end is just past the last source character (its cluster may be longer than one)
    b = next((o for o in offsets[end:] if o > last), text_len)
    return a, max(b, a)
