"""False redactions on the demo answers: the demo golden questions through the whole engine, every
redaction the output guard makes listed and judged against hand-labelled personal data.

    .venv/bin/python bench/pii_demo.py [--golden demo/golden/golden.yaml] [--json]

The demo corpus is set up in a scratch database (as ``tether eval run --as-setup demo --scratch``
does, allow-list included), each golden case is asked as its principal with the answer cache off
(a hit would skip the guard), and every span the output guard redacts (or blocks for) is
recorded. A redaction is correct when its span overlaps a value listed in
``bench/data/demo_personal_data.json`` (the invented people and their contact details, ids, card,
IBAN, key); otherwise it is a false redaction (target 0). Labelled values still visible in an
answer whose policy redacts are reported as misses. ``--before`` measures the guard as it was
(every detector finding redacted), for the comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tether.guard import pii  # noqa: E402
from tether.guard.base import Verdict  # noqa: E402


def _occurrences(text: str, values: list[str]) -> list[tuple[int, int, str]]:
    out = []
    for v in values:
        at = text.find(v)
        while at >= 0:
            out.append((at, at + len(v), v))
            at = text.find(v, at + 1)
    return out


def _record_guard(log: list[dict]) -> None:
    """Record each output-guard decision on a whole text (copies of parts reuse its findings)."""
    real = pii.PiiGuard.check

    def check(self, text, entities=None):
        result = real(self, text, entities)
        if entities is None:
            log.append({"text": text, "changes": self.policy.changes_answers, "verdict": result.verdict,
                        "entities": [(e.type, e.start, e.end) for e in result.entities]})
        return result

    pii.PiiGuard.check = check  # type: ignore[method-assign]


def run(golden: Path, data_dir: Path, labels: dict, before: bool = False) -> dict:
    from tether.engine import Tether
    from tether.evaluate.golden import load_golden
    from tether.evaluate.runner import setup_demo
    from tether.settings import Settings
    from tether.store.db import scratch_database

    gold = labels["people"] + labels["contact_and_ids"]
    log: list[dict] = []
    _record_guard(log)
    if before:  # the output guard as it was: every finding of the detector counts
        pii.personal_data = lambda text, entities, policy, rules: list(entities)
    settings = Settings(data_dir=data_dir)
    if hasattr(settings, "cache"):
        settings.cache.enabled = False
    cases = load_golden(golden).cases
    rows, false, correct, missed = [], [], 0, []
    with scratch_database(settings) as url, Tether(settings.model_copy(update={"database_url": url})) as t:
        setup_demo(t, REPO / "demo" / "manifest.json")
        for case in cases:
            log.clear()
            res = t.ask(t.principal(case.principal), case.question)
            row = {"id": case.id, "redactions": [], "misses": []}
            for d in log:
                if d["verdict"] not in (Verdict.SANITISE, Verdict.BLOCK):
                    continue
                spans = _occurrences(d["text"], gold)
                for typ, start, end in d["entities"]:
                    value = d["text"][start:end]
                    ok = any(s < end and start < e for s, e, _v in spans)
                    row["redactions"].append({"type": typ, "span": value, "personal": ok})
                    if ok:
                        correct += 1
                    else:
                        false.append({"case": case.id, "type": typ, "span": value,
                                      "context": d["text"][max(0, start - 50):end + 50].replace("\n", " ")})
            if any(d["changes"] for d in log):
                row["misses"] = sorted({v for _s, _e, v in _occurrences(res.answer.text, gold)})
                missed += [{"case": case.id, "value": v} for v in row["misses"]]
            rows.append(row)
    return {"cases": len(cases), "cases_redacted": sum(bool(r["redactions"]) for r in rows),
            "redactions": correct + len(false), "correct": correct, "false_redactions": len(false),
            "false": false, "visible_personal_data": missed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--golden", type=Path, default=REPO / "demo" / "golden" / "golden.yaml")
    ap.add_argument("--labels", type=Path, default=REPO / "bench" / "data" / "demo_personal_data.json")
    ap.add_argument("--data-dir", type=Path, default=None, help="Tether data dir (default: a new temp dir)")
    ap.add_argument("--json", action="store_true", help="print one JSON document only")
    ap.add_argument("--before", action="store_true",
                    help="measure the guard as it was before tether.guard.personal (every finding counts)")
    args = ap.parse_args()
    labels = json.loads(args.labels.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tether-pii-demo-") as tmp:
        figures = run(args.golden, args.data_dir or Path(tmp), labels, before=args.before)
    figures["seconds"] = round(time.perf_counter() - t0, 1)
    figures["guard"] = "before (every finding counts)" if args.before else "personal data only"
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{figures['cases']} golden cases, {figures['cases_redacted']} with redactions: "
          f"{figures['redactions']} redacted spans, {figures['correct']} personal data, "
          f"{figures['false_redactions']} false (target 0)")
    for f in figures["false"]:
        print(f"  FALSE {f['case']:<28} {f['type']:<14} {f['span']!r:<32} ...{f['context']}...")
    for m in figures["visible_personal_data"]:
        print(f"  visible under a redacting policy: {m['case']} {m['value']!r}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
