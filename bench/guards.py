"""Measure the guards on the shared labelled sets; prints tables, then one JSON line of figures.

    .venv/bin/python bench/guards.py [--data ../shared/data] [--max-fpr 0.03]

Injection (deepset-dev): rows are split by a hash of their text into a tuning half (even) and a
held-out half (odd). Thresholds are chosen on the tuning half only (highest recall with FPR <=
--max-fpr, the higher threshold on ties) and reported on the held-out half, for the jailguard
classifier alone, the heuristics alone, and both combined (max of the two scores).
PII (presidio-synth-dev): per gold entity type, recall (a gold span counts as found when a
predicted span of the mapped type overlaps it) and precision of the mapped predicted type; then
what the output guard actually redacts under a redacting policy (``confidential``): per gold type
the share of gold spans a redaction overlaps, and the share of redactions that overlap some gold
span (the detector finds places; the policy decides which of them are personal data).
Secrets: per-type recall and false-positive rate on tests/guard/data/secrets.jsonl; then per-family
recall on the generated set of >= 30 token families (exact spans), false positives on code
look-alikes and on the demo corpus, and ms per text (``--only secrets`` runs just these).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tether.guard.injection import InjectionGuard  # noqa: E402
from tether.guard.pii import PiiDetector, PiiGuard  # noqa: E402
from tether.settings import GuardSettings  # noqa: E402

# gold type in presidio-synth -> the type Tether reports for it
PII_MAP = {
    "EMAIL_ADDRESS": "EMAIL_ADDRESS", "PHONE_NUMBER": "PHONE_NUMBER", "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE", "US_SSN": "US_SSN", "IP_ADDRESS": "IP_ADDRESS", "PERSON": "PERSON",
    "GPE": "LOCATION", "STREET_ADDRESS": "LOCATION",
}
PII_BAR = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD")


def rates(scores: list[float], labels: list[int], t: float) -> tuple[float, float]:
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    return sum(s >= t for s in pos) / len(pos), sum(s >= t for s in neg) / len(neg)


def pick_threshold(scores: list[float], labels: list[int], max_fpr: float) -> float:
    best = (-1.0, 0.0)
    for t in [i / 100 for i in range(5, 100)]:
        recall, fpr = rates(scores, labels, t)
        if fpr <= max_fpr and (recall, t) >= best:
            best = (recall, t)
    return best[1]


def bench_injection(path: Path, max_fpr: float) -> dict[str, object]:
    """deepset halves: jailguard (the classifier before issue 20), the rules, both (today's
    "combined"), and Tether's own classifier, alone and with the rules. Tether's classifier was
    trained on the tuning (even) half, so only its held-out figures mean anything."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    tune = [int(hashlib.sha256(r["text"].encode()).hexdigest()[:8], 16) % 2 == 0 for r in rows]
    old = InjectionGuard(GuardSettings(injection_model="jailguard"))
    guard = InjectionGuard(GuardSettings(injection_model="tether"))
    t0 = time.perf_counter()
    scored = old.scores([r["text"] for r in rows])
    per_text_ms = (time.perf_counter() - t0) * 1000 / len(rows)
    own = [c for c, _, _ in guard.scores([r["text"] for r in rows])]
    variants = {
        "jailguard": [c for c, _, _ in scored],
        "heuristics": [h for _, h, _ in scored],
        "combined": [max(c, h) for c, h, _ in scored],
        "tether": own,
        "tether+rules": [max(c, h) for c, (_, h, _) in zip(own, scored)],
    }
    labels = [int(r["label"]) for r in rows]
    out: dict[str, object] = {"rows": len(rows), "tuning_rows": sum(tune), "heldout_rows": len(rows) - sum(tune),
                              "max_fpr_tuning": max_fpr, "ms_per_text": round(per_text_ms, 2)}
    print(f"\nINJECTION  {path.name}: {len(rows)} rows, tuning {sum(tune)}, held-out {len(rows) - sum(tune)}")
    print(f"{'detector':<12}{'threshold':>10}{'tune rec':>10}{'tune fpr':>10}{'held rec':>10}{'held fpr':>10}"
          f"{'all rec':>9}{'all fpr':>9}")
    for name, scores in variants.items():
        ts = [s for s, k in zip(scores, tune) if k]
        tl = [y for y, k in zip(labels, tune) if k]
        hs = [s for s, k in zip(scores, tune) if not k]
        hl = [y for y, k in zip(labels, tune) if not k]
        t = pick_threshold(ts, tl, max_fpr)
        (tr, tf), (hr, hf), (ar, af) = rates(ts, tl, t), rates(hs, hl, t), rates(scores, labels, t)
        print(f"{name:<12}{t:>10.2f}{tr:>10.3f}{tf:>10.3f}{hr:>10.3f}{hf:>10.3f}{ar:>9.3f}{af:>9.3f}")
        out[name] = {"threshold": t, "tuning": {"recall": round(tr, 4), "fpr": round(tf, 4)},
                     "heldout": {"recall": round(hr, 4), "fpr": round(hf, 4)},
                     "all": {"recall": round(ar, 4), "fpr": round(af, 4)}}
    held = out["combined"]["heldout"]  # type: ignore[index]
    out["bar_met"] = held["recall"] >= 0.85 and held["fpr"] <= 0.05
    # the shipped decision: classifier at the input stage's calibrated cut, or a rule
    hs = [(c, h, y) for c, (_, h, _), y, k in zip(own, scored, labels, tune) if not k]
    shipped = [guard.flagged(c, h) for c, h, _ in hs]
    pos = [f for f, (_, _, y) in zip(shipped, hs) if y]
    neg = [f for f, (_, _, y) in zip(shipped, hs) if not y]
    out["shipped_heldout"] = {"classifier_threshold": guard.classifier_threshold,
                              "recall": round(sum(pos) / len(pos), 4), "fpr": round(sum(neg) / len(neg), 4)}
    print(f"shipped decision (tether classifier >= {guard.classifier_threshold:.3f} or a rule) on the held-out "
          f"half: recall {out['shipped_heldout']['recall']:.3f}, FPR {out['shipped_heldout']['fpr']:.3f}")
    return out


def bench_injection_families(data: Path, model: str = "tether") -> dict[str, object]:
    """Per family of the guard corpus: the dev split (held out) at the shipped per-stage cuts;
    leave-one-source-out figures from the shipped model's metrics.json (they need one training
    run per family: `tether tune guard --loso`); latency per text, one text per call."""
    from tether.guard.classifier import default_path
    from tether.tune.guard_corpus import corpus
    from tether.tune.guard_eval import stage_of

    texts = [t for t in corpus(data) if t.split == "dev"]
    gs = GuardSettings(injection_model=model)  # type: ignore[arg-type]
    guards = {s: InjectionGuard(gs, "input" if s == "input" else "tool" if s == "tool" else "context",
                                at=s) for s in ("input", "ingest", "context", "tool")}
    guards["input"].warm_up()
    lat: list[float] = []
    rows: dict[str, list[tuple[bool, int]]] = defaultdict(list)
    for t in texts:
        g = guards[stage_of(t.family)]
        t0 = time.perf_counter()
        (c, h, _), = g.scores([t.text])
        lat.append((time.perf_counter() - t0) * 1000)
        rows[t.family].append((g.flagged(c, h), t.label))
    lat.sort()
    print(f"\nINJECTION per source family, {model} (dev split, held out; per-stage cuts, classifier or rules)")
    print(f"{'family':<10}{'n':>6}{'attacks':>9}{'recall':>8}{'fpr':>8}")
    per: dict[str, object] = {}
    for fam, fl in rows.items():
        pos = [f for f, y in fl if y]
        neg = [f for f, y in fl if not y]
        r, f = sum(pos) / max(len(pos), 1), sum(neg) / max(len(neg), 1)
        per[fam] = {"n": len(fl), "attacks": len(pos), "recall": round(r, 4), "fpr": round(f, 4)}
        print(f"{fam:<10}{len(fl):>6}{len(pos):>9}{r:>8.3f}{f:>8.3f}")
    metrics = json.loads((default_path() / "metrics.json").read_text(encoding="utf-8"))
    loso = metrics.get("loso", {}) if model == "tether" else {}
    print("LEAVE-ONE-SOURCE-OUT (from metrics.json; model trained without the family, cut calibrated on the others)")
    print(f"{'held out':<10}{'n':>6}{'recall':>8}{'fpr':>8}{'+rules rec':>11}{'+rules fpr':>11}{'auc':>7}")
    for fam, fig in loso.items():
        print(f"{fam:<10}{fig['n']:>6}{fig['recall']:>8.3f}{fig['fpr']:>8.3f}{fig['combined_recall']:>11.3f}"
              f"{fig['combined_fpr']:>11.3f}{fig['auc']:>7.3f}")
    p50, p95 = lat[len(lat) // 2], lat[int(len(lat) * 0.95)]
    print(f"latency per text ({model}, one call each, {len(lat)} texts): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    loso_ok = bool(loso) and all(f["combined_recall"] >= 0.90 and f["combined_fpr"] <= 0.05 for f in loso.values())
    return {"dev": per, "loso": loso, "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
            "loso_bar_met": loso_ok, "latency_bar_met": p50 <= 15.0}


def bench_injection_extra(indomain: Path, corpus_dir: Path, threshold: float, n_passages: int) -> dict[str, object]:
    """Figures at ``threshold`` on text unlike deepset: enterprise questions and attacks (our own
    small labelled set), and benign document passages scanned at the context stage."""
    settings = GuardSettings()
    rows = [json.loads(line) for line in indomain.read_text(encoding="utf-8").splitlines() if line.strip()]
    guard = InjectionGuard(settings, "input")
    flags = [float(guard.flagged(c, h)) for c, h, _ in guard.scores([r["text"] for r in rows])]
    recall, fpr = rates(flags, [int(r["label"]) for r in rows], 0.5)
    passages = []
    for corpus in sorted(corpus_dir.glob("*/corpus.jsonl")):
        with corpus.open(encoding="utf-8") as fh:
            for line, _ in zip(fh, range(n_passages // 2)):
                passages.append(json.loads(line)["text"])
    ctx = InjectionGuard(settings, "context").check_many(passages)
    ctx_fpr = sum(r.verdict.value != "allow" for r in ctx) / len(ctx)
    print("\nINJECTION (shipped decision: classifier at its stage cut, or a rule) on other text")
    print(f"  {indomain.name}: {len(rows)} rows, recall {recall:.3f}, FPR {fpr:.3f}")
    print(f"  context stage, {len(passages)} benign corpus passages (retrieval/*): flagged {ctx_fpr:.3f}")
    return {"threshold": threshold, "indomain": {"rows": len(rows), "recall": round(recall, 4), "fpr": round(fpr, 4)},
            "context_passages": {"rows": len(passages), "flagged_rate": round(ctx_fpr, 4)}}


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def bench_pii(path: Path, mode: str) -> dict[str, object]:
    records = json.loads(path.read_text(encoding="utf-8"))
    detector = PiiDetector(GuardSettings(), mode=mode)
    detector.warm_up()
    guard = PiiGuard(GuardSettings(), "confidential", detector)
    gold_n: dict[str, int] = defaultdict(int)
    gold_hit: dict[str, int] = defaultdict(int)
    gold_redacted: dict[str, int] = defaultdict(int)
    pred_n: dict[str, int] = defaultdict(int)
    pred_ok: dict[str, int] = defaultdict(int)
    redactions = redactions_ok = 0
    spent = 0.0
    for rec in records:
        t0 = time.perf_counter()
        preds = detector.detect(rec["full_text"])
        spent += time.perf_counter() - t0
        redacted = [(e.start, e.end) for e in guard.check(rec["full_text"], None).entities]
        golds = [(s["entity_type"], (s["start_position"], s["end_position"])) for s in rec["spans"]]
        redactions += len(redacted)
        redactions_ok += sum(any(_overlaps(r, s) for _g, s in golds) for r in redacted)
        for gtype, span in golds:
            gold_redacted[gtype] += any(_overlaps(span, r) for r in redacted)
        for gtype, span in golds:
            gold_n[gtype] += 1
            mapped = PII_MAP.get(gtype)
            if mapped and any(p.type == mapped and _overlaps(span, (p.start, p.end)) for p in preds):
                gold_hit[gtype] += 1
        for p in preds:
            pred_n[p.type] += 1
            if any(PII_MAP.get(g) == p.type and _overlaps(s, (p.start, p.end)) for g, s in golds):
                pred_ok[p.type] += 1
    ms = spent * 1000 / len(records)
    print(f"\nPII ({mode})  {path.name}: {len(records)} records, {ms:.1f} ms/record")
    print(f"{'gold type':<18}{'mapped to':<15}{'gold':>6}{'recall':>8}{'precision':>11}")
    per_type: dict[str, object] = {}
    for gtype in sorted(gold_n, key=lambda g: -gold_n[g]):
        mapped = PII_MAP.get(gtype)
        recall = gold_hit[gtype] / gold_n[gtype] if mapped else None
        precision = pred_ok[mapped] / pred_n[mapped] if mapped and pred_n[mapped] else None
        print(f"{gtype:<18}{mapped or '(not covered)':<15}{gold_n[gtype]:>6}"
              f"{'-' if recall is None else f'{recall:.3f}':>8}{'-' if precision is None else f'{precision:.3f}':>11}")
        per_type[gtype] = {"gold": gold_n[gtype], "mapped": mapped,
                           "recall": None if recall is None else round(recall, 4),
                           "precision": None if precision is None else round(precision, 4)}
    bar = all((per_type[t]["recall"] or 0) >= 0.95 for t in PII_BAR)  # type: ignore[index]
    print(f"redacted under the confidential policy: {redactions} spans, "
          f"{redactions_ok / max(redactions, 1):.3f} overlap a gold span")
    print("  " + ", ".join(f"{g} {gold_redacted[g] / gold_n[g]:.3f}" for g in sorted(gold_n, key=lambda g: -gold_n[g])))
    redaction = {"spans": redactions, "precision": round(redactions_ok / max(redactions, 1), 4),
                 "recall": {g: round(gold_redacted[g] / gold_n[g], 4) for g in gold_n}}
    return {"records": len(records), "ms_per_record": round(ms, 2), "per_type": per_type, "bar_met": bar,
            "redaction": redaction}


def bench_secrets(path: Path) -> dict[str, object]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    detector = PiiDetector(GuardSettings(), mode="light")
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fp = neg = 0
    from tether.guard.secrets import SECRET_TYPES

    for r in rows:
        types = {e.type for e in detector.detect(r["text"])}
        if r["label"]:
            found[r["type"]][0] += r["type"] in types
            found[r["type"]][1] += 1
        else:
            neg += 1
            fp += bool(types & SECRET_TYPES)
    print(f"\nSECRETS  {path.name}: {len(rows)} rows ({neg} negatives)")
    print(f"{'type':<16}{'n':>5}{'recall':>8}")
    per_type = {}
    for t, (hit, n) in sorted(found.items()):
        print(f"{t:<16}{n:>5}{hit / n:>8.3f}")
        per_type[t] = round(hit / n, 4)
    print(f"false-positive rate on negatives: {fp / neg:.3f}")
    return {"rows": len(rows), "negatives": neg, "recall": per_type, "fpr": round(fp / neg, 4)}


def bench_secret_families(corpus: Path) -> dict[str, object]:
    """Per-family recall on the generated set (tests/guard/data/secret_families.py: a hit is the
    family's type at exactly the secret's span), false positives on code look-alikes and on the
    demo corpus (through the loaders; its one planted key is expected), and ms per text."""
    import importlib.util

    from tether.guard.secrets import find_secrets
    from tether.ingest.loaders import load_file

    generator = REPO / "tests" / "guard" / "data" / "secret_families.py"
    spec = importlib.util.spec_from_file_location("secret_families", generator)
    assert spec and spec.loader
    fam = importlib.util.module_from_spec(spec)
    sys.modules["secret_families"] = fam
    spec.loader.exec_module(fam)
    cases = list(fam.cases())
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    find_secrets("warm up")
    t0 = time.perf_counter()
    for c in cases:
        found = find_secrets(c.text)
        hits[c.family][0] += any(e.type == c.type and (e.start, e.end) == (c.start, c.end) for e in found)
        hits[c.family][1] += 1
    ms = (time.perf_counter() - t0) * 1000 / len(cases)
    print(f"\nSECRET FAMILIES  generated: {len(fam.FAMILIES)} families, {len(cases)} texts, {ms:.2f} ms/text")
    print(f"{'family':<28}{'type':<20}{'n':>5}{'recall':>8}")
    recall = {}
    for f, (kind, _gen) in fam.FAMILIES.items():
        hit, n = hits[f]
        recall[f] = round(hit / n, 4)
        print(f"{f:<28}{kind:<20}{n:>5}{hit / n:>8.3f}")
    decoys = fam.decoys()
    decoy_fp = sum(bool(find_secrets(d)) for d in decoys)
    planted = {"sk-test-9vQ2mTx7LpR4kZ8nWc3YhB6dF1sJ5gA0"}
    docs = demo_fp = 0
    for path in sorted(corpus.rglob("*")):
        if path.is_file():
            text = load_file(path, max_bytes=10**8).text
            docs += 1
            demo_fp += sum(text[e.start:e.end] not in planted for e in find_secrets(text))
    overall = sum(h for h, _ in hits.values()) / len(cases)
    print(f"overall recall {overall:.3f}, min family {min(recall.values()):.3f}; "
          f"code look-alikes flagged {decoy_fp}/{len(decoys)}; demo corpus false positives {demo_fp} in {docs} docs")
    bar = len(recall) >= 30 and min(recall.values()) >= 0.98 and demo_fp == 0
    return {"families": len(recall), "texts": len(cases), "ms_per_text": round(ms, 3), "recall": recall,
            "overall_recall": round(overall, 4), "decoys": len(decoys), "decoys_flagged": decoy_fp,
            "demo_docs": docs, "demo_false_positives": demo_fp, "bar_met": bar}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--max-fpr", type=float, default=0.03, help="FPR allowed when tuning thresholds")
    ap.add_argument("--passages", type=int, default=1000, help="benign passages for the context-stage FPR")
    ap.add_argument("--only", choices=["secrets", "injection"],
                    help="run only the secret benches (no models), or only the injection benches")
    args = ap.parse_args()
    if args.only == "secrets":
        print(json.dumps({"secrets": bench_secrets(REPO / "tests" / "guard" / "data" / "secrets.jsonl"),
                          "secret_families": bench_secret_families(REPO / "demo" / "corpus")}))
        return
    injection = bench_injection(args.data / "injection" / "deepset-dev.jsonl", args.max_fpr)
    threshold = injection["combined"]["threshold"]  # type: ignore[index]
    if args.only == "injection":
        print(json.dumps({"injection": injection, "injection_families_jailguard": bench_injection_families(
            args.data, "jailguard"), "injection_families": bench_injection_families(args.data)}))
        return
    figures = {
        "injection": injection,
        "injection_families_jailguard": bench_injection_families(args.data, "jailguard"),
        "injection_families": bench_injection_families(args.data),
        "injection_other": bench_injection_extra(REPO / "tests" / "guard" / "data" / "injection-indomain.jsonl",
                                                 args.data / "retrieval", threshold, args.passages),
        "pii_full": bench_pii(args.data / "pii" / "presidio-synth-dev.json", "full"),
        "pii_light": bench_pii(args.data / "pii" / "presidio-synth-dev.json", "light"),
        "secrets": bench_secrets(REPO / "tests" / "guard" / "data" / "secrets.jsonl"),
        "secret_families": bench_secret_families(REPO / "demo" / "corpus"),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
