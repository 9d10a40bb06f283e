"""`tether eval ...`: measure retrieval (and, as they land, answers) on data sets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tether.cli._common import JSON_OPT, err_console, handle_errors, out_console, print_json, settings

app = typer.Typer(help="Evaluate Tether on data sets.", no_args_is_help=True)


@app.command("retrieval")
def retrieval(
    dataset: Path = typer.Option(..., "--dataset", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv"),
    limit_queries: int = typer.Option(0, "--limit-queries", help="Evaluate only the first N queries (0: all)."),
    modes: str = typer.Option("bm25,dense,hybrid,hybrid+rerank", "--modes"),
    keep: bool = typer.Option(False, "--keep", help="Keep the scratch database."),
    as_json: bool = JSON_OPT,
) -> None:
    """Index DATASET into a scratch database and compare bm25, dense, hybrid and hybrid+rerank."""
    _retrieval(dataset, limit_queries, modes, keep, as_json=as_json)


@handle_errors
def _retrieval(dataset: Path, limit_queries: int, modes: str, keep: bool, *, as_json: bool) -> None:
    import time

    from tether.embed.base import make_embedder
    from tether.evaluate.beir import BeirDataset
    from tether.evaluate.retrieval import MODES, index_dataset, run_queries
    from tether.retrieve.rerank import make_reranker
    from tether.store.db import Database, scratch_database

    wanted = tuple(m.strip() for m in modes.split(",") if m.strip())
    bad = [m for m in wanted if m not in MODES]
    if bad:
        from tether.errors import InvalidInput

        raise InvalidInput(f"unknown modes {bad}; valid modes: {', '.join(MODES)}")
    s = settings()
    ds = BeirDataset.load(dataset)
    if limit_queries:
        keepq = sorted(ds.queries)[:limit_queries]
        ds.queries = {q: ds.queries[q] for q in keepq}
    embedder = make_embedder(s.embed)
    reranker = make_reranker(s.retrieve, embedder) if "hybrid+rerank" in wanted else None
    with scratch_database(s, keep=keep) as url, Database(url, min_size=1, max_size=2).open() as db:
        cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*cols, console=err_console, disable=as_json) as prog:
            t0 = time.perf_counter()
            task = prog.add_task(f"indexing {ds.name}", total=len(ds.corpus))
            counts = index_dataset(db, embedder, s, ds, progress=lambda n: prog.update(task, completed=n))
            index_s = time.perf_counter() - t0
            task = prog.add_task("querying", total=len(ds.queries))
            results = run_queries(db, embedder, s, ds, wanted, reranker=reranker,
                                  progress=lambda n: prog.update(task, completed=n))
    figures = {m: r.to_dict() for m, r in results.items()}
    doc = {"dataset": ds.name, "documents": counts["documents"], "chunks": counts["chunks"],
           "queries": len(ds.queries), "index_seconds": round(index_s, 1), "modes": figures}
    if as_json:
        print_json(doc)
        return
    table = Table("mode", "nDCG@10", "Recall@100", "MRR@10", "p50 ms", "p95 ms", title=f"{ds.name}: {len(ds.queries)} queries, {counts['documents']} docs, {counts['chunks']} chunks")
    for m, f in figures.items():
        table.add_row(m, f"{f['ndcg@10']:.4f}", f"{f['recall@100']:.4f}", f"{f['mrr@10']:.4f}", f"{f['p50_ms']:.1f}", f"{f['p95_ms']:.1f}")
    out_console.print(table)
