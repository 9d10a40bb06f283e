"""The shipped verifier: it loads, its checksum is enforced, and it reads meaning, not topic.

The examples are written here (not taken from the training sets), in the kind of policy text
Tether answers from.
"""

from __future__ import annotations

import shutil

import pytest

from tether.errors import ConfigError, InvalidInput
from tether.ground.verifier import CHECKSUMS, LABELS, MODEL_FILE, Verifier, default_path


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier.load()


def test_shipped_model_loads_with_its_card_and_config(verifier):
    folder = default_path()
    assert (folder / MODEL_FILE).is_file() and (folder / "MODEL_CARD.md").is_file()
    assert tuple(verifier.config["labels"]["entailment"]) == LABELS
    assert verifier.max_len == 256
    assert 0.0 < verifier.thresholds.entailed < 1.0 and 0.0 < verifier.thresholds.answers < 1.0


def _copy(tmp_path):
    dst = tmp_path / "verifier"
    shutil.copytree(default_path(), dst)
    return dst


def test_tampered_model_is_refused(tmp_path):
    dst = _copy(tmp_path)
    data = bytearray((dst / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (dst / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="checksum"):
        Verifier.load(dst)


def test_tampered_thresholds_and_missing_checksums_are_refused(tmp_path):
    dst = _copy(tmp_path)
    cfg = dst / "config.json"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('"entailed": 0', '"entailed": 1', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="checksum"):
        Verifier.load(dst)
    (dst / CHECKSUMS).unlink()
    with pytest.raises(ConfigError, match="checksum file missing"):
        Verifier.load(dst)


def test_untouched_copy_loads(tmp_path):
    assert Verifier.load(_copy(tmp_path)).max_len == 256


PAIRS = [
    ("Employees who resign must give four weeks of written notice to their manager.",
     "Employees who resign must give four weeks of notice.",
     "Employees who resign do not need to give any notice."),
    ("Employees receive 25 days of paid annual leave per year.",
     "Employees receive 25 days of paid annual leave per year.",
     "Employees receive no paid annual leave."),
    ("Contractors are not eligible for the annual performance bonus.",
     "Contractors do not receive the annual performance bonus.",
     "Contractors are eligible for the annual performance bonus."),
]


def test_entailed_claims_score_above_contradicted_ones(verifier):
    for evidence, good, bad in PAIRS:
        ok, wrong = verifier.entailment([good, bad], [evidence, evidence])
        assert ok["entailed"] > wrong["entailed"], (evidence, ok, wrong)
        assert wrong["contradicted"] > ok["contradicted"], (evidence, ok, wrong)
        assert abs(sum(ok[k] for k in LABELS) - 1.0) < 1e-4
        assert ok["score"] == ok["entailed"] and wrong["verdict"] in ("unsupported", "contradicted")


@pytest.mark.xfail(strict=True, reason="known miss of the shipped model (MODEL_CARD.md, Limits): an "
                   "antonym swap inside a longer sentence is read as topic overlap; strict, so a model that "
                   "learns it flags this")
def test_known_miss_open_versus_closed(verifier):
    evidence = "The Lyon office is closed on Mondays and open from Tuesday to Saturday."
    ok, wrong = verifier.entailment(["The Lyon office is closed on Mondays.", "The Lyon office is open on Mondays."],
                                    [evidence, evidence])
    assert ok["entailed"] > wrong["entailed"]


QUESTIONS = [
    ("How many days of annual leave do full-time employees get?",
     "Full-time employees receive 25 days of paid annual leave per calendar year.",
     "The staff canteen serves lunch between noon and two o'clock on weekdays."),
    ("Who approves expense claims above 500 euros?",
     "Expense claims above 500 euros must be approved by the finance director.",
     "The car park behind the building is reserved for visitors with a permit."),
    ("When is the quarterly security training held?",
     "The quarterly security training is held on the first Tuesday of each quarter.",
     "Printers on every floor can scan documents to your e-mail address."),
]


def test_answering_passage_scores_above_unrelated_one(verifier):
    for question, answering, unrelated in QUESTIONS:
        yes, no = verifier.answer_scores(question, [answering, unrelated])
        assert yes > no, (question, yes, no)
        assert 0.0 <= no <= 1.0 and 0.0 <= yes <= 1.0


def test_batch_equals_singles(verifier):
    claims = [good for _, good, _ in PAIRS] + [bad for _, _, bad in PAIRS]
    evidences = [e for e, _, _ in PAIRS] * 2
    batch = verifier.entailment(claims, evidences)
    singles = [verifier.entailment([c], [e])[0] for c, e in zip(claims, evidences)]
    for b, s in zip(batch, singles):
        for k in LABELS:
            assert b[k] == pytest.approx(s[k], abs=1e-4)
        assert b["verdict"] == s["verdict"] or abs(b["entailed"] - verifier.thresholds.entailed) < 1e-4
    question, answering, unrelated = QUESTIONS[0]
    many = verifier.answer_scores(question, [answering, unrelated, answering * 3])
    one = [verifier.answer_scores(question, [p])[0] for p in (answering, unrelated, answering * 3)]
    assert many == pytest.approx(one, abs=1e-4)


def test_question_changes_the_reading_of_a_bare_answer(verifier):
    evidence = "The head office of the company is in Delhi."
    right, wrong = verifier.entailment(["Delhi", "Mumbai"], [evidence, evidence],
                                       ["In which city is the head office?"] * 2)
    assert right["entailed"] > wrong["entailed"]


def test_bad_input_is_a_typed_error(verifier):
    with pytest.raises(InvalidInput):
        verifier.entailment(["a claim"], [])
    with pytest.raises(InvalidInput):
        verifier.answer_scores("  ", ["a passage"])
    with pytest.raises(InvalidInput):
        verifier.entailment([3], ["evidence"])  # type: ignore[list-item]
    assert verifier.entailment([], []) == [] and verifier.answer_scores("q?", []) == []
