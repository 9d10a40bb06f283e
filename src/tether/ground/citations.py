"""Parse a generated answer into sentences and the ``[n]`` markers each one carries.

Accepted marker forms: ``[1]``, ``[1][2]``, ``[1, 3]``, ``[1-3]``, ``[^1]``, ``[source 2]``, placed
before or after the sentence's full stop. Markdown emphasis, list bullets and block quotes are
removed from the claim text; headings and code fences are not claims and are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tether.text import split_sentences

MARKER = re.compile(
    r"\[\^?\s*(?:sources?\s*:?\s*)?(\d+(?:\s*(?:[,;\u2013-]|and)\s*\d+)*)\s*\]", re.IGNORECASE
)
_MD = re.compile(r"(\*\*|__|\*|`|~~)")
_LEAD = re.compile(r"^\s*(?:>\s*)*(?:[-*+•]\s+|\d+[.)]\s+)?")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)")


@dataclass(frozen=True)
class ParsedSentence:
    """One sentence of an answer: where it is, what it claims, which sources it cites."""

    index: int
    start: int
    end: int
    raw: str  # text[start:end], markers included
    claim: str  # the sentence without markers or markdown: what must be supported
    numbers: tuple[int, ...]  # cited source numbers, in order of first appearance


def cited_numbers(text: str) -> tuple[int, ...]:
    """Source numbers cited in ``text``, ranges expanded, duplicates removed."""
    out: list[int] = []
    for m in MARKER.finditer(text):
        for part in re.split(r"\s*(?:[,;]|and)\s*", m.group(1)):
            rng = re.split(r"\s*[\u2013-]\s*", part)
            nums = [int(rng[0])] if len(rng) == 1 else list(range(int(rng[0]), int(rng[-1]) + 1))[:20]
            for n in nums:
                if n not in out:
                    out.append(n)
    return tuple(out)


def strip_markers(text: str) -> str:
    """The claim text: markers, links and markdown removed, whitespace tidied."""
    text = _LINK.sub(r"\1", text)
    text = MARKER.sub("", text)
    text = _MD.sub("", _LEAD.sub("", text))
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def parse_answer(text: str) -> list[ParsedSentence]:
    """Sentences of ``text`` with their citations. Markers alone on a line join the sentence before."""
    spans = _claim_spans(text)
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and not re.search(r"\w", MARKER.sub("", text[s:e])):
            merged[-1] = (merged[-1][0], e)  # "[2]" on its own belongs to the previous sentence
        else:
            merged.append((s, e))
    out: list[ParsedSentence] = []
    for s, e in merged:
        raw = text[s:e]
        claim = strip_markers(raw)
        if not re.search(r"\w", claim):
            continue
        out.append(ParsedSentence(len(out), s, e, raw, claim, cited_numbers(raw)))
    return out


def _claim_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans, skipping headings and fenced code."""
    spans: list[tuple[int, int]] = []
    in_code = False
    pos = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
        elif in_code or stripped.startswith("#") or re.fullmatch(r"[-=*_|: ]{3,}", stripped):
            pass
        else:
            spans.extend((s.start, s.end) for s in split_sentences(line, pos) if s.has_words)
        pos += len(line)
    return spans
