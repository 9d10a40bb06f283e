"""Measure the support checker and the extractive generator on labelled public data.

    .venv/bin/python bench/grounding.py [--start 1000] [--limit 1000] [--tune] [--scifact-limit N]

HaluEval-QA: the knowledge is one passage [1]; the right and the hallucinated answer are each a
one-sentence claim citing [1]; positives are the hallucinated ones, a prediction is a verdict
other than "supported". Thresholds are tuned (``--tune``) on rows 0-999 and reported on the
slice ``--start/--limit`` (default rows 1000-1999; use --limit 4000 for 1000-4999).
SciFact: each claim with SUPPORT or CONTRADICT evidence against its evidence abstract as [1];
positives are CONTRADICT. Extractive: share of answers whose quoted sentences contain the gold
right answer (normalised), and citation precision (share of its citations whose sentence the
checker finds supported). Prints a table, then one JSON line with every figure.

    .venv/bin/python bench/grounding.py --generator local [--start 1000] [--limit 100] [--model-path X.gguf]

With ``--generator local`` only the real local model is measured (the bundled SmolLM2-135M on
llama.cpp, or any GGUF): each HaluEval question is answered from its knowledge passage [1]
through the grounded answer path (generate, ground, regenerate once, drop or abstain). Reported:
the sentences the model wrote (every attempt) and how many the checker found unsupported or
uncited, how many of those the grounding layer removed, how many unsupported sentences were still
shown (the shown text grounded again; target 0), and answer quality before grounding (the
model's first answer) and after (what is shown): gold right answer contained, normalised.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from tether.embed.onnx_minilm import OnnxEmbedder  # noqa: E402
from tether.generate import ExtractiveGenerator, GenerationRequest  # noqa: E402
from tether.ground import GroundConfig, answer, ground_answer  # noqa: E402
from tether.ground.citations import parse_answer  # noqa: E402
from tether.ground.policy import claims_of  # noqa: E402
from tether.ground.verdict import Grounder  # noqa: E402
from tether.settings import EmbedSettings  # noqa: E402
from tether.types import Passage  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


class CachedEmbedder:
    """Embeds each distinct text once (the grid search re-grounds the same claims)."""

    def __init__(self, inner: OnnxEmbedder) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            for t, v in zip(todo, self.inner.embed(todo)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def _passage(text: str) -> Passage:
    return Passage(chunk_id=1, document_id=1, ordinal=0, text=text, char_start=0, char_end=len(text))


def _flagged(claim: str, passage: Passage, emb: CachedEmbedder, cfg: GroundConfig) -> bool:
    g = ground_answer(claim.strip() + " [1]", [passage], emb, cfg)
    return not g.sentences or any(s.verdict != "supported" for s in g.sentences)


def prf(pairs: list[tuple[int, bool]]) -> dict[str, float]:
    tp = sum(1 for y, f in pairs if y and f)
    fp = sum(1 for y, f in pairs if not y and f)
    fn = sum(1 for y, f in pairs if y and not f)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = round(2 * p * r / (p + r), 4) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": f1, "n": len(pairs)}


def halueval(rows: list[dict], emb: CachedEmbedder, cfg: GroundConfig) -> dict[str, float]:
    pairs = []
    for r in rows:
        p = _passage(r["knowledge"])
        pairs.append((0, _flagged(r["right_answer"], p, emb, cfg)))
        pairs.append((1, _flagged(r["hallucinated_answer"], p, emb, cfg)))
    return prf(pairs)


def tune(rows: list[dict], emb: CachedEmbedder) -> tuple[GroundConfig, list[tuple[float, float, dict]]]:
    """Grid on the tuning slice: the most precise config with recall >= 0.90 (else best F1)."""
    grid = []
    for cov in (0.8, 0.9, 1.0):
        for th in (0.4, 0.5, 0.55, 0.6, 0.65):
            cfg = GroundConfig(min_coverage=cov, support_threshold=th)
            grid.append((cov, th, halueval(rows, emb, cfg)))
    ok = [g for g in grid if g[2]["recall"] >= 0.90]
    best = max(ok, key=lambda g: g[2]["precision"]) if ok else max(grid, key=lambda g: g[2]["f1"])
    return GroundConfig(min_coverage=best[0], support_threshold=best[1]), grid


def scifact(limit: int | None, emb: CachedEmbedder, cfg: GroundConfig) -> dict[str, float]:
    corpus = {}
    with open(DATA / "retrieval" / "scifact-dev" / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            corpus[d["_id"]] = d["text"]
    pairs = []
    with open(DATA / "grounding" / "scifact-claims-dev.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            label = row["evidence_label"]
            if label not in ("SUPPORT", "CONTRADICT") or row["evidence_doc_id"] not in corpus:
                continue
            evidence = _passage(corpus[row["evidence_doc_id"]])
            pairs.append((int(label == "CONTRADICT"), _flagged(row["claim"], evidence, emb, cfg)))
            if limit and len(pairs) >= limit:
                break
    return prf(pairs)


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", s.lower()).split())


def extractive(rows: list[dict], emb: CachedEmbedder, cfg: GroundConfig) -> dict[str, float]:
    gen = ExtractiveGenerator(emb)
    hits = answered = cites = good_cites = sentences = 0
    for r in rows:
        p = _passage(r["knowledge"])
        text = gen.generate(GenerationRequest(r["question"], [p])).text
        if not text:
            continue
        answered += 1
        hits += _norm(r["right_answer"]) in _norm(text)
        g = ground_answer(text, [p], emb, cfg)
        sentences += len(g.sentences)
        for s in g.sentences:
            cites += len(s.cited_numbers) + len(s.invalid_numbers)
            good_cites += len(s.cited_numbers) if s.verdict == "supported" else 0
    n = len(rows)
    return {
        "answer_contains_gold": round(hits / n, 4),
        "answer_contains_gold_when_answered": round(hits / answered, 4) if answered else 0.0,
        "abstain_rate": round(1 - answered / n, 4),
        "citation_precision": round(good_cites / cites, 4) if cites else 0.0,
        "sentences_per_answer": round(sentences / answered, 3) if answered else 0.0,
        "n": n,
    }


class Recording:
    """The generator, with every raw generation kept (grounding only sees what it returns)."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.capabilities = inner, inner.name, inner.capabilities
        self.texts: list[str] = []

    def generate(self, req: GenerationRequest):
        g = self.inner.generate(req)
        self.texts.append(g.text)
        return g

    def stream(self, req: GenerationRequest):
        return self.inner.stream(req)


def local_model(rows: list[dict], emb: CachedEmbedder, cfg: GroundConfig, model_path: str,
                max_tokens: int) -> dict[str, object]:
    from tether.generate.llama_local import LlamaLocalConfig, LlamaLocalGenerator

    gen = Recording(LlamaLocalGenerator(LlamaLocalConfig(model_path=model_path, n_ctx=4096)))
    c = dict.fromkeys(("written", "unsupported", "uncited", "content_unsupported", "removed", "shown",
                       "shown_unsupported", "gold_before", "gold_after", "abstained", "regenerated", "errors"), 0)
    try:
        for r in rows:
            p = _passage(r["knowledge"])
            gen.texts.clear()
            try:
                ans = answer(r["question"], [p], gen, emb, cfg, max_tokens=max_tokens)
            except Exception:  # noqa: BLE001 - a provider failure is counted, the run goes on
                c["errors"] += 1
                continue
            grounder = Grounder([p], emb, cfg)
            for text in gen.texts:  # every attempt the model wrote
                claims = claims_of(parse_answer(text))[0]
                verdicts = grounder.ground_sentences(claims)
                c["written"] += len(verdicts)
                c["unsupported"] += sum(v.verdict == "unsupported" for v in verdicts)
                c["uncited"] += sum(v.verdict == "uncited" for v in verdicts)
                # the content alone, as if every sentence cited the one source [1]
                as_cited = grounder.ground_sentences([replace(cl, numbers=(1,)) for cl in claims])
                c["content_unsupported"] += sum(not v.supported for v in as_cited)
            c["regenerated"] += len(gen.texts) > 1
            gold = _norm(r["right_answer"])
            c["gold_before"] += bool(gen.texts) and gold in _norm(gen.texts[0])
            if ans.abstained:
                c["abstained"] += 1
                continue
            shown = ground_answer(ans.text, [p], emb, cfg).sentences  # the shown text, checked again
            c["shown"] += len(shown)
            c["shown_unsupported"] += sum(not v.supported for v in shown)
            c["gold_after"] += gold in _norm(ans.text)
    finally:
        gen.inner.close()
    bad = c["unsupported"] + c["uncited"]
    n = len(rows)
    c["removed"] = bad - c["shown_unsupported"]
    return {"model": gen.name, "questions": n, "max_tokens": max_tokens, **c,
            "not_supported_written": bad, "not_supported_rate": round(bad / c["written"], 4) if c["written"] else 0.0,
            "answer_contains_gold_before": round(c["gold_before"] / n, 4),
            "answer_contains_gold_after": round(c["gold_after"] / n, 4), "abstain_rate": round(c["abstained"] / n, 4)}


def main_local(args, rows: list[dict], emb: CachedEmbedder, cfg: GroundConfig, t0: float) -> None:
    report = rows[args.start : args.start + (args.limit or 100)]
    out = local_model(report, emb, cfg, args.model_path, args.max_tokens)
    out["slice"] = f"halueval rows {args.start}-{args.start + len(report) - 1}"
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"local model {out['model']} on {out['slice']} (max_tokens {args.max_tokens})")
    print(f"  sentences written {out['written']}: unsupported {out['unsupported']}, uncited {out['uncited']}; "
          f"removed by grounding {out['removed']}; shown {out['shown']}, of them unsupported "
          f"{out['shown_unsupported']} (target 0)")
    print(f"  content check (each sentence as if it cited [1]): {out['content_unsupported']} of {out['written']} "
          f"not supported by the passage")
    print(f"  answer contains gold: before grounding {out['answer_contains_gold_before']:.3f}, "
          f"after {out['answer_contains_gold_after']:.3f}; abstained {out['abstain_rate']:.3f}; "
          f"regenerated {out['regenerated']}; errors {out['errors']}")
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--start", type=int, default=1000, help="first HaluEval row reported (0-999 tune)")
    ap.add_argument("--limit", type=int, default=None, help="HaluEval rows reported (1000; 100 for --generator local)")
    ap.add_argument("--generator", choices=("extractive", "local"), default="extractive",
                    help="local: answer with the real local model through the grounded answer path")
    ap.add_argument("--model-path", default="", help="--generator local: a GGUF file (default: bundled SmolLM2)")
    ap.add_argument("--max-tokens", type=int, default=96, help="--generator local: tokens per answer")
    ap.add_argument("--tune", action="store_true", help="grid-search thresholds on rows 0-999 first")
    ap.add_argument("--scifact-limit", type=int, default=0, help="0 = all SciFact pairs")
    ap.add_argument("--min-coverage", type=float, default=None, help="override GroundConfig.min_coverage")
    ap.add_argument("--support-threshold", type=float, default=None, help="override the support threshold")
    args = ap.parse_args()
    t0 = time.perf_counter()
    inner = OnnxEmbedder(EmbedSettings())
    emb = CachedEmbedder(inner)
    with open(DATA / "grounding" / "halueval-qa-dev.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    cfg = GroundConfig()
    if args.min_coverage is not None:
        cfg = cfg.model_copy(update={"min_coverage": args.min_coverage})
    if args.support_threshold is not None:
        cfg = cfg.model_copy(update={"support_threshold": args.support_threshold})
    if args.generator == "local":
        main_local(args, rows, emb, cfg, t0)
        return
    args.limit = args.limit or 1000
    out: dict[str, object] = {}
    if args.tune:
        cfg, grid = tune(rows[:1000], emb)
        out["tuned"] = {"min_coverage": cfg.min_coverage, "support_threshold": cfg.support_threshold}
        print("tuning grid (HaluEval rows 0-999): min_coverage support_threshold precision recall")
        for cov, th, m in grid:
            print(f"  {cov:4.2f} {th:5.2f}  P={m['precision']:.3f} R={m['recall']:.3f}")
    report = rows[args.start : args.start + args.limit]
    out["config"] = {"min_coverage": cfg.min_coverage, "support_threshold": cfg.support_threshold,
                     "sim_weight": cfg.sim_weight}
    out["slice"] = f"halueval rows {args.start}-{args.start + len(report) - 1} (tuned on 0-999)"
    out["halueval"] = halueval(report, emb, cfg)
    out["scifact"] = scifact(args.scifact_limit or None, emb, cfg)
    out["extractive_halueval"] = extractive(report, emb, cfg)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    h, s, x = out["halueval"], out["scifact"], out["extractive_halueval"]
    print(f"{'set':<28}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>7}")
    print(f"{'halueval unsupported':<28}{h['precision']:>10.3f}{h['recall']:>8.3f}{h['f1']:>8.3f}{h['n']:>7}")
    print(f"{'scifact contradict':<28}{s['precision']:>10.3f}{s['recall']:>8.3f}{s['f1']:>8.3f}{s['n']:>7}")
    print(f"extractive: contains gold {x['answer_contains_gold']:.3f} "
          f"(when answered {x['answer_contains_gold_when_answered']:.3f}), "
          f"abstain {x['abstain_rate']:.3f}, citation precision {x['citation_precision']:.3f}, "
          f"sentences/answer {x['sentences_per_answer']}")
    bar = h["recall"] >= 0.90 and h["precision"] >= 0.70
    out["bar_met"] = bar
    print(f"bar (recall >= 0.90 at precision >= 0.70 on HaluEval): {'MET' if bar else 'NOT MET'}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
