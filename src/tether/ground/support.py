"""Is a sentence supported by the span(s) it cites?

A soft score (embedding cosine to the closest cited sentence blended with the share of the
claim's content terms found in the cited spans), a coverage floor (content words of the claim
that the spans never use), and hard checks whose failures are reasons on their own: a number, a
name, or a negation in the claim that the spans do not back. The hard
checks catch what embeddings miss: "revenue grew 12%" and "revenue grew 21%" embed alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tether.ground.analysis import names_missing, negation_mismatch, numbers_supported, terms, unmatched_words
from tether.settings import GroundConfig


@dataclass(frozen=True)
class Support:
    score: float
    reasons: tuple[str, ...]
    similarity: float
    coverage: float

    @property
    def supported(self) -> bool:
        return not self.reasons


def check_support(
    claim: str,
    claim_vec: np.ndarray,
    span_texts: list[str],
    span_vecs: list[np.ndarray],
    cfg: GroundConfig,
) -> Support:
    """Score ``claim`` against the texts it cites; ``reasons`` is empty when it is supported."""
    if not span_texts:
        return Support(0.0, ("no_span",), 0.0, 0.0)
    sims = [float(v @ claim_vec) for v in span_vecs]
    sim = max(sims)
    source = " ".join(span_texts)
    want = terms(claim)
    coverage = len(want & terms(source)) / len(want) if want else 1.0
    score = cfg.sim_weight * sim + (1 - cfg.sim_weight) * coverage
    reasons: list[str] = []
    if cfg.check_numbers:
        reasons += [f"number_missing:{n}" for n in numbers_supported(claim, source)]
    if cfg.check_names:
        reasons += [f"name_missing:{n}" for n in names_missing(claim, source)]
    if cfg.check_negation:
        mismatch = negation_mismatch(claim, span_texts)
        if mismatch:
            reasons.append(mismatch)
    if coverage < cfg.min_coverage - 1e-9:
        reasons.append("terms_missing:" + ",".join(unmatched_words(claim, source)[:5]))
    if score < cfg.support_threshold:
        reasons.append(f"low_support:{score:.2f}")
    return Support(round(score, 4), tuple(reasons), round(sim, 4), round(coverage, 4))
