"""``[ground]``: thresholds and switches of the grounding stage
(``TETHER_GROUND__SUPPORT_THRESHOLD``).

Defaults were tuned on HaluEval-QA rows 0-999 (see ``bench/grounding.py``) and reported on
rows 1000-4999.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

#: What an abstaining answer says (``ground.abstain_text`` by default).
ABSTAIN_TEXT = "I could not find this in the documents you can access."


class AnswerabilityConfig(BaseModel):
    """``[ground.answerability]``: the verifier's gate before generation (answer/steps.py) and
    its floor for the sentences the extractive generator may quote.

    ``None`` thresholds take the shipped model's calibrated ``answers`` threshold (its
    ``config.json``, chosen on the held-out calibration slices; see its MODEL_CARD.md)."""

    enabled: bool = True
    #: Abstain (``not_answerable``) when the best P(answers) of (question, packed passage) is below this.
    threshold: float | None = None
    #: A folder with ``model.onnx``, ``config.json`` and ``checksums.sha256`` (None: the shipped one).
    model_path: str | None = None
    #: The extractive generator never quotes a unit whose P(answers) is below this.
    sentence_threshold: float | None = None
    #: Also abstain when the readable passages never name what the question is specifically
    #: about: an identifier ("L8"), a year, a name ("Mars"), a counted thing ("week 20").
    require_anchors: bool = True
    #: Also abstain when the words of the question that occur in no chunk the asker may read
    #: ("dog" in "Can I bring my dog to the Utrecht office?") are at least this share of its
    #: topic words (retrieve/vocabulary.py, ground/focus.topic_words: words that frame a
    #: question or name the kind of answer, "how long", "length", are not counted); 0: off.
    min_unseen_share: float = Field(default=0.2, ge=0.0, le=1.0)
    #: The extractive answer abstains when its quoted units (with their titles and headings) name
    #: less than this share of the question's content terms (words that frame a question, "how
    #: long", "do I get", are not counted; 0 turns the rule off).
    min_term_coverage: float = Field(default=0.4, ge=0.0, le=1.0)


class EntailmentConfig(BaseModel):
    """``[ground.entailment]``: the verifier's verdict on (sentence, cited spans) for answers a
    model wrote (not for extractive quotes, which are their source by construction)."""

    enabled: bool = True
    #: A sentence is ``contradicted`` when the verifier finds contradiction likelier than "not
    #: stated", P(entailed) is under the model's calibrated threshold and P(contradicted) >= this.
    contradicted_min: float = 0.5
    #: Also reject (``not_entailed``) a sentence the verifier does not find entailed.
    require_entailed: bool = False


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
    answerability: AnswerabilityConfig = Field(default_factory=AnswerabilityConfig)
    entailment: EntailmentConfig = Field(default_factory=EntailmentConfig)
