"""The structure-aware chunker: exact offsets, sections, pages, overlap, token bounds, speed."""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import pytest
from ingest_samples import LOREM

from tether.embed.tokenizer import count_tokens
from tether.ingest.chunker import chunk_document
from tether.ingest.loaders import load_bytes, load_file
from tether.types import Block, ChunkSpan, LoadedDocument

MB = 10 * 1024 * 1024


def check_chunks(doc: LoadedDocument, chunks: list[ChunkSpan], max_tokens: int, slack: float = 1.25) -> None:
    """Offsets exact, ordinals in order, every block's text in some chunk, token bound held."""
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    covered: set[int] = set()
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert chunk.token_count == count_tokens(chunk.text)
        longest_word = max(count_tokens(w) for w in chunk.text.split())
        assert chunk.token_count <= max(max_tokens * slack, longest_word), chunk
        covered.update(range(chunk.start, chunk.end))
    assert all(c2.start >= c1.start for c1, c2 in pairwise(chunks))
    for block in doc.blocks:
        solid = {i for i in range(block.start, block.end) if not doc.text[i].isspace()}
        assert covered >= solid, f"block {block} is not wholly in chunks"


@pytest.mark.parametrize("fmt", ["md", "txt", "html", "csv", "json", "jsonl", "pdf", "docx"])
@pytest.mark.parametrize("max_tokens", [40, 200])
def test_offsets_map_back_on_every_format(samples: dict[str, Path], fmt: str, max_tokens: int) -> None:
    doc = load_file(samples[fmt], max_bytes=MB)
    chunks = chunk_document(
        doc, count_tokens=count_tokens, max_tokens=max_tokens, overlap_tokens=10, min_tokens=5
    )
    assert chunks
    check_chunks(doc, chunks, max_tokens)


def test_section_paths_follow_nested_headings(samples: dict[str, Path]) -> None:
    doc = load_file(samples["md"], max_bytes=MB)
    chunks = chunk_document(doc, count_tokens=count_tokens, max_tokens=120, overlap_tokens=30, min_tokens=10)
    paths = [c.section_path for c in chunks]
    assert paths[0] == ("Handbook",)
    assert ("Handbook", "Leave", "Annual leave") in paths
    assert ("Handbook", "Leave", "Sick leave") in paths
    assert paths[-1] == ("Appendix",)
    for chunk in chunks:  # a chunk's text never reaches back over a top-level heading
        assert not ("# Appendix" in chunk.text and chunk.section_path[0] == "Handbook")
    # headings open the chunk that begins their section
    for heading in ("Sick leave", "Appendix"):
        assert any(c.text.startswith(heading) for c in chunks), heading
    # ... and a heading-only chunk never stands alone: "Leave" flows into "Annual leave"
    assert any(c.text.startswith("Leave\n\n### Annual leave") for c in chunks)


def test_pdf_chunks_carry_pages(samples: dict[str, Path]) -> None:
    doc = load_file(samples["pdf"], max_bytes=MB)
    chunks = chunk_document(doc, count_tokens=count_tokens, max_tokens=60, overlap_tokens=15)
    assert {c.page for c in chunks} == {1, 2}
    page_two = doc.metadata["page_starts"][1]
    for chunk in chunks:
        assert chunk.page == (2 if chunk.start >= page_two else 1)
    assert [c.section_path for c in chunks if c.text.startswith("Passwords")] == [("Passwords",)]


def long_section_doc() -> LoadedDocument:
    body = " ".join(f"Sentence {i} describes rule {i} of the policy in plain words." for i in range(60))
    source = f"# Policy\n\n{body}\n\n# Other\n\n{LOREM}\n"
    return load_bytes(source.encode(), "policy.md", max_bytes=MB)


def test_overlap_is_whole_sentences_within_a_section() -> None:
    doc = long_section_doc()
    chunks = chunk_document(doc, count_tokens=count_tokens, max_tokens=100, overlap_tokens=30, min_tokens=10)
    policy = [c for c in chunks if c.section_path == ("Policy",)]
    assert len(policy) >= 4
    for prev, nxt in pairwise(policy):
        assert prev.start < nxt.start < prev.end, "the next chunk starts inside the previous one"
        repeated = doc.text[nxt.start : prev.end]
        assert repeated.startswith("Sentence ") and repeated.endswith(".")
        assert 5 <= count_tokens(repeated) <= 30
    other = next(c for c in chunks if c.section_path == ("Other",))
    assert other.text.startswith("Other") and other.start > policy[-1].end, "no overlap across sections"


def test_no_overlap_when_disabled() -> None:
    doc = long_section_doc()
    chunks = chunk_document(doc, count_tokens=count_tokens, max_tokens=100, overlap_tokens=0, min_tokens=0)
    assert all(b.start > a.end for a, b in pairwise(chunks))


def test_strict_token_bound_without_merging() -> None:
    doc = long_section_doc()
    for max_tokens in (20, 50, 100):
        chunks = chunk_document(
            doc, count_tokens=count_tokens, max_tokens=max_tokens, overlap_tokens=10, min_tokens=0
        )
        check_chunks(doc, chunks, max_tokens, slack=1.0)


def test_oversized_sentence_is_split_at_words_and_long_word_kept() -> None:
    words = " ".join(f"token{i}" for i in range(400))
    blob = "x-" * 200  # no whitespace, yet 400 tokens (the tokenizer splits punctuation)
    doc = load_bytes(f"{words}\n\n{blob}\n".encode(), "w.txt", max_bytes=MB)
    chunks = chunk_document(doc, count_tokens=count_tokens, max_tokens=50, overlap_tokens=0, min_tokens=0)
    check_chunks(doc, chunks, 50, slack=1.0)
    assert chunks[-1].text == blob and chunks[-1].token_count > 50
    assert all(c.text.startswith("token") and c.text[-1].isdigit() for c in chunks[:-1])


def test_tiny_trailing_chunk_is_merged() -> None:
    body = " ".join(f"Line {i} of the section holds several plain words." for i in range(11))
    doc = load_bytes(f"# A\n\n{body}\n\nTail bit.\n".encode(), "t.md", max_bytes=MB)
    max_tokens = count_tokens(f"A\n\n{body}") + 1  # the tail does not fit in the first chunk
    unmerged = chunk_document(
        doc, count_tokens=count_tokens, max_tokens=max_tokens, overlap_tokens=0, min_tokens=0
    )
    merged = chunk_document(
        doc, count_tokens=count_tokens, max_tokens=max_tokens, overlap_tokens=0, min_tokens=20
    )
    assert unmerged[0].text.endswith("plain words.") and unmerged[1].text == "Tail bit."
    assert len(merged) == 1 and merged[0].text == doc.text.removeprefix("# ").strip()
    assert max_tokens < merged[0].token_count <= max_tokens * 1.25


def test_non_additive_counter_still_respects_the_bound() -> None:
    """A counter whose count of a join exceeds the sum of its parts (like a BPE merging newlines)."""

    def words_and_breaks(text: str) -> int:
        return len(text.split()) + 3 * text.count("\n\n")

    source = "\n\n".join(f"Paragraph {i} has exactly seven words here." for i in range(40))
    doc = load_bytes(source.encode(), "p.txt", max_bytes=MB)
    chunks = chunk_document(doc, count_tokens=words_and_breaks, max_tokens=30, overlap_tokens=8, min_tokens=0)
    assert all(words_and_breaks(c.text) <= 30 and c.token_count == words_and_breaks(c.text) for c in chunks)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_empty_and_invalid_arguments() -> None:
    doc = LoadedDocument(text="abc", blocks=[], format="txt")
    assert chunk_document(doc, count_tokens=count_tokens) == []
    with pytest.raises(ValueError):
        chunk_document(doc, count_tokens=count_tokens, max_tokens=10, overlap_tokens=10)
    with pytest.raises(ValueError):
        chunk_document(LoadedDocument("abc", [Block("paragraph", 0, 9)], "txt"), count_tokens=count_tokens)


def random_markdown(rng: random.Random) -> str:
    words = [
        "alpha",
        "Beta",
        "gamma",
        "Dr.",
        "e.g.",
        "3.5",
        "naïve",
        "café",
        "x" * 30,
        "end.",
        "why?",
        "ok!",
        "données",
    ]
    parts: list[str] = []
    for _ in range(rng.randint(1, 40)):
        kind = rng.random()
        if kind < 0.15:
            parts.append("#" * rng.randint(1, 4) + " " + " ".join(rng.choices(words, k=rng.randint(1, 4))))
        elif kind < 0.3:
            parts.append(
                "\n".join(
                    "- " + " ".join(rng.choices(words, k=rng.randint(1, 8))) for _ in range(rng.randint(1, 4))
                )
            )
        elif kind < 0.35:
            parts.append("```\n" + " ".join(rng.choices(words, k=rng.randint(0, 30))) + "\n```")
        else:
            parts.append(" ".join(rng.choices(words, k=rng.randint(1, 150))))
    newline = rng.choice(["\n", "\r\n"])
    return (
        rng.choice(["", "  ", "\ufeff"])
        + (newline * rng.randint(1, 3)).join(parts)
        + rng.choice(["", "\n", " \n\n"])
    )


@pytest.mark.parametrize("seed", range(8))
def test_property_random_documents(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        source = random_markdown(rng)
        name = rng.choice(["r.md", "r.txt"])
        try:
            doc = load_bytes(source.encode(), name, max_bytes=MB)
        except Exception as exc:  # only blank documents may fail
            assert not source.replace("\ufeff", "").strip() or "`" in source, exc
            continue
        assert doc.text == source.removeprefix("\ufeff")
        max_tokens = rng.choice([8, 25, 60, 200])
        overlap = rng.choice([0, max_tokens // 4, max_tokens // 2])
        min_tokens = rng.choice([0, 5, 20])
        chunks = chunk_document(
            doc,
            count_tokens=count_tokens,
            max_tokens=max_tokens,
            overlap_tokens=overlap,
            min_tokens=min_tokens,
        )
        check_chunks(doc, chunks, max_tokens, slack=1.25 if min_tokens else 1.0)


@pytest.mark.timeout(120)
def test_one_megabyte_text_chunks_exactly() -> None:
    """Guards against quadratic behaviour (a regression took minutes); not a benchmark."""
    rng = random.Random(3)
    words = "alpha beta gamma delta the of and to in data model report Dr. e.g. 3.5 value system".split()
    paragraphs = []
    while sum(map(len, paragraphs)) < 1_000_000:
        if rng.random() < 0.05:
            paragraphs.append("## " + " ".join(rng.choices(words, k=3)))
        paragraphs.append(
            " ".join(
                " ".join(rng.choices(words, k=rng.randint(3, 25))) + "." for _ in range(rng.randint(1, 12))
            )
        )
    doc = load_bytes("\n\n".join(paragraphs).encode(), "big.md", max_bytes=4 * MB)
    one_line = load_bytes(" ".join(rng.choices(words, k=150_000)).encode(), "line.txt", max_bytes=4 * MB)
    # speed is measured in benchmarks, not here; pytest-timeout catches a pathological slowdown
    chunks = chunk_document(doc, count_tokens=count_tokens)
    line_chunks = chunk_document(one_line, count_tokens=count_tokens)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert all(one_line.text[c.start : c.end] == c.text for c in line_chunks)
