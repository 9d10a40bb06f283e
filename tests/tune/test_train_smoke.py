"""Training smoke test (only where the ``train`` extra is installed): a tiny subset, one step,
the whole pipeline to a folder that the run-time Verifier loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not (DATA / "SOURCES.md").is_file(), reason="shared/data not present")


def test_one_step_trains_exports_and_loads(tmp_path):
    from tether.ground.verifier import LABELS, Verifier
    from tether.tune.train import TrainConfig
    from tether.tune.verifier import TuneConfig, tune_verifier

    cfg = TuneConfig(out=tmp_path / "v", data=DATA, train=TrainConfig(max_steps=1, batch_size=4), halueval_rows=8,
                     limit=8, eval_rows=6, in_sample_rows=4, quantize=False)
    steps = []
    info = tune_verifier(cfg, lambda s, t, loss: steps.append((s, t, loss)))
    assert info["stats"]["steps"] == 1 and steps[-1][0] == 1
    assert info["precision"] == "fp32" and info["export_max_abs_diff"] < 1e-3
    folder = tmp_path / "v"
    want = {"model.onnx", "config.json", "MODEL_CARD.md", "metrics.json", "checksums.sha256"}
    assert {p.name for p in folder.iterdir()} == want
    config = json.loads((folder / "config.json").read_text())
    assert config["labels"]["entailment"] == list(LABELS) and config["max_len"] == 256
    card = (folder / "MODEL_CARD.md").read_text()
    assert "Held-out (dev" in card and "In-sample" in card and "CC BY-NC 2.0" in card
    v = Verifier.load(folder)
    r = v.entailment(["The sky is green."], ["The sky is blue."])[0]
    assert abs(sum(r[k] for k in LABELS) - 1.0) < 1e-4
    assert len(v.answer_scores("What colour is the sky?", ["The sky is blue.", "Grass grows."])) == 2


def test_training_is_deterministic_for_a_seed():
    from tether.tune.examples import Example
    from tether.tune.train import TrainConfig, train

    ex = [Example("answer", "What colour is the sky?", "The sky is blue.", 1, "t"),
          Example("answer", "What colour is the sky?", "Grass grows in spring.", 0, "t"),
          Example("nli", "The sky is blue.", "The sky is blue today.", 0, "t", (True, False, False)),
          Example("nli", "The sky is green.", "The sky is blue today.", -1, "t", (False, True, True))]
    cfg = TrainConfig(max_steps=2, batch_size=2)
    a, _ = train(ex, cfg)
    b, _ = train(ex, cfg)
    c, _ = train(ex, TrainConfig(max_steps=2, batch_size=2, seed=99))
    assert torch.equal(a.nli.weight, b.nli.weight) and torch.equal(a.encoder.embeddings.word_embeddings.weight,
                                                                    b.encoder.embeddings.word_embeddings.weight)
    assert not torch.equal(a.nli.weight, c.nli.weight)
