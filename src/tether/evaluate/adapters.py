"""Public benchmarks as golden sets, so they go through the same runner, metrics and report.

Each adapter returns the cases and the scratch corpus they are asked over (``TextItem``s with
``bench://`` uris, readable by everyone). ``tether eval run --adapter NAME [--adapter-data PATH]
[--limit N]`` indexes the corpus into a scratch database and asks every case as the principal
``eval``.

- ``halueval``: HaluEval QA (``knowledge``, ``question``, ``right_answer``). Each knowledge
  passage is one document; ``right_answer`` is the key fact and the reference answer, so key-fact
  recall is the share of questions whose short answer appears in Tether's (extractive) answer.
- ``legal``: LegalBench-style clause questions (``contract``, ``question``, ``answer`` True/False).
  Only True rows are used (the clause does discuss the topic): the clause is the expected source,
  and ``expected_answer`` is the clause text, so token F1 measures how much of the clause the answer
  quotes. Retrieval and citation metrics are the comparable figures here; the pass rate is not.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tether.errors import InvalidInput
from tether.evaluate.golden import GoldenCase, GoldenSet
from tether.ingest.bulk import TextItem

ADAPTERS = ("halueval", "legal")
PRINCIPAL = "eval"
_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
DEFAULT_DATA = {"halueval": _DATA / "grounding" / "halueval-qa-dev.jsonl", "legal": _DATA / "legal"}


def _rows(path: Path) -> list[dict]:
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise InvalidInput(f"no JSONL data at {path}")
    rows = []
    for f in files:
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append({**json.loads(line), "_origin": f"{f.name}:{n}"})
                except json.JSONDecodeError as exc:
                    raise InvalidInput(f"{f}:{n}: not JSON: {exc.msg}") from exc
    return rows


def _uri(name: str, text: str) -> str:
    return f"bench://{name}/{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"


def load_adapter(name: str, path: Path | None = None, limit: int = 0) -> tuple[GoldenSet, list[TextItem]]:
    if name not in ADAPTERS:
        raise InvalidInput(f"unknown adapter {name!r}; adapters: {', '.join(ADAPTERS)}")
    rows = _rows(Path(path) if path else DEFAULT_DATA[name])
    docs: dict[str, TextItem] = {}
    cases: list[GoldenCase] = []
    for i, r in enumerate(rows):
        if limit and len(cases) >= limit:
            break
        if name == "halueval":
            text, answer = r.get("knowledge", ""), r.get("right_answer", "")
            if not text or not r.get("question") or not answer:
                continue
            facts, expected = [answer], answer
        else:
            text = r.get("contract", "")
            if str(r.get("answer")) != "True" or not text or not r.get("question"):
                continue
            facts, expected = [], " ".join(text.split())[:2000]
        uri = _uri(name, text)
        docs.setdefault(uri, TextItem(uri=uri, title=f"{name} {r['_origin']}", text=text))
        cases.append(GoldenCase.model_validate({
            "id": f"{name}-{i:05d}", "question": r["question"], "as": PRINCIPAL, "expected_answer": expected,
            "key_facts": facts, "expected_sources": [uri],
            "tags": {"topic": name, "kind": "answerable", "difficulty": "medium", "language": "en"},
        }))
    if not cases:
        raise InvalidInput(f"adapter {name}: no usable rows")
    return GoldenSet(name=name, description=f"{name} via tether.evaluate.adapters", cases=cases), list(docs.values())
