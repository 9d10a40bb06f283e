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


def _fresh_embedder():
    from tether.embed.onnx_minilm import OnnxEmbedder
    from tether.settings import EmbedSettings

    return OnnxEmbedder(EmbedSettings())


def test_concurrent_callers_embed_each_new_text_once():
    """Single flight: threads asking for the same new texts at once share one model run per text,
    and every caller gets the same vectors as a lone call would."""
    import threading
    import time

    e = _fresh_embedder()
    seen: list[str] = []
    real = e._embed

    def slow(texts):
        seen.extend(texts)
        time.sleep(0.2)  # keep the first run in flight while the others arrive
        return real(texts)

    e._embed = slow
    texts = [f"Employees get {n} days of annual leave." for n in range(6)]
    start = threading.Barrier(4)
    results: list[np.ndarray] = []

    def call(order):
        start.wait()
        results.append(e.embed(order))

    threads = [threading.Thread(target=call, args=(texts[::k] + texts,)) for k in (1, 1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == sorted(texts)  # each text run once
    lone = real(texts)
    assert len(results) == 4
    for r in results:
        np.testing.assert_allclose(r[-len(texts):], lone, atol=1e-6)


def test_a_failed_flight_lets_the_waiters_embed_for_themselves():
    import threading
    import time

    import pytest

    e = _fresh_embedder()
    real = e._embed
    first = threading.Event()

    def failing_once(texts):
        if not first.is_set():
            first.set()
            time.sleep(0.2)
            raise RuntimeError("model run failed")
        return real(texts)

    e._embed = failing_once
    out: dict[str, np.ndarray] = {}

    def waiter():
        first.wait()
        out["v"] = e.embed(["a text in flight"])

    t = threading.Thread(target=waiter)
    t.start()
    with pytest.raises(RuntimeError):
        e.embed(["a text in flight"])
    t.join()
    np.testing.assert_allclose(out["v"][0], real(["a text in flight"])[0], atol=1e-6)
    assert not e._inflight
