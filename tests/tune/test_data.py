"""Data preparation for the verifier (no torch): splits are disjoint, seeded, and leak nothing.

Runs on the real public sets in shared/data; the hard negatives come from the real bundled
embedder on a small slice.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from tether.tune.examples import (
    halueval_examples,
    hard_negatives,
    legal_examples,
    norm,
    scifact_examples,
    split_sentences,
)
from tether.tune.perturb import change_number, falsify, negate, swap_antonym
from tether.tune.sources import HALUEVAL_DEV, group_split, load_sources, subsample

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not (DATA / "SOURCES.md").is_file(), reason="shared/data not present")


@pytest.fixture(scope="module")
def src():
    return load_sources(DATA, seed=13)


def _docs(claims):
    return {d for c in claims for d in (*c.docs, c.doc) if d}


def test_halueval_rows_are_the_fixed_ranges(src):
    assert [r.row for r in src.halueval["dev"]] == list(HALUEVAL_DEV)
    assert [r.row for r in src.halueval["calib"]] == list(range(1000))
    train = {r.row for r in src.halueval["train"]}
    assert train and min(train) >= 2000
    held = {norm(t) for s in ("dev", "calib") for r in src.halueval[s] for t in (r.knowledge, r.question)}
    assert not any(norm(r.knowledge) in held or norm(r.question) in held for r in src.halueval["train"])


def test_scifact_split_is_disjoint_by_claim_and_abstract(src):
    ids = {s: {c.id for c in src.scifact[s]} for s in ("train", "calib", "dev")}
    assert not ids["train"] & ids["dev"] and not ids["train"] & ids["calib"] and not ids["calib"] & ids["dev"]
    assert not _docs(src.scifact["train"]) & _docs(src.scifact["dev"])
    assert not _docs(src.scifact["train"]) & _docs(src.scifact["calib"])
    total = sum(len(v) for v in ids.values())
    assert 0.15 <= len(ids["dev"]) / total <= 0.25
    assert 0.05 <= len(ids["calib"]) / total <= 0.15


def test_legal_split_is_disjoint_by_contract(src):
    train = {r.contract for r in src.legal["train"]}
    assert src.legal["dev"] and not any(r.contract in train for r in src.legal["dev"])
    total = len(src.legal["train"]) + len(src.legal["dev"])
    assert 0.15 <= len(src.legal["dev"]) / total <= 0.25 and not src.legal["calib"]


def test_splits_are_seeded(src):
    again = load_sources(DATA, seed=13)
    other = load_sources(DATA, seed=14)
    assert [c.id for c in again.scifact["dev"]] == [c.id for c in src.scifact["dev"]]
    assert [c.id for c in other.scifact["dev"]] != [c.id for c in src.scifact["dev"]]
    assert [r.contract for r in other.legal["dev"]] != [r.contract for r in src.legal["dev"]]
    assert subsample(list(range(100)), 10, 13, "x") == subsample(list(range(100)), 10, 13, "x")
    assert subsample(list(range(100)), 10, 13, "x") != subsample(list(range(100)), 10, 14, "x")


def test_group_split_keeps_groups_whole_and_fills_shares():
    groups = [f"g{i // 3}" for i in range(300)]  # 100 groups of 3
    where = group_split(groups, 7, "t", {"dev": 0.2, "train": 0.8})
    assert set(where) == set(groups)
    dev = sum(1 for g in groups if where[g] == "dev")
    assert 57 <= dev <= 63


def test_no_held_out_text_reaches_training(src):
    from tether.embed.onnx_minilm import OnnxEmbedder
    from tether.settings import EmbedSettings

    rows = subsample(src.halueval["train"], 40, 13, "train")
    embed = OnnxEmbedder(EmbedSettings(threads=1)).embed
    examples = halueval_examples(rows, hard_negatives([r.knowledge for r in rows], [r.right for r in rows], embed), 13)
    examples += scifact_examples(src.scifact["train"], src.sentences, 13) + legal_examples(src.legal["train"], 13)
    texts = {norm(t) for e in examples for t in (e.first, e.second)}
    held = set()
    for s in ("dev", "calib"):
        held |= {norm(r.knowledge) for r in src.halueval[s]} | {norm(r.question) for r in src.halueval[s]}
        held |= {norm(c.text) for c in src.scifact[s]}
        held |= {norm(" ".join(src.sentences[d])) for d in _docs(src.scifact[s]) if d in src.sentences}
        held |= {norm(src.sentences[d][i]) for c in src.scifact[s] for d in (c.doc,) if d in src.sentences
                 for i in c.evidence if i < len(src.sentences[d])}
    # Contracts.jsonl asks 20 template questions of 51 clauses: the held-out unit is the clause
    held |= {norm(r.contract) for r in src.legal["dev"]}
    leaked = texts & held
    assert not leaked, sorted(leaked)[:3]
    assert {e.task for e in examples} == {"answer", "nli"}
    assert all(e.label in (0, 1) for e in examples if e.task == "answer")
    assert all((e.label == -1 and e.allowed == (False, True, True)) or e.allowed[e.label]
               for e in examples if e.task == "nli")


def test_hard_negatives_never_hold_the_answer(src):
    from tether.embed.onnx_minilm import OnnxEmbedder
    from tether.settings import EmbedSettings

    rows = src.halueval["dev"][:60]
    embed = OnnxEmbedder(EmbedSettings(threads=1)).embed
    neg = hard_negatives([r.knowledge for r in rows], [r.right for r in rows], embed)
    assert sum(j is not None for j in neg) >= 55
    for i, j in enumerate(neg):
        if j is not None:
            assert j != i and rows[j].knowledge != rows[i].knowledge
            if norm(rows[i].right) not in ("yes", "no"):
                assert norm(rows[i].right) not in norm(rows[j].knowledge)


def test_negation_and_sentence_rules():
    assert negate("Aspirin reduces the risk of stroke.") == "Aspirin does not reduce the risk of stroke."
    assert negate("Obesity is associated with diabetes.") == "Obesity is not associated with diabetes."
    assert negate("X does not cause Y.") == "X does cause Y."
    assert negate("No effect was found.") is None
    assert swap_antonym("The Lyon office is open on Mondays.") == "The Lyon office is closed on Mondays."
    assert swap_antonym("Higher doses help.") == "Lower doses help." and swap_antonym("A cat sat.") is None
    rng = random.Random(3)
    edited = change_number("Employees get 25 days of leave.", rng)
    assert edited and edited != "Employees get 25 days of leave." and "25" not in edited
    assert change_number("IL-6 binds the receptor.", rng) is None
    assert falsify("A cat sat on a mat", rng) is None
    assert split_sentences("It ran in 1844.First for Women is a magazine. It is U.S. based.") == [
        "It ran in 1844.", "First for Women is a magazine.", "It is U.S. based."]


def test_default_cli_path_never_imports_torch():
    code = ("import sys, tether.cli.main, tether.ground.verifier, tether.tune.sources, tether.tune.examples,"
            " tether.tune.evaluate; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
