"""Ground a finished answer: every sentence gets a verdict, every citation an exact span.

``supported``: cites at least one given passage and passes :func:`check_support` against the
resolved spans of everything it cites. ``unsupported``: cites, but fails. ``uncited``: no
marker, or any marker that refers to no given passage (listed as invalid; it never becomes a
citation, so a foreign number cannot surface a document, and a sentence that invents a source
is not trusted on the strength of its other markers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tether.embed.base import Embedder
from tether.ground.citations import ParsedSentence, parse_answer
from tether.settings import GroundConfig
from tether.ground.spans import SourceIndex
from tether.ground.support import check_support
from tether.types import Citation, Passage, SentenceVerdict


@dataclass
class GroundedAnswer:
    """The verdicts of one answer text."""

    text: str
    sentences: list[SentenceVerdict] = field(default_factory=list)

    @property
    def supported(self) -> list[SentenceVerdict]:
        return [s for s in self.sentences if s.verdict == "supported"]

    @property
    def rejected(self) -> list[SentenceVerdict]:
        return [s for s in self.sentences if s.verdict != "supported"]

    @property
    def citations(self) -> list[Citation]:
        """Distinct citations of the supported sentences, in order of first use."""
        seen: dict[tuple[int, int, int], Citation] = {}
        for s in self.supported:
            for c in s.citations:
                seen.setdefault((c.number, c.doc_start, c.doc_end), c)
        return list(seen.values())


class Grounder:
    """Grounds sentences against one set of passages (sentence embeddings are computed once)."""

    def __init__(self, passages: list[Passage], embedder: Embedder, cfg: GroundConfig | None = None) -> None:
        self.cfg = cfg or GroundConfig()
        self.embedder = embedder
        self.index = SourceIndex(passages, embedder)

    def ground_sentences(self, parsed: list[ParsedSentence]) -> list[SentenceVerdict]:
        if not parsed:
            return []
        vecs = self.embedder.embed([p.claim for p in parsed])
        return [self.ground_one(p, vecs[i]) for i, p in enumerate(parsed)]

    def ground_one(self, p: ParsedSentence, vec: np.ndarray | None = None) -> SentenceVerdict:
        if vec is None:
            vec = self.embedder.embed([p.claim])[0]
        valid = tuple(n for n in p.numbers if self.index.passage(n) is not None)
        invalid = tuple(n for n in p.numbers if n not in valid)
        base = dict(index=p.index, text=p.raw, start=p.start, end=p.end, cited_numbers=valid, invalid_numbers=invalid)
        if not valid or invalid:  # a number that names no given passage voids the sentence
            reasons = ("no_citation",) if not invalid else tuple(f"invalid_citation:{n}" for n in invalid)
            return SentenceVerdict(verdict="uncited", score=0.0, reasons=reasons, **base)
        citations: list[Citation] = []
        texts: list[str] = []
        span_vecs: list[np.ndarray] = []
        for n in valid:
            passage = self.index.passage(n)
            assert passage is not None
            for span in self.index.resolve(p.claim, vec, n, self.cfg.max_spans_per_citation):
                quote = passage.text[span.start : span.end]
                citations.append(_citation(n, passage, span.start, span.end, quote))
                texts.append(quote)
                span_vecs.append(span.vec)
        support = check_support(p.claim, vec, texts, span_vecs, self.cfg)
        verdict = "supported" if support.supported else "unsupported"
        return SentenceVerdict(
            verdict=verdict, score=support.score, citations=tuple(citations), reasons=support.reasons, **base
        )


def _citation(n: int, p: Passage, start: int, end: int, quote: str) -> Citation:
    return Citation(
        number=n,
        chunk_id=p.chunk_id,
        document_id=p.document_id,
        title=p.title,
        doc_start=p.char_start + start,
        doc_end=p.char_start + end,
        quote=quote,
        source_uri=p.source_uri,
        page=p.page,
    )


def ground_answer(
    text: str, passages: list[Passage], embedder: Embedder, cfg: GroundConfig | None = None
) -> GroundedAnswer:
    """Verdicts for every sentence of ``text`` against the numbered ``passages`` ([1] = first)."""
    grounder = Grounder(passages, embedder, cfg)
    return GroundedAnswer(text, grounder.ground_sentences(parse_answer(text)))
