"""Figures of the shipped verifier on the held-out dev splits, beside the similarity checker.

    .venv/bin/python bench/verifier.py [--model DIR] [--halueval-rows N] [--skip-similarity] [--reps 30]

Dev splits (never trained or tuned on; see the model card): SciFact claims dev (gold evidence
sentences as premise; positives = CONTRADICT, i.e. the unsupported verdict; bar recall >= 0.90
at precision >= 0.70), HaluEval QA rows 1000-1999 (positives = hallucinated answers; bar
recall >= 0.90 at precision >= 0.90), answerability AUC/accuracy on HaluEval dev (own
knowledge vs the mined hard negative) and legal dev. Beside them: the similarity checker
(``tether.ground.ground_answer``, default GroundConfig) on the same dev pairs, and the figures
it was reported at before. Latency: p50 of scoring 1 question x 8 passages of 256 tokens.
Prints a table, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import final_json, print_table

from tether.embed.onnx_minilm import OnnxEmbedder
from tether.ground.verifier import Verifier, make_tokenizer
from tether.settings import EmbedSettings
from tether.tune import evaluate as ev
from tether.tune.sources import load_sources

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
EARLIER = {  # the similarity checker as reported before the verifier (bench/grounding.py)
    "scifact": {"precision": 0.376, "recall": 0.982, "note": "all SciFact claims vs whole abstracts"},
    "halueval": {"precision": 0.961, "recall": 0.901, "note": "HaluEval rows 1000-1999"},
}
BARS = {"scifact": (0.90, 0.70), "halueval": (0.90, 0.90)}


def similarity(sets: dict[str, ev.VerdictSet], embedder: OnnxEmbedder) -> dict[str, dict]:
    """The similarity checker on the same pairs: flagged = any sentence not "supported"."""
    from tether.ground import GroundConfig, ground_answer
    from tether.types import Passage

    cfg = GroundConfig()
    out = {}
    for name, s in sets.items():
        flagged = []
        for claim, evidence in zip(s.claims, s.evidences):
            p = Passage(chunk_id=1, document_id=1, ordinal=0, text=evidence, char_start=0, char_end=len(evidence))
            g = ground_answer(claim.strip() + " [1]", [p], embedder, cfg)
            flagged.append(not g.sentences or any(x.verdict != "supported" for x in g.sentences))
        out[name] = {"n": len(flagged), **ev.prf(flagged, s.flag)}
    return out


def latency(model: Path | None, passages: list[str], reps: int) -> dict[str, float]:
    question = "How much notice must an employee give when resigning from the company?"
    out = {}
    for threads in (1, 2):
        v = Verifier.load(model, threads=threads)
        for _ in range(3):
            v.answer_scores(question, passages)
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            v.answer_scores(question, passages)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[f"p50_ms_{threads}t"] = round(statistics.median(times), 1)
        out[f"p95_ms_{threads}t"] = round(times[int(0.95 * (len(times) - 1))], 1)
    return out


def long_passages(src, v: Verifier, n: int = 8) -> list[str]:
    """``n`` distinct legal clauses long enough to fill the 256-token window."""
    tok = make_tokenizer(4 * v.max_len)
    texts = sorted({r.contract for r in src.legal["dev"]}, key=len, reverse=True)
    picked = [t for t in texts if len(tok.encode(t).ids) >= v.max_len][:n]
    while len(picked) < n:
        picked.append(" ".join(texts[: 3]) + f" ({len(picked)})")
    return picked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="verifier folder (default: the shipped one)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--halueval-rows", type=int, default=None, help="cap on HaluEval dev rows (default all 1000)")
    ap.add_argument("--skip-similarity", action="store_true")
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    t0 = time.perf_counter()
    v = Verifier.load(args.model)
    src = load_sources(args.data, int(v.config.get("seed", 13)))
    embedder = OnnxEmbedder(EmbedSettings(threads=2))
    verdicts = ev.verdict_sets(src, "dev", args.halueval_rows)
    answers = ev.answer_sets(src, "dev", embedder.embed, args.halueval_rows)
    th = {"entailed": v.thresholds.entailed, "entailed_question": v.thresholds.entailed_question,
          "answers": v.thresholds.answers}
    figs = ev.report(ev.score(v, verdicts, answers), verdicts, answers, th)
    sim = {} if args.skip_similarity else similarity(verdicts, embedder)
    lat = latency(args.model, long_passages(src, v), args.reps)

    rows = []
    bars = {}
    for name in ("scifact", "halueval"):
        f = figs[f"verdict:{name}"]
        need_r, need_p = BARS[name]
        bars[name] = f["recall"] >= need_r and f["precision"] >= need_p
        rows.append([f"verifier {name} dev", f["n"], f["positives"], f"{f['precision']:.3f}", f"{f['recall']:.3f}",
                     f"{f['auc']:.3f}", f"R>={need_r} P>={need_p}: {'MET' if bars[name] else 'NOT MET'}"])
        if name in sim:
            s = sim[name]
            rows.append([f"similarity {name} dev", s["n"], f["positives"], f"{s['precision']:.3f}",
                         f"{s['recall']:.3f}", "", "same pairs"])
        e = EARLIER[name]
        rows.append([f"similarity {name} (earlier)", "", "", f"{e['precision']:.3f}", f"{e['recall']:.3f}", "",
                     e["note"]])
    print_table("Unsupported-verdict detection (positives must be flagged)",
                ["set", "n", "pos", "precision", "recall", "auc", "bar"], rows)
    print_table("Answerability (does the passage answer the question?)",
                ["set", "n", "answers", "auc", "accuracy", "answerable recall"],
                [[k.split(":", 1)[1], f["n"], f["positives"], f"{f['auc']:.3f}", f"{f['accuracy']:.3f}",
                  f"{f['answerable_recall']:.3f}"]
                 for k, f in figs.items() if k.startswith("answers:")])
    print_table("Latency: 1 question x 8 passages, 256 tokens each (warm)", ["threads", "p50 ms", "p95 ms"],
                [[t, lat[f"p50_ms_{t}t"], lat[f"p95_ms_{t}t"]] for t in (1, 2)])
    print(f"thresholds: entailed {th['entailed']:.4f} (with a question {th['entailed_question']:.4f}), "
          f"answers {th['answers']:.4f}; "
          f"bar for latency: <= 50 ms p50 "
          f"({'MET' if lat['p50_ms_2t'] <= 50 else 'NOT MET'})")
    final_json({"verifier_dev": figs, "similarity_dev": sim, "similarity_earlier": EARLIER, "bars_met": bars,
                "latency": lat, "thresholds": th, "model": str(v.path), "seconds": round(time.perf_counter() - t0, 1)})


if __name__ == "__main__":
    main()
