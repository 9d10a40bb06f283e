"""The bundled all-MiniLM-L6-v2 int8 ONNX embedder (real model, offline)."""

import numpy as np

from tether.embed.base import Embedder


def test_vectors_are_normalised_and_semantic(embedder):
    assert isinstance(embedder, Embedder)
    v = embedder.embed([
        "How many days of annual leave do employees get?",
        "Employees accrue 25 days of paid holiday per year.",
        "The API is rate limited to 600 requests per minute.",
    ])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_sorted_batching_matches_one_by_one(embedder):
    texts = ["short", "a much longer text " * 20, "medium length sentence here", "x " * 300]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_long_texts_are_truncated_not_rejected(embedder):
    v = embedder.embed(["word " * 5000])
    assert np.isfinite(v).all()


def test_empty_input_and_token_count(embedder):
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.count_tokens("Hello world") == 2


def test_cache_returns_the_same_vectors_and_stays_bounded(embedder, monkeypatch):
    texts = ["cache me once", "and me too", "cache me once"]
    first = embedder.embed(texts)
    calls = []
    real = embedder._embed
    monkeypatch.setattr(embedder, "_embed", lambda ts: calls.append(list(ts)) or real(ts))
    again = embedder.embed(texts + ["a new text"])
    assert np.allclose(again[:3], first) and calls == [["a new text"]]
    monkeypatch.setattr(embedder, "cache_size", 2)
    embedder.embed(["x1", "x2", "x3"])
    assert len(embedder._cache) <= 2
