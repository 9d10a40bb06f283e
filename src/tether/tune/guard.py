"""``tether tune guard``: corpus -> training -> ONNX -> per-stage thresholds -> shipped folder,
and the leave-one-source-out (LOSO) run that says how the guard does on a channel it never saw.

Why here: the verifier's machinery (:mod:`tether.tune.train`, :mod:`tether.tune.export`, the
bundled fp32 MiniLM) trains this model too; only the head (one logit), the loss (binary cross
entropy) and the data (:mod:`tether.tune.guard_corpus`) differ. The folder holds
``model.onnx`` (int8 when its dev AUC stays within 0.01 of fp32 on every family), ``config.json``
(max_len, per-stage thresholds), ``MODEL_CARD.md``, ``metrics.json`` and ``checksums.sha256``.
Needs the ``train`` extra (torch); imported lazily by the CLI.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tether.ground.verifier import make_tokenizer
from tether.guard.classifier import CONFIG_FILE, MODEL_FILE, OUTPUT, InjectionClassifier, encode_texts
from tether.tune import guard_eval as ge
from tether.tune.guard_corpus import FAMILIES, Text, corpus
from tether.tune.train import Progress, TrainConfig


@dataclass(frozen=True)
class GuardTuneConfig:
    out: Path
    data: Path
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=3, batch_size=16, lr=2e-4, head_lr=4e-3,
                                                                   max_len=128))
    quantize: bool = True
    loso: bool = True  # also train one model per held-out family (not shipped) and report it
    loso_epochs: int = 2
    command: str = "tether tune guard"
    limit: int | None = None  # at most this many texts per family, label and split (smoke tests only)


def _loss(out: Any, batch: Sequence[Text]) -> Any:
    import torch

    y = torch.tensor([float(t.label) for t in batch])
    return torch.nn.functional.binary_cross_entropy_with_logits(out, y)


TRAINED_LAYERS = 2  # the upper layers fine-tuned; the lower four stay as pretrained


class LowerCache:
    """Hidden states of the frozen lower layers for every text, computed once: each training
    step (and each leave-one-source-out model) then runs only the upper layers. Two shared
    cores make this the difference between minutes and an hour."""

    def __init__(self, texts: Sequence[str], max_len: int, seed: int) -> None:
        import torch

        from tether.ground.verifier import pad_batch
        from tether.tune.model import load_classifier, lower_states

        self.index = {t: i for i, t in enumerate(dict.fromkeys(texts))}
        self.enc = encode_texts(make_tokenizer(max_len), list(self.index))
        base = load_classifier(seed).eval()
        frozen = len(base.encoder.encoder.layer) - TRAINED_LAYERS
        self.states: list[Any] = []
        order = sorted(range(len(self.enc)), key=lambda i: len(self.enc[i][0]))
        self.states = [None] * len(self.enc)
        for s in range(0, len(order), 64):
            batch = order[s : s + 64]
            ids, mask, types = (torch.from_numpy(a) for a in pad_batch(self.enc, batch))
            hidden = lower_states(base, ids, mask, types, frozen)
            for row, i in enumerate(batch):
                self.states[i] = hidden[row, : len(self.enc[i][0])].clone()

    def inputs(self, rows: list[int]) -> Any:
        import torch

        width = max(self.states[i].shape[0] for i in rows)
        hidden = torch.zeros((len(rows), width, self.states[rows[0]].shape[1]))
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            n = self.states[i].shape[0]
            hidden[r, :n], mask[r, :n] = self.states[i], 1
        return hidden, mask


def fit(texts: Sequence[Text], tc: TrainConfig, cache: LowerCache,
        progress: Progress | None = None) -> tuple[Any, dict]:
    """Fine-tune the upper layers and head of the bundled MiniLM on ``texts`` (seeded); returns
    the whole classifier (lower layers as pretrained) for export."""
    from tether.tune.model import TopLayers, load_classifier
    from tether.tune.train import train

    clf = load_classifier(tc.seed)
    rows = [cache.index[t.text] for t in texts]
    enc = [cache.enc[i] for i in rows]
    top, stats = train(list(texts), tc, progress, model=TopLayers(clf, TRAINED_LAYERS), loss=_loss, encoded=enc,
                       inputs=lambda batch: cache.inputs([rows[i] for i in batch]))
    return clf.eval(), stats


def _classifier(path: Path, config: dict[str, Any], threads: int) -> InjectionClassifier:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    return InjectionClassifier(session, make_tokenizer(int(config["max_len"])), config, path.parent)


def rule_scores(texts: Sequence[Text]) -> list[float]:
    from tether.guard.rules import find_hits, heuristic_score

    return [heuristic_score(find_hits(t.text)) for t in texts]


def _export(model: Any, work: Path, name: str, quantize: bool) -> dict[str, Path]:
    from tether.tune.export import export_onnx, quantize_int8

    fp32 = export_onnx(model, work / f"{name}.fp32.onnx", outputs=[OUTPUT])
    out = {"fp32": fp32}
    if quantize:
        out["int8"] = quantize_int8(fp32, work / f"{name}.int8.onnx")
    return out


def _split(texts: list[Text], split: str) -> list[Text]:
    return [t for t in texts if t.split == split]


def loso(texts: list[Text], tc: TrainConfig, cache: LowerCache, work: Path,
         log: Callable[[str], None], done: Callable[[dict[str, Any]], None] = lambda _f: None) -> dict[str, Any]:
    """Per project family F: train on the train split of every other family, calibrate one
    threshold on their calib split (FPR <= 0.02), report on all of F (never seen)."""
    out: dict[str, Any] = {}
    for fam in FAMILIES:
        t0 = time.perf_counter()
        train_set = [t for t in _split(texts, "train") if t.family != fam]
        model, _ = fit(train_set, tc, cache)
        config = {"max_len": tc.max_len, "thresholds": {}}
        path = _export(model, work, f"loso-{fam}", quantize=True)["int8"]
        clf = _classifier(path, config, tc.threads)
        calib = [t for t in _split(texts, "calib") if t.family != fam]
        th = ge.pick_threshold(clf.text_scores([t.text for t in calib]), [t.label for t in calib])
        held = [t for t in texts if t.family == fam]
        scores = clf.text_scores([t.text for t in held])
        fig: dict[str, Any] = dict(ge.figures(scores, rule_scores(held), [t.label for t in held], th))
        fig["recall_by_category"] = ge.per_category(scores, held, dict.fromkeys(ge.STAGE_FAMILIES, th))
        fig["seconds"] = round(time.perf_counter() - t0, 1)
        out[fam] = fig
        done(out)
        log(f"loso {fam}: recall {fig['recall']} fpr {fig['fpr']} combined {fig['combined_recall']}/"
            f"{fig['combined_fpr']} auc {fig['auc']} ({fig['seconds']} s)")
    return out


def tune_guard(cfg: GuardTuneConfig, progress: Progress | None = None,
               log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Train, export, calibrate and write the guard folder ``cfg.out``; returns the figures."""
    t0 = time.perf_counter()
    tc = cfg.train
    texts = corpus(cfg.data, tc.seed)
    if cfg.limit:
        seen: Counter = Counter()
        texts = [t for t in texts if (seen.update([(t.family, t.label, t.split)]) or
                                      seen[(t.family, t.label, t.split)] <= cfg.limit)]
    train_set = _split(texts, "train")
    cache = LowerCache([t.text for t in texts], tc.max_len, tc.seed)
    log(f"lower layers cached for {len(cache.enc)} texts in {time.perf_counter() - t0:.0f} s")
    model, stats = fit(train_set, tc, cache, progress)
    log(f"trained in {stats['seconds']} s")
    calib, dev = _split(texts, "calib"), _split(texts, "dev")
    rules = {"calib": rule_scores(calib), "dev": rule_scores(dev), "train": rule_scores(train_set)}
    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "name": "tether-injection-minilm-l6", "max_len": tc.max_len, "seed": tc.seed,
        "inputs": ["input_ids", "attention_mask", "token_type_ids"], "outputs": [OUTPUT],
        "tokenizer": "bundled:tether/embed/assets/minilm-tokenizer.json", "thresholds": {},
    }
    with tempfile.TemporaryDirectory(prefix="tether-tune-guard-") as tmp:
        results: dict[str, dict[str, Any]] = {}
        for name, path in _export(model, Path(tmp), "guard", cfg.quantize).items():
            clf = _classifier(path, config, tc.threads)
            sc = {s: clf.text_scores([t.text for t in part]) for s, part in (("calib", calib), ("dev", dev))}
            th = ge.calibrate(sc["calib"], calib)
            results[name] = {"path": path, "scores": sc, "thresholds": th,
                             "dev": ge.per_family(sc["dev"], rules["dev"], dev, th)}
        choice, reason = "fp32", "int8 not tried"
        if "int8" in results:
            worst = max(abs(results["fp32"]["dev"][f]["auc"] - results["int8"]["dev"][f]["auc"])
                        for f in results["fp32"]["dev"])
            choice = "int8" if worst <= 0.01 else "fp32"
            reason = f"int8 dev AUC within {worst:.4f} of fp32 on every family" if choice == "int8" else \
                f"int8 lost {worst:.4f} dev AUC"
        best = results[choice]
        config["thresholds"] = best["thresholds"]
        shutil.copyfile(best["path"], out / MODEL_FILE)
        clf = _classifier(out / MODEL_FILE, config, tc.threads)
        train_scores = clf.text_scores([t.text for t in train_set])
        metrics = {
            "dev": best["dev"],
            "dev_by_category": ge.per_category(best["scores"]["dev"], dev, best["thresholds"]),
            "calib": ge.per_family(best["scores"]["calib"], rules["calib"], calib, best["thresholds"]),
            "train": ge.per_family(train_scores, rules["train"], train_set, best["thresholds"]),
        }
        info = {
            "seed": tc.seed, "config": config, "train": asdict(tc), "stats": stats, "precision": choice,
            "trained_layers": TRAINED_LAYERS,
            "precision_reason": reason, "command": cfg.command, "loso_epochs": cfg.loso_epochs,
            "texts_by_family": {f"{k[0]}:{'attack' if k[1] else 'benign'}:{k[2]}": v for k, v in
                                sorted(Counter((t.family, t.label, t.split) for t in texts).items())},
            "metrics": metrics, "loso": {},
            "fp32_vs_int8_dev": {k: {"thresholds": r["thresholds"], "dev": r["dev"]} for k, r in results.items()},
            "seconds_total": round(time.perf_counter() - t0, 1),
        }
        (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        _write(out, info)  # the shipped model is complete before the (long) LOSO run starts
        if cfg.loso:
            def done(figs: dict[str, Any]) -> None:
                info["loso"] = dict(figs)
                info["seconds_total"] = round(time.perf_counter() - t0, 1)
                _write(out, info)

            loso(texts, TrainConfig(**{**asdict(tc), "epochs": cfg.loso_epochs}), cache, Path(tmp), log, done)
    return info


def _write(out: Path, info: dict[str, Any]) -> None:
    from tether.tune.card import write_checksums
    from tether.tune.guard_card import write_guard_card

    (out / "metrics.json").write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    write_guard_card(out, info)
    write_checksums(out, [MODEL_FILE, CONFIG_FILE])


def rerun_loso(cfg: GuardTuneConfig, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Only the leave-one-source-out part, for a folder ``tune_guard`` already wrote: its
    metrics.json and MODEL_CARD.md gain the figures (rewritten after each family, so a stopped
    run keeps what it measured); the model and its config are not touched."""
    info = json.loads((cfg.out / "metrics.json").read_text(encoding="utf-8"))
    tc = cfg.train
    texts = corpus(cfg.data, tc.seed)
    cache = LowerCache([t.text for t in texts], tc.max_len, tc.seed)
    info["loso_epochs"] = cfg.loso_epochs
    info["loso_command"] = cfg.command

    def done(figs: dict[str, Any]) -> None:
        info["loso"] = dict(figs)
        _write(cfg.out, info)

    with tempfile.TemporaryDirectory(prefix="tether-tune-guard-") as tmp:
        loso(texts, TrainConfig(**{**asdict(tc), "epochs": cfg.loso_epochs}), cache, Path(tmp), log, done)
    return info
