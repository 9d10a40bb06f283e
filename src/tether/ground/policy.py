"""Decisions shared by the plain, structured and streaming answer paths: when retrieval is too
weak to generate at all, what counts as the model abstaining, how rejected sentences are
described to the model, how they are cut from the text, and when too little survived to show
anything.
"""

from __future__ import annotations

import re

from tether.ground.citations import ParsedSentence
from tether.settings import GroundConfig
from tether.types import Answer, Citation, Passage, SentenceVerdict, Usage

_ABSTAIN = re.compile(
    r"(could not|couldn't|cannot|can't|can not|unable to|do not|don't) (find|answer|determine|locate)"
    r"|(sources|documents|context) (do not|don't|does not|doesn't) (contain|mention|say|provide|include)"
    r"|no (information|answer) (is|was)? ?(available|provided|found)",
    re.IGNORECASE,
)


def retrieval_too_weak(passages: list[Passage], cfg: GroundConfig) -> str | None:
    """Why not to generate at all, or None."""
    if not passages:
        return "no_passages"
    if cfg.min_retrieval_score is not None and max(p.score for p in passages) < cfg.min_retrieval_score:
        return "weak_retrieval"
    return None


def is_abstention(sentence: str) -> bool:
    """Whether a sentence is the model saying it cannot answer (not a claim to ground)."""
    return bool(_ABSTAIN.search(sentence))


def claims_of(parsed: list[ParsedSentence]) -> tuple[list[ParsedSentence], bool]:
    """The sentences to ground, and whether the model (also) said it could not answer."""
    claims = [p for p in parsed if not is_abstention(p.claim)]
    return claims, len(claims) < len(parsed)


def describe(rejected: list[SentenceVerdict]) -> str:
    """Feedback for a regeneration: each rejected sentence and why, in plain words."""
    lines = []
    for v in rejected:
        lines.append(f'- "{_short(v.text)}": {explain(v)}')
    return "\n".join(lines)


def explain(v: SentenceVerdict) -> str:
    why = []
    for r in v.reasons:
        kind, _, arg = r.partition(":")
        why.append(
            {
                "no_citation": "cites no source",
                "invalid_citation": f"cites source [{arg}], which was not provided",
                "number_missing": f"the number {arg} is not in the cited source",
                "name_missing": f"the name {arg!r} is not in the cited source",
                "negation_added": "adds a negation the cited source does not state",
                "negation_dropped": "drops a negation the cited source states",
                "terms_missing": f"uses words the cited source does not ({arg})",
                "low_support": "is not supported by the cited source",
                "no_span": "the cited source is empty",
                "contradicted": "contradicts the cited source",
                "not_entailed": "is not stated by the cited source",
            }.get(kind, r)
        )
    return "; ".join(why) or "not supported"


def _short(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def cut(text: str, ranges: list[tuple[int, int]]) -> str:
    """``text`` without the given character ranges, empty list items and stray whitespace."""
    for s, e in sorted(ranges, reverse=True):
        text = text[:s] + text[e:]
    lines = [ln.rstrip() for ln in text.splitlines()]
    lines = [ln for ln in lines if not re.fullmatch(r"\s*(?:[-*+•]|\d+[.)])\s*", ln)]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def distinct_citations(verdicts: list[SentenceVerdict]) -> list[Citation]:
    seen: dict[tuple[int, int, int], Citation] = {}
    for v in verdicts:
        if v.supported:
            for c in v.citations:
                seen.setdefault((c.number, c.doc_start, c.doc_end), c)
    return list(seen.values())


def too_little(verdicts: list[SentenceVerdict], cfg: GroundConfig) -> bool:
    kept = sum(1 for v in verdicts if v.supported)
    if kept < cfg.min_supported_sentences:
        return True
    return bool(verdicts) and kept / len(verdicts) < cfg.min_supported_fraction


def borderline(verdicts: list[SentenceVerdict], cfg: GroundConfig) -> bool:
    """A kept sentence whose score is within ``escalate_margin`` of the threshold."""
    return any(v.supported and v.score < cfg.support_threshold + cfg.escalate_margin for v in verdicts)


def abstention(
    cfg: GroundConfig, reason: str, *, escalate: bool = False, model: str = "", usage: Usage | None = None,
    sentences: list[SentenceVerdict] | None = None, attempts: int = 0,
) -> Answer:
    return Answer(
        text=cfg.abstain_text,
        abstained=True,
        escalate=escalate,
        model=model,
        usage=usage or Usage(),
        sentences=sentences or [],
        reasons=[reason],
        attempts=attempts,
    )
