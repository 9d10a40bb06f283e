"""Shared passages and a scripted in-process generator for grounding tests."""

from __future__ import annotations

from collections.abc import Iterator

from tether.generate.base import Capabilities, GenerationRequest
from tether.types import Generation, Passage

DOC1 = (
    "Annual report 2023.\n\nAcme Corp reported revenue of $3.5 million in 2023. "
    "The company did not pay a dividend. Its chief executive is Jane Smith."
)
DOC2 = "Company profile. The Oberoi Group is a hotel company with its head office in Delhi. It runs 30 hotels."


def passages() -> list[Passage]:
    s1 = DOC1.index("Acme Corp")
    s2 = DOC2.index("The Oberoi")
    return [
        Passage(11, 1, 1, DOC1[s1:], s1, len(DOC1), title="Acme annual report", score=0.9),
        Passage(21, 2, 0, DOC2[s2:], s2, len(DOC2), title="Oberoi profile", score=0.7),
    ]


class ScriptedGenerator:
    """Replies from a list (the last one repeats); records the requests it saw."""

    capabilities = Capabilities(streaming=True, json_schema=True)
    name = "scripted"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.requests: list[GenerationRequest] = []

    def generate(self, req: GenerationRequest) -> Generation:
        self.requests.append(req)
        text = self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]
        return Generation(text=text, model="scripted", input_tokens=10, output_tokens=len(text.split()))

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        text = self.generate(req).text
        for i in range(0, len(text), 7):
            yield text[i : i + 7]
