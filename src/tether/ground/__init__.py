"""Grounding: citation parsing, span resolution, support checking, and the answer path that
drops, regenerates or abstains."""

from tether.ground.answer import answer
from tether.ground.citations import ParsedSentence, parse_answer
from tether.ground.stream import stream_answer
from tether.ground.structured import CLAIM_SCHEMA_EXAMPLE
from tether.ground.verdict import GroundedAnswer, Grounder, ground_answer
from tether.settings import ABSTAIN_TEXT, GroundConfig

__all__ = [
    "ABSTAIN_TEXT",
    "CLAIM_SCHEMA_EXAMPLE",
    "GroundConfig",
    "GroundedAnswer",
    "Grounder",
    "ParsedSentence",
    "answer",
    "ground_answer",
    "parse_answer",
    "stream_answer",
]
