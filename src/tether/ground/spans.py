"""Resolve a ``[n]`` citation to the exact sentence span(s) of the cited source document.

A passage is a chunk of a document: ``Passage.char_start`` is where ``passage.text`` starts in
the document's text, so a local offset ``i`` is document offset ``char_start + i``. The span is
the passage sentence that best matches the claim (cosine + term overlap), widened greedily by
the sentences that cover claim terms, numbers or names the first one lacks (a claim may join
two sentences of its source), up to ``max_spans`` sentences. Besides sentences, a table row (or
its header), a list item or a data record is a candidate span whole
(:func:`tether.text.units.block_spans`), so a quoted row resolves to that row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tether.embed.base import Embedder
from tether.ground.analysis import names, numbers, terms, tokens
from tether.text import split_sentences
from tether.text.units import block_spans
from tether.types import Passage


@dataclass
class _Unit:
    start: int  # local offsets in passage.text
    end: int
    text: str
    terms: set[str]
    facts: set[str]  # numbers and name words, for coverage of hard-check items


@dataclass
class Span:
    """A resolved span: local offsets in ``passage.text`` plus the sentence's match score."""

    start: int
    end: int
    score: float
    vec: np.ndarray = field(repr=False)


class SourceIndex:
    """Sentences and embeddings of the given passages, computed once per grounding call."""

    def __init__(self, passages: list[Passage], embedder: Embedder) -> None:
        self.passages = passages
        self.embedder = embedder
        self._units: list[list[_Unit]] | None = None
        self._vecs: list[np.ndarray] = []

    def passage(self, number: int) -> Passage | None:
        """The passage behind citation ``[number]`` (1-based), or None when it was not given."""
        return self.passages[number - 1] if 1 <= number <= len(self.passages) else None

    def _build(self) -> list[list[_Unit]]:
        if self._units is None:
            units: list[list[_Unit]] = []
            for p in self.passages:
                spans = [(s.start, s.end) for s in split_sentences(p.text) if s.has_words]
                spans += [b for b in block_spans(p.text) if b not in spans]  # rows, items, records whole
                if not spans and p.text.strip():
                    spans = [(0, len(p.text))]
                units.append([_unit(p.text, s, e) for s, e in spans])
            flat = [u.text for us in units for u in us]
            vecs = self.embedder.embed(flat) if flat else np.zeros((0, 1), dtype=np.float32)
            i = 0
            for us in units:
                self._vecs.append(vecs[i : i + len(us)])
                i += len(us)
            self._units = units
        return self._units

    def resolve(self, claim: str, claim_vec: np.ndarray, number: int, max_spans: int = 3) -> list[Span]:
        """The span(s) of passage ``[number]`` that ``claim`` rests on, in text order."""
        units = self._build()[number - 1]
        if not units:
            return []
        vecs = self._vecs[number - 1]
        cos = vecs @ claim_vec
        want_terms = terms(claim)
        want_facts = _facts(claim)
        overlap = np.array([len(want_terms & u.terms) / max(1, len(want_terms)) for u in units])
        score = cos + 0.5 * overlap
        chosen = [int(np.argmax(score))]
        missing = (want_terms | want_facts) - units[chosen[0]].terms - units[chosen[0]].facts
        while missing and len(chosen) < max_spans:
            gains = [
                (len(missing & (u.terms | u.facts)), float(score[i]), i)
                for i, u in enumerate(units)
                if i not in chosen
            ]
            if not gains or max(gains)[0] == 0:
                break
            _, _, best = max(gains)
            chosen.append(best)
            missing -= units[best].terms | units[best].facts
        return [Span(units[i].start, units[i].end, float(cos[i]), vecs[i]) for i in sorted(chosen)]


def _facts(text: str) -> set[str]:
    out = {f"#{n}" for n in numbers(text)}
    for name in names(text):
        out |= {f"@{w}" for w in tokens(name)}
    return out


def _unit(text: str, s: int, e: int) -> _Unit:
    t = text[s:e]
    facts = {f"#{n}" for n in numbers(t)} | {f"@{w}" for w in tokens(t)}
    return _Unit(s, e, t, terms(t), facts)
