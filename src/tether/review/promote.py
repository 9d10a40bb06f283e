"""Promote a reviewed answer into a golden case (``evaluate/golden.py`` format).

The case is asked as the original asker, with the reviewer's answer as ``expected_answer``,
key facts (given, or the figures, amounts and dates found in the answer) and the evidence
documents both the reviewer and the asker may read as ``expected_sources``. It is appended to a
YAML golden file (default ``<data_dir>/golden/reviewed.yaml``) under a file lock; an existing
file keeps its comments and layout when the case can simply be appended to its ``cases`` list,
and the result is always re-validated with the golden loader before it replaces the file.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tether.evaluate.golden import normalise, parse_golden
from tether.settings import Settings
from tether.store import reviews
from tether.store.db import Database
from tether.types import Principal

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_UNITS = (r"%|per ?cent|percent|days?|working days|business days|weeks?|months?|years?|hours?|minutes?|"
          r"euros?|eur|usd|gbp|dollars?|pounds?|k|m|bn|million|billion|employees|people|staff|gb|tb|mb|ms|seconds?")
_FACT = re.compile(
    rf"(?:(?:EUR|USD|GBP|€|\$|£)\s?\d[\d,.]*\d?(?:\s?(?:k|m|bn|million|billion)\b)?"
    rf"|\b\d{{1,2}}\s(?:{_MONTHS})\b(?:\s\d{{4}})?"
    rf"|\b(?:{_MONTHS})\s\d{{1,2}}\b(?:,?\s\d{{4}})?"
    rf"|\b\d[\d,.]*\d?\s?(?:{_UNITS})\b"
    rf"|\b\d[\d,.]*\d\b|\b\d\b)",
    re.IGNORECASE,
)
MAX_FACTS = 6


def default_path(settings: Settings) -> Path:
    """``review.golden_path`` when set, else ``<data_dir>/golden/reviewed.yaml``."""
    configured = settings.review.golden_path
    return Path(configured) if configured else Path(settings.data_dir) / "golden" / "reviewed.yaml"


def key_facts(text: str) -> list[str]:
    """Figures, amounts and dates in ``text`` (each one a key fact the answer must contain)."""
    out: list[str] = []
    for m in _FACT.finditer(text):
        fact = m.group(0).strip().rstrip(".,")
        if fact and normalise(fact) and all(normalise(fact) != normalise(f) for f in out):
            out.append(fact)
    # drop a bare number that is part of a longer fact ("25" when "25 days" is there)
    longer = [normalise(f) for f in out]
    out = [f for f in out if not any(normalise(f) != n and f" {normalise(f)} " in f" {n} " for n in longer)]
    return out[:MAX_FACTS]


def build_case(item: dict, *, facts: list[str] | None = None, must_abstain: bool = False,
               topic: str = "reviewed") -> dict[str, Any]:
    """A golden case (plain dict, YAML-ready) from ``reviews.for_promotion``'s record."""
    case: dict[str, Any] = {"id": f"review-{item['id']}", "question": item["question"], "as": item["asker"]}
    sources = list(item["source_uris"])
    if must_abstain:
        kind = "unanswerable"
        case["must_abstain"] = True
    else:
        kind = "multi_doc" if len(sources) > 1 else "answerable"
        case["expected_answer"] = " ".join(item["answer"].split())
        chosen = [f.strip() for f in (facts if facts is not None else key_facts(item["answer"])) if f.strip()]
        if chosen:
            case["key_facts"] = chosen
        if sources:
            case["expected_sources"] = sources
    case["tags"] = {"topic": topic, "difficulty": "medium", "kind": kind}
    return case


def _dump_case(case: dict[str, Any], indent: int, comment: str) -> str:
    body = yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in [f"# {comment}\n", *body.splitlines(True)])


def _unique_id(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def append_case(path: str | Path, case: dict[str, Any], *, comment: str = "") -> str:
    """Append ``case`` to the golden file at ``path`` (created if missing); returns the case id
    (suffixed ``-2``, ``-3``, ... if the id is taken). Raises GoldenError when the existing file
    is not a valid golden set."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p.with_name(p.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = p.read_text(encoding="utf-8") if p.exists() else ""
        data = yaml.safe_load(text) if text.strip() else None
        if data is None:
            new_text = ("# Golden cases promoted from the human review queue (tether review promote).\n"
                        "# Format: see src/tether/evaluate/golden.py. Run: tether eval run <this file>\n")
            new_text += yaml.safe_dump({"name": "reviewed", "description": "Questions answered by human reviewers.",
                                        "cases": []}, sort_keys=False).replace("cases: []\n", "cases:\n")
            new_text += _dump_case(case, 2, comment or case["id"])
        else:
            existing = parse_golden(data, str(p))
            case = {**case, "id": _unique_id(case["id"], {c.id for c in existing.cases})}
            want = {**data, "cases": [*data["cases"], case]}
            base = text if text.endswith("\n") else text + "\n"
            new_text = ""
            for indent in (2, 0, 4):
                candidate = base + _dump_case(case, indent, comment or case["id"])
                try:
                    if yaml.safe_load(candidate) == want:
                        new_text = candidate
                        break
                except yaml.YAMLError:
                    continue
            if not new_text:  # the cases list is not the file's last block: rewrite it whole
                new_text = yaml.safe_dump(want, sort_keys=False, allow_unicode=True, width=100)
        parse_golden(yaml.safe_load(new_text), str(p))  # never write a file `tether eval run` rejects
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(new_text)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return str(case["id"])


def promote(db: Database, item_id: int, reviewer: Principal, path: str | Path, *, facts: list[str] | None = None,
            must_abstain: bool = False) -> dict[str, Any]:
    """Append the answered item as a golden case and mark it promoted (one transaction: the item
    stays locked while the file is written, so it is promoted at most once)."""
    with db.transaction() as conn:
        item = reviews.for_promotion(conn, item_id, reviewer)
        case = build_case(item, facts=facts, must_abstain=must_abstain)
        when = datetime.now(UTC).strftime("%Y-%m-%d")
        case_id = append_case(path, case, comment=f"review item {item_id}, answered by {item['answered_by']},"
                                                  f" promoted by {reviewer.name} on {when}")
        updated = reviews.mark_promoted(conn, item_id, reviewer, case_id)
    return {"item": updated, "case": {**case, "id": case_id}, "path": str(path)}
