"""The public labelled sets the verifier learns from, read once and split reproducibly.

Why a module of its own: the split decides what "held out" means for every figure Tether
reports, so it lives in one place that the trainer, the model card and ``bench/verifier.py``
share. Every split is seeded and grouped so that no near-copy of a dev item reaches training:

- HaluEval QA: fixed row ranges (rows 1000-1999 are the dev rows the similarity checker was
  reported on; rows 0-999 calibrate thresholds; training draws from rows 2000-4999).
- SciFact: claims grouped by the abstracts they cite (the set pairs each contradiction with a
  supported claim written from the same abstract), groups shuffled by the seed: 20% dev,
  10% calibration, 70% train.
- Legal True/False sets: grouped by contract text (paraphrased questions share one clause),
  20% dev, 80% train.
"""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from tether.errors import ConfigError

HALUEVAL_DEV = range(1000, 2000)
HALUEVAL_CALIB = range(0, 1000)
HALUEVAL_TRAIN = range(2000, 5000)
SPLITS = ("train", "calib", "dev")


@dataclass(frozen=True)
class QARow:
    """One HaluEval QA row: the knowledge answers the question with ``right``, not ``hallucinated``."""

    row: int
    question: str
    knowledge: str
    right: str
    hallucinated: str


@dataclass(frozen=True)
class Claim:
    """One SciFact claim; ``label`` is SUPPORT, CONTRADICT or "" (no evidence in ``docs``)."""

    id: str
    text: str
    label: str
    doc: str
    evidence: tuple[int, ...]
    docs: tuple[str, ...]


@dataclass(frozen=True)
class LegalRow:
    """A contract clause with a question; ``answers`` is True/False as the set labels it."""

    file: str
    question: str
    contract: str
    answers: bool


@dataclass
class Sources:
    """Every source, each split into train / calib / dev."""

    halueval: dict[str, list[QARow]] = field(default_factory=dict)
    scifact: dict[str, list[Claim]] = field(default_factory=dict)
    sentences: dict[str, list[str]] = field(default_factory=dict)
    legal: dict[str, list[LegalRow]] = field(default_factory=dict)
    seed: int = 13


def _need(path: Path) -> Path:
    if not path.is_file():
        raise ConfigError(f"training data not found: {path} (see shared/data/SOURCES.md)")
    return path


def read_halueval(data: Path) -> list[QARow]:
    rows = []
    with open(_need(data / "grounding" / "halueval-qa-dev.jsonl"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            rows.append(QARow(i, r["question"], r["knowledge"], r["right_answer"], r["hallucinated_answer"]))
    return rows


def read_scifact(data: Path) -> tuple[list[Claim], dict[str, list[str]]]:
    sentences: dict[str, list[str]] = {}
    with open(_need(data / "grounding" / "scifact-corpus-sentences.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            sentences[str(d["_id"])] = list(d["sentences"])
    claims = []
    with open(_need(data / "grounding" / "scifact-claims-dev.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            docs = tuple(re.findall(r"\d+", r["cited_doc_ids"]))
            claims.append(Claim(
                id=r["id"], text=r["claim"].strip(), label=r["evidence_label"], doc=r["evidence_doc_id"],
                evidence=tuple(int(x) for x in re.findall(r"\d+", r["evidence_sentences"])), docs=docs,
            ))
    return claims, sentences


def read_legal(data: Path) -> list[LegalRow]:
    rows = []
    for name in ("Contracts.jsonl", "Consumer-Contracts.jsonl"):
        with open(_need(data / "legal" / name), encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                rows.append(LegalRow(name, r["question"].strip(), r["contract"].strip(), str(r["answer"]) == "True"))
    return rows


def group_split(groups: list[str], seed: int, name: str, fractions: dict[str, float]) -> dict[str, str]:
    """Map each distinct group to a split: groups shuffled by ``seed``, filled in the order of
    ``fractions`` until each holds its share of items (so large groups cannot starve a split)."""
    counts: dict[str, int] = {}
    for g in groups:
        counts[g] = counts.get(g, 0) + 1
    order = sorted(counts)
    random.Random(f"{seed}:{name}").shuffle(order)
    total = len(groups)
    out: dict[str, str] = {}
    names = list(fractions)
    k, filled = 0, 0
    for g in order:
        while k < len(names) - 1 and filled >= fractions[names[k]] * total:
            k, filled = k + 1, 0
        out[g] = names[k]
        filled += counts[g]
    return out


def _claim_groups(claims: list[Claim]) -> list[str]:
    """Union-find over abstracts: claims citing a shared abstract share a group."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for c in claims:
        keys = [f"c{c.id}"] + [f"d{d}" for d in (*c.docs, c.doc) if d]
        for k in keys[1:]:
            parent[find(k)] = find(keys[0])
    return [find(f"c{c.id}") for c in claims]


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def load_sources(data: Path, seed: int = 13) -> Sources:
    """Read every set under ``data`` (the folder of SOURCES.md) and split it."""
    src = Sources(seed=seed)
    qa = read_halueval(data)
    src.halueval = {
        "calib": [qa[i] for i in HALUEVAL_CALIB if i < len(qa)],
        "dev": [qa[i] for i in HALUEVAL_DEV if i < len(qa)],
    }
    held = {_key(t) for s in ("calib", "dev") for r in src.halueval[s] for t in (r.knowledge, r.question)}
    src.halueval["train"] = [  # the set repeats a few knowledge texts: a copy of a held-out one stays out
        qa[i] for i in HALUEVAL_TRAIN
        if i < len(qa) and _key(qa[i].knowledge) not in held and _key(qa[i].question) not in held
    ]
    claims, src.sentences = read_scifact(data)
    groups = _claim_groups(claims)
    where = group_split(groups, seed, "scifact", {"dev": 0.2, "calib": 0.1, "train": 0.7})
    src.scifact = {s: [c for c, g in zip(claims, groups) if where[g] == s] for s in SPLITS}
    legal = read_legal(data)
    keys = [r.contract for r in legal]
    where = group_split(keys, seed, "legal", {"dev": 0.2, "train": 0.8})
    src.legal = {s: [r for r, k in zip(legal, keys) if where.get(k) == s] for s in SPLITS}
    return src


def subsample(items: list, n: int | None, seed: int, name: str) -> list:
    """A seeded sample of at most ``n`` items, in their original order."""
    if n is None or n >= len(items):
        return list(items)
    idx = sorted(random.Random(f"{seed}:{name}:sample").sample(range(len(items)), n))
    return [items[i] for i in idx]
