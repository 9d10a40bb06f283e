"""The offset-preserving sentence splitter."""

from __future__ import annotations

import random

import pytest

from tether.ingest.sentences import split_sentences, split_words


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        (
            "Dr. Smith paid $3.5 million, e.g. for land. Then left.",
            ["Dr. Smith paid $3.5 million, e.g. for land.", "Then left."],
        ),
        ("Use i.e. this one vs. that one. Ok.", ["Use i.e. this one vs. that one.", "Ok."]),
        ("J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
        ("See Fig. 3 and No. 5 today. Done.", ["See Fig. 3 and No. 5 today.", "Done."]),
        (
            "Apples, pears etc. are fruit. Etc. Then more.",
            ["Apples, pears etc. are fruit.", "Etc.", "Then more."],
        ),
        ('He said "stop." Then (it ended.) Fine', ['He said "stop."', "Then (it ended.)", "Fine"]),
        ("Wait... what? Well... Maybe.", ["Wait... what?", "Well...", "Maybe."]),
        (
            "Version 2.0.1 shipped. Pi is 3.14159 roughly.",
            ["Version 2.0.1 shipped.", "Pi is 3.14159 roughly."],
        ),
        ("a wrapped\nline continues. Next one.", ["a wrapped\nline continues.", "Next one."]),
        ("Para one has no stop\n\nPara two", ["Para one has no stop", "Para two"]),
        ("Items:\n- first\n- second\n1. third", ["Items:", "- first", "- second", "1. third"]),
        ("1. Install it.\n2. Run it.", ["1. Install it.", "2. Run it."]),
        ("  \n padded.  \n ", ["padded."]),
        ("", []),
    ],
)
def test_split(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_offsets_are_shifted_by_start() -> None:
    doc = "XXXX" + "One. Two."
    spans = split_sentences(doc[4:], start=4)
    assert [doc[a:b] for a, b in spans] == ["One.", "Two."]
    assert split_words("  ab  c", 10) == [(12, 14), (16, 17)]


def test_random_texts_are_covered_exactly() -> None:
    rng = random.Random(7)
    pieces = [
        "word",
        "Dr.",
        "e.g.",
        "3.5",
        "end.",
        "What?",
        "\n",
        "\n\n",
        " ",
        "  ",
        "- ",
        "1. ",
        "…",
        "“Quote.”",
        "é",
        "\t",
    ]
    for _ in range(300):
        text = "".join(rng.choice(pieces) + rng.choice([" ", "", "\n"]) for _ in range(rng.randint(0, 60)))
        spans = split_sentences(text)
        covered = set()
        last = 0
        for a, b in spans:
            assert last <= a < b <= len(text)
            assert text[a:b] == text[a:b].strip()
            covered.update(range(a, b))
            last = b
        assert covered >= {i for i, c in enumerate(text) if not c.isspace()}


def test_long_unpunctuated_text_is_linear() -> None:
    text = "word " * 200_000 + "end. " * 50_000
    assert len(split_sentences(text)) == 50_000
