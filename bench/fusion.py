"""Compare fusion methods on an indexed BEIR data set, from one pass of each retriever.

Runs BM25 and dense top-100 once per query against a database that already holds the data set
(``tether eval retrieval --keep`` leaves one), then scores fusion variants offline. Used to pick
Tether's default fusion; every variant uses one fixed setting across data sets (no per-set tuning).

    python bench/fusion.py --dataset DIR --db-url URL [--dump FILE] [--load FILE]
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

from _common import final_json, print_table


def collect(ds, url: str) -> dict:
    from tether.embed.onnx_minilm import OnnxEmbedder
    from tether.evaluate.retrieval import chunk_to_doc
    from tether.retrieve import dense, keyword
    from tether.settings import EmbedSettings, RetrieveSettings
    from tether.store.db import Database

    rs = RetrieveSettings()
    emb = OnnxEmbedder(EmbedSettings())
    qids = sorted(ds.queries)
    vecs = emb.embed([ds.queries[q] for q in qids])
    out = {}
    with Database(url, min_size=1, max_size=1).open() as db:
        c2d = chunk_to_doc(db)
        with db.connection() as conn:
            for qid, v in zip(qids, vecs):
                b = keyword.search(conn, ds.queries[qid], acl_tokens=None, k=100, k1=rs.k1, b=rs.b)
                d = dense.search(conn, v, dimension=384, acl_tokens=None, k=100)
                conn.commit()
                out[qid] = {"bm25": [(c2d[c], s) for c, s in b], "dense": [(c2d[c], s) for c, s in d]}
    return out


def doc_level(ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    seen, out = set(), []
    for d, s in ranked:
        if d not in seen:
            seen.add(d)
            out.append((d, s))
    return out


def fuse(runs: dict[str, list[tuple[str, float]]], method: str) -> list[str]:
    from tether.retrieve.fusion import fuse_scores, rrf

    if method.startswith("rrf"):
        return [d for d, _ in rrf(runs, k=60)]
    name = method.split(":")[0]
    return [d for d, _ in fuse_scores(runs, method=name)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--db-url", default="")
    ap.add_argument("--dump", type=Path)
    ap.add_argument("--load", type=Path)
    args = ap.parse_args()
    from tether.evaluate.beir import BeirDataset
    from tether.evaluate.metrics import ndcg_at_k, recall_at_k

    ds = BeirDataset.load(args.dataset)
    if args.load:
        runs = pickle.loads(args.load.read_bytes())
    else:
        runs = collect(ds, args.db_url)
        if args.dump:
            args.dump.write_bytes(pickle.dumps(runs))
    methods = ["bm25", "dense", "rrf", "minmax", "zscore", "dbsf", "rankscore"]
    rows, figures = [], {}
    for m in methods:
        nd, rc = [], []
        for qid, r in runs.items():
            per = {k: doc_level(v) for k, v in r.items()}
            ranked = [d for d, _ in per[m]] if m in per else fuse(per, m)
            nd.append(ndcg_at_k(ranked, ds.qrels[qid], 10))
            rc.append(recall_at_k(ranked, ds.qrels[qid], 100))
        figures[m] = {"ndcg@10": round(sum(nd) / len(nd), 4), "recall@100": round(sum(rc) / len(rc), 4)}
        rows.append([m, figures[m]["ndcg@10"], figures[m]["recall@100"]])
    print_table(f"Fusion variants on {ds.name} ({len(runs)} queries)", ["method", "nDCG@10", "Recall@100"], rows)
    final_json({"dataset": ds.name, "methods": figures})


if __name__ == "__main__":
    main()
