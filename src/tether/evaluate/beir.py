"""Reading BEIR-format data sets: corpus.jsonl, queries.jsonl, qrels/test.tsv."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from tether.errors import InvalidInput


@dataclass
class BeirDataset:
    name: str
    corpus: dict[str, dict[str, str]]  # id -> {title, text}
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}

    @classmethod
    def load(cls, root: Path, split: str = "test") -> BeirDataset:
        root = Path(root)
        for needed in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
            if not (root / needed).is_file():
                raise InvalidInput(f"{root} is not a BEIR data set: {needed} is missing")
        corpus = {}
        with (root / "corpus.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    d = json.loads(line)
                    corpus[str(d["_id"])] = {"title": d.get("title") or "", "text": d.get("text") or ""}
        queries = {}
        with (root / "queries.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    q = json.loads(line)
                    queries[str(q["_id"])] = q["text"]
        qrels: dict[str, dict[str, int]] = {}
        with (root / f"qrels/{split}.tsv").open(encoding="utf-8") as fh:
            reader = csv.reader(fh, delimiter="\t")
            for row in reader:
                if not row or row[0] == "query-id":
                    continue
                qid, did, rel = row[0], row[1], int(row[2])
                if did in corpus:
                    qrels.setdefault(qid, {})[did] = rel
        queries = {q: t for q, t in queries.items() if q in qrels}
        return cls(root.name, corpus, queries, qrels)

    def doc_text(self, doc_id: str) -> str:
        d = self.corpus[doc_id]
        return f"{d['title']}\n\n{d['text']}" if d["title"] else d["text"]
