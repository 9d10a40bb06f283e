"""Metric code against values computed by hand."""

import math

import numpy as np
import pytest

from tether.evaluate.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k


def test_ndcg_binary_by_hand():
    # relevant: a, c. ranking: a b c -> DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5
    # ideal: 1 + 1/log2(3)
    got = ndcg_at_k(["a", "b", "c"], {"a": 1, "c": 1}, k=10)
    assert got == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_ndcg_graded_and_cutoff():
    qrels = {"x": 2, "y": 1}
    # y at rank 1, x at rank 3, cutoff 2 hides x: DCG@2 = 1; IDCG@2 = 2 + 1/log2(3)
    assert ndcg_at_k(["y", "z", "x"], qrels, k=2) == pytest.approx(1 / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["x", "y"], qrels, k=10) == pytest.approx(1.0)
    assert ndcg_at_k(["z"], qrels) == 0.0
    assert ndcg_at_k(["a"], {}) == 0.0


def test_recall_and_mrr_by_hand():
    qrels = {"a": 1, "b": 1, "c": 1, "d": 0}
    ranked = ["d", "x", "b", "a"]
    assert recall_at_k(ranked, qrels, k=3) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, qrels, k=4) == pytest.approx(2 / 3)
    assert mrr_at_k(ranked, qrels, k=10) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, qrels, k=2) == 0.0


def test_percentile_matches_numpy():
    xs = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for p in (0, 50, 95, 99, 100):
        assert percentile(xs, p) == pytest.approx(float(np.percentile(xs, p)))
