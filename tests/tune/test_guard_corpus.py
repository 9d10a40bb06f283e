"""The injection guard's corpus: every text tagged with its family, families that share no core
text (so leave-one-source-out really holds a source out), both labels in every family and split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tether.tune.guard_corpus import ALL_FAMILIES, FAMILIES, SPLITS, corpus, project_texts

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_each_core_text_belongs_to_one_family_and_one_split() -> None:
    texts = project_texts()
    family_of: dict[str, set[str]] = {}
    split_of: dict[str, set[str]] = {}
    for t in texts:
        family_of.setdefault(t.group, set()).add(t.family)
        split_of.setdefault(t.group, set()).add(t.split)
    assert all(len(v) == 1 for v in family_of.values())
    assert all(len(v) == 1 for v in split_of.values())
    assert len(family_of) == 98 + 101  # attacks (less the 3 decoding prefixes) and benign texts

def test_every_family_has_attacks_and_benign_texts_in_every_split() -> None:
    counts = Counter((t.family, t.label, t.split) for t in project_texts())
    for fam in FAMILIES:
        for label in (0, 1):
            assert sum(counts[(fam, label, s)] for s in SPLITS) >= 40, (fam, label)
            assert counts[(fam, label, "train")] > 0, (fam, label)


def test_obfuscated_and_exfiltration_attacks_are_present() -> None:
    cats = Counter(t.category.split("+")[-1] for t in project_texts() if t.label)
    for c in ("base64", "rot13", "homoglyph", "spacing", "zero_width", "leetspeak", "exfil", "lang", "extraction",
              "roleplay", "override"):
        assert cats[c] > 0, c


def test_the_corpus_is_deterministic_for_a_seed() -> None:
    assert project_texts(13) == project_texts(13)
    assert project_texts(13) != project_texts(14)


@pytest.mark.skipif(not (DATA / "injection" / "deepset-dev.jsonl").is_file(), reason="shared/data not present")
def test_deepset_dev_half_is_the_bench_held_out_half() -> None:
    import hashlib

    rows = [t for t in corpus(DATA) if t.family == "deepset"]
    assert len(rows) == 662 and {t.family for t in corpus(DATA)} == set(ALL_FAMILIES)
    for t in rows:
        odd = int(hashlib.sha256(t.text.encode()).hexdigest()[:8], 16) % 2 == 1
        assert (t.split == "dev") == odd
