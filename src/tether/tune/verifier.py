"""``tether tune verifier``: data -> training -> ONNX -> thresholds -> shipped folder.

Why: one function owns the order of the steps, so the command, the smoke test and whoever
retrains the shipped model all produce the same folder: ``model.onnx`` (int8 when it stays
within 0.01 of fp32 on every dev figure, else fp32), ``config.json`` (labels, max_len,
thresholds calibrated on the calibration slices), ``MODEL_CARD.md``, ``metrics.json`` and
``checksums.sha256``. Needs the ``train`` extra (torch); imported lazily by the CLI.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tether.ground.verifier import CONFIG_FILE, LABELS, MODEL_FILE, Verifier, encode_pairs, make_tokenizer
from tether.tune import evaluate as ev
from tether.tune.examples import halueval_examples, hard_negatives, legal_examples, scifact_examples
from tether.tune.sources import load_sources, subsample
from tether.tune.train import Progress, TrainConfig

COMPARED = ("auc", "f1", "accuracy")


@dataclass(frozen=True)
class TuneConfig:
    out: Path
    data: Path
    train: TrainConfig = field(default_factory=TrainConfig)
    halueval_rows: int | None = 250  # training rows sampled from 2000-4999
    scifact_repeat: int = 3  # SciFact's labelled pairs (the scarcest) are seen three times per epoch
    eval_rows: int | None = None  # HaluEval rows per calib/dev slice (None = all 1000)
    in_sample_rows: int = 300
    quantize: bool = True
    command: str = "tether tune verifier"
    limit: int | None = None  # cap every source and split (smoke tests only)


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _verifier(path: Path, config: dict[str, Any], threads: int) -> Verifier:
    return Verifier(_session(path, threads), make_tokenizer(int(config["max_len"])), config, path.parent)


def build_examples(cfg: TuneConfig, src: Any, embed: Any) -> list:
    seed = cfg.train.seed
    rows = subsample(src.halueval["train"], cfg.halueval_rows, seed, "train")
    src.halueval["train"] = rows  # the in-sample figures are then on rows really trained on
    neg = hard_negatives([r.knowledge for r in rows], [r.right for r in rows], embed)
    examples = halueval_examples(rows, neg, seed)
    examples += scifact_examples(src.scifact["train"], src.sentences, seed, repeat=cfg.scifact_repeat)
    examples += legal_examples(src.legal["train"], seed, negatives_every=2)
    return examples


def _close(a: dict[str, dict], b: dict[str, dict], tol: float = 0.01) -> tuple[bool, float]:
    worst = 0.0
    for name, fig in a.items():
        for k in COMPARED:
            if k in fig and k in b.get(name, {}):
                worst = max(worst, abs(fig[k] - b[name][k]))
    return worst <= tol, round(worst, 4)


def _export_and_choose(model: Any, cfg: TuneConfig, src: Any, embed: Any, examples: list, work: Path) -> dict[str, Any]:
    """Export fp32 (checked against torch) and int8, calibrate each, keep the better-or-equal one."""
    from tether.tune.export import export_onnx, quantize_int8, torch_logits

    tc = cfg.train
    fp32 = export_onnx(model, work / "model.fp32.onnx")
    config: dict[str, Any] = {
        "name": "tether-verifier-minilm-l6", "max_len": tc.max_len, "seed": tc.seed,
        "labels": {"entailment": list(LABELS), "answers": ["does_not_answer", "answers"]},
        "inputs": ["input_ids", "attention_mask", "token_type_ids"], "outputs": ["answer_logit", "nli_logits"],
        "tokenizer": "bundled:tether/embed/assets/minilm-tokenizer.json",
        "thresholds": {"entailed": 0.5, "entailed_question": 0.5, "answers": 0.5},
    }
    probe = [(e.first, e.second) for e in examples[:8]]
    enc = encode_pairs(make_tokenizer(tc.max_len), probe)
    ref_ans, ref_nli = torch_logits(model, [x for x, _ in enc], [y for _, y in enc])
    got_ans, got_nli = _verifier(fp32, config, tc.threads).logits(probe)
    export_diff = float(max(abs(a - b) for a, b in zip(ref_ans, got_ans.tolist())))
    nli_diff = max(abs(a - b) for r, g in zip(ref_nli, got_nli.tolist()) for a, b in zip(r, g))
    export_diff = max(export_diff, float(nli_diff))

    sets = {
        split: (ev.verdict_sets(src, split, cfg.eval_rows), ev.answer_sets(src, split, embed, cfg.eval_rows))
        for split in ("calib", "dev")
    }
    sets["train"] = (ev.verdict_sets(src, "train", cfg.in_sample_rows),
                     ev.answer_sets(src, "train", embed, cfg.in_sample_rows))
    candidates = {"fp32": fp32}
    if cfg.quantize:
        candidates["int8"] = quantize_int8(fp32, work / "model.int8.onnx")
    results: dict[str, dict[str, Any]] = {}
    for name, path in candidates.items():
        v = _verifier(path, config, tc.threads)
        scored = {split: ev.score(v, *sets[split]) for split in ("calib", "dev")}
        th = ev.calibrate(scored["calib"], *sets["calib"])
        results[name] = {"thresholds": th, "scored": scored, "dev": ev.report(scored["dev"], *sets["dev"], th)}
    choice, reason = "fp32", "int8 not tried"
    if "int8" in results:
        ok, worst = _close(results["fp32"]["dev"], results["int8"]["dev"])
        choice = "int8" if ok else "fp32"
        reason = (f"int8 within {worst} of fp32 on every dev AUC/F1/accuracy" if ok
                  else f"int8 lost up to {worst} on dev")
    th = config["thresholds"] = results[choice]["thresholds"]
    scored = results[choice]["scored"]
    scored["train"] = ev.score(_verifier(candidates[choice], config, tc.threads), *sets["train"])
    metrics = {split: ev.report(scored[split], *sets[split], th) for split in ("dev", "calib", "train")}
    shutil.copyfile(candidates[choice], cfg.out / MODEL_FILE)
    return {"config": config, "choice": choice, "reason": reason, "export_diff": export_diff, "metrics": metrics,
            "results": results}


def tune_verifier(cfg: TuneConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Train, export, calibrate and write the verifier folder ``cfg.out``; returns the figures."""
    from tether.embed.onnx_minilm import OnnxEmbedder
    from tether.settings import EmbedSettings
    from tether.tune.train import train

    t0 = time.perf_counter()
    tc = cfg.train
    src = load_sources(cfg.data, tc.seed)
    if cfg.limit is not None:
        for part in (src.halueval, src.scifact, src.legal):
            for split, items in part.items():
                part[split] = subsample(items, cfg.limit, tc.seed, f"limit:{split}")
    embedder = OnnxEmbedder(EmbedSettings(threads=tc.threads))
    examples = build_examples(cfg, src, embedder.embed)
    model, stats = train(examples, tc, progress)

    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tether-tune-") as tmp:  # nothing half-written lands in ``out``
        r = _export_and_choose(model, cfg, src, embedder.embed, examples, Path(tmp))
    config, choice, reason, results = r["config"], r["choice"], r["reason"], r["results"]
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    info = {
        "seed": tc.seed, "config": config, "train": asdict(tc), "stats": stats, "precision": choice,
        "precision_reason": reason, "command": cfg.command, "export_max_abs_diff": round(r["export_diff"], 6),
        "examples_by_source": dict(Counter(e.source for e in examples)),
        "split_counts": _split_counts(src), "metrics": r["metrics"],
        "fp32_vs_int8_dev": {k: {"thresholds": res["thresholds"], **res["dev"]} for k, res in results.items()},
        "seconds_total": 0.0,
    }
    from tether.tune.card import write_card, write_checksums

    info["seconds_total"] = round(time.perf_counter() - t0, 1)
    (out / "metrics.json").write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    write_card(out, info)
    write_checksums(out, [MODEL_FILE, CONFIG_FILE])
    return info


def _split_counts(src: Any) -> dict[str, dict[str, int]]:
    return {
        "halueval_rows": {s: len(src.halueval[s]) for s in src.halueval},
        "scifact_claims": {s: len(src.scifact[s]) for s in src.scifact},
        "legal_rows": {s: len(src.legal[s]) for s in src.legal},
    }
