"""Ground a finished answer: every sentence gets a verdict, every citation an exact span.

``supported``: cites at least one given passage and passes :func:`check_support` against the
resolved spans of everything it cites. ``unsupported``: cites, but fails. ``uncited``: no
marker, or any marker that refers to no given passage (listed as invalid; it never becomes a
citation, so a foreign number cannot surface a document, and a sentence that invents a source
is not trusted on the strength of its other markers). ``contradicted``: with a verifier (for
answers a model wrote), the verifier reads (sentence, cited spans) together and finds the
sentence contradicts them (``ground.entailment``), whatever the similarity checks said: similar
wording is exactly what a contradiction of its source has.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tether.embed.base import Embedder
from tether.ground.citations import ParsedSentence, parse_answer
from tether.ground.spans import SourceIndex
from tether.ground.support import check_support
from tether.ground.verifier import Verifier
from tether.settings import GroundConfig
from tether.types import Citation, Passage, SentenceVerdict, Verdict


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
    """Grounds sentences against one set of passages (sentence embeddings are computed once).
    With a ``verifier``, cited sentences also get its entailment verdict (``entail``)."""

    def __init__(self, passages: list[Passage], embedder: Embedder, cfg: GroundConfig | None = None,
                 verifier: Verifier | None = None) -> None:
        self.cfg = cfg or GroundConfig()
        self.embedder = embedder
        self.index = SourceIndex(passages, embedder)
        self.verifier = verifier if self.cfg.entailment.enabled else None

    def ground_sentences(self, parsed: list[ParsedSentence]) -> list[SentenceVerdict]:
        if not parsed:
            return []
        vecs = self.embedder.embed([p.claim for p in parsed])
        return self.entail(parsed, [self.check(p, vecs[i]) for i, p in enumerate(parsed)])

    def ground_one(self, p: ParsedSentence, vec: np.ndarray | None = None) -> SentenceVerdict:
        return self.entail([p], [self.check(p, vec)])[0]

    def entail(self, parsed: list[ParsedSentence], verdicts: list[SentenceVerdict]) -> list[SentenceVerdict]:
        """The verifier's check on every cited sentence: ``contradicted`` when it finds the cited
        spans contradict the sentence; with ``require_entailed``, ``unsupported`` (reason
        ``not_entailed``) when it does not find them entailing it."""
        cfg = self.cfg.entailment
        todo = [i for i, v in enumerate(verdicts) if self.verifier is not None and v.citations]
        if not todo:
            return verdicts
        assert self.verifier is not None
        evidence = [" ".join(dict.fromkeys(c.quote for c in verdicts[i].citations)) for i in todo]
        results = self.verifier.entailment([parsed[i].claim for i in todo], evidence)
        out = list(verdicts)
        for i, r in zip(todo, results):
            v = out[i]
            if r["verdict"] == "contradicted" and r["contradicted"] >= cfg.contradicted_min:
                why = f"contradicted:{r['contradicted']:.2f}"
                out[i] = replace(v, verdict="contradicted", reasons=(*v.reasons, why))
            elif cfg.require_entailed and r["verdict"] != "supported" and v.verdict == "supported":
                out[i] = replace(v, verdict="unsupported", reasons=(*v.reasons, f"not_entailed:{r['entailed']:.2f}"))
        return out

    def check(self, p: ParsedSentence, vec: np.ndarray | None = None) -> SentenceVerdict:
        """The similarity, number, name and negation checks alone."""
        if vec is None:
            vec = self.embedder.embed([p.claim])[0]
        valid = tuple(n for n in p.numbers if self.index.passage(n) is not None)
        invalid = tuple(n for n in p.numbers if n not in valid)
        base: dict[str, Any] = dict(index=p.index, text=p.raw, start=p.start, end=p.end, cited_numbers=valid,
                                    invalid_numbers=invalid)
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
        verdict: Verdict = "supported" if support.supported else "unsupported"
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
        authoritative=p.authoritative,
    )


def ground_answer(
    text: str, passages: list[Passage], embedder: Embedder, cfg: GroundConfig | None = None,
    verifier: Verifier | None = None,
) -> GroundedAnswer:
    """Verdicts for every sentence of ``text`` against the numbered ``passages`` ([1] = first)."""
    grounder = Grounder(passages, embedder, cfg, verifier)
    return GroundedAnswer(text, grounder.ground_sentences(parse_answer(text)))
