"""Shared passages for grounding tests (the scripted generator is ``tether.testing.FakeGenerator``)."""

from __future__ import annotations

from tether.types import Passage

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


def verifier_missing_reason() -> str | None:
    """Why tests of the shipped verifier cannot run (its model file is missing), or None."""
    from tether.ground.verifier import MODEL_FILE, default_path

    model = default_path() / MODEL_FILE
    missing = f"the shipped verifier model {model} is missing (train it: tether tune verifier)"
    return None if model.is_file() else missing
