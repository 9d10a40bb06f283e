"""``[ground]``: thresholds and switches of the grounding stage
(``TETHER_GROUND__SUPPORT_THRESHOLD``).

Defaults were tuned on HaluEval-QA rows 0-999 (see ``bench/grounding.py``) and reported on
rows 1000-4999.
"""

from __future__ import annotations

from pydantic import BaseModel

#: What an abstaining answer says (``ground.abstain_text`` by default).
ABSTAIN_TEXT = "I could not find this in the documents you can access."


class GroundConfig(BaseModel):
    #: A sentence is supported when ``sim_weight * cosine + (1 - sim_weight) * coverage`` reaches
    #: this and no hard check (numbers, names, negation) fails.
    support_threshold: float = 0.40
    sim_weight: float = 0.5
    #: Share of the claim's content terms (stemmed, function words removed) that must occur in
    #: the cited spans. 1.0 = every content word; paraphrases then fail and trigger the
    #: regeneration, whose prompt asks the model to keep to the sources' wording.
    min_coverage: float = 1.0
    #: Hard checks; each failure is recorded as a reason and makes the sentence unsupported.
    check_numbers: bool = True
    check_names: bool = True
    check_negation: bool = True
    #: At most this many sentences of one passage form the span(s) of one citation.
    max_spans_per_citation: int = 3
    #: Abstain when fewer than this share of the answer's sentences survive grounding.
    min_supported_fraction: float = 0.5
    min_supported_sentences: int = 1
    #: Regenerate once, listing the rejected sentences, before dropping them.
    regenerate: bool = True
    #: Abstain without generating when the top passage's retrieval score is below this
    #: (``None``: no retrieval check; the scale depends on the retriever that scored them).
    min_retrieval_score: float | None = None
    #: Escalate to a human when a kept sentence scores within this margin of the threshold.
    escalate_margin: float = 0.03
    abstain_text: str = ABSTAIN_TEXT
