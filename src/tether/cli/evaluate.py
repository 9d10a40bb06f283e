"""`tether eval ...`: measure retrieval (and, as they land, answers) on data sets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tether.cli._common import JSON_OPT, err_console, handle_errors, out_console, print_json, settings

if TYPE_CHECKING:
    from tether.ingest.bulk import TextItem

app = typer.Typer(help="Evaluate Tether on data sets.", no_args_is_help=True)


@app.command("retrieval")
def retrieval(
    dataset: Path = typer.Option(..., "--dataset", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv"),
    limit_queries: int = typer.Option(0, "--limit-queries", help="Evaluate only the first N queries (0: all)."),
    modes: str = typer.Option("bm25,dense,hybrid,hybrid+rerank", "--modes"),
    keep: bool = typer.Option(False, "--keep", help="Keep the scratch database."),
    db_url: str = typer.Option("", "--db-url", help="Reuse a database kept by an earlier --keep run."),
    as_json: bool = JSON_OPT,
) -> None:
    """Index DATASET into a scratch database and compare bm25, dense, hybrid and hybrid+rerank."""
    _retrieval(dataset, limit_queries, modes, keep, db_url, as_json=as_json)


@handle_errors
def _retrieval(dataset: Path, limit_queries: int, modes: str, keep: bool, db_url: str, *, as_json: bool) -> None:
    import time

    from tether.embed.base import make_embedder
    from tether.evaluate.beir import BeirDataset
    from tether.evaluate.retrieval import MODES, index_dataset, run_queries
    from tether.retrieve.rerank import make_reranker
    from tether.services.evaluations import corpus_size, retrieval_database

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
    reranker = make_reranker(s.retrieve, embedder, os.environ) if "hybrid+rerank" in wanted else None
    with retrieval_database(s, keep=keep, url=db_url) as db:
        cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*cols, console=err_console, disable=as_json) as prog:
            t0 = time.perf_counter()
            task = prog.add_task(f"indexing {ds.name}", total=len(ds.corpus))
            have = corpus_size(db) if db_url else None
            if have is not None and have["documents"] == len(ds.corpus):
                counts = have  # already indexed
            else:
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
    title = f"{ds.name}: {len(ds.queries)} queries, {counts['documents']} docs, {counts['chunks']} chunks"
    table = Table("mode", "nDCG@10", "Recall@100", "MRR@10", "p50 ms", "p95 ms", title=title)
    for m, f in figures.items():
        table.add_row(m, f"{f['ndcg@10']:.4f}", f"{f['recall@100']:.4f}", f"{f['mrr@10']:.4f}", f"{f['p50_ms']:.1f}",
                      f"{f['p95_ms']:.1f}")
    out_console.print(table)


# --- golden sets: run, gate, report -----------------------------------------------------------

DEMO_MANIFEST = Path(__file__).resolve().parents[3] / "demo" / "manifest.json"


@app.command("run")
def run(
    golden: Path = typer.Argument(None, help="Golden YAML file (omit with --adapter)."),
    as_setup: str = typer.Option("", "--as-setup",
                                 help="Set up a corpus first: 'demo' or a manifest.json path (idempotent)."),
    baseline: Path = typer.Option(None, "--baseline", help="Run JSON to compare with; regressions exit 1."),
    fail_under: list[str] = typer.Option([], "--fail-under",
                                         help="METRIC=VALUE floor (ceiling for lower-is-better metrics)."),
    tolerance: list[str] = typer.Option([], "--tolerance",
                                        help="METRIC=VALUE allowed drift vs baseline (0.02, or 10%)."),
    repeat: int = typer.Option(1, "--repeat", min=1,
                               help="Ask every case N times; report agreement and unstable cases."),
    after_update: Path = typer.Option(None, "--after-update",
                                      help="Folder of changed documents to re-ingest, then rerun."),
    out: Path = typer.Option(None, "--out", help="Write the run JSON here."),
    model: str = typer.Option(None, "--model", help="Configured model name (default: the default model)."),
    scratch: bool = typer.Option(False, "--scratch", help="Run in a fresh scratch database, dropped afterwards."),
    adapter: str = typer.Option("", "--adapter", help="Public benchmark instead of a golden file: halueval | legal."),
    adapter_data: Path = typer.Option(None, "--adapter-data", help="JSONL file or folder for --adapter."),
    limit: int = typer.Option(0, "--limit", help="Only the first N cases (0: all)."),
    cases: str = typer.Option("", "--cases", help="Comma-separated case ids to run."),
    store: bool = typer.Option(True, "--store/--no-store", help="Record the run in eval_runs / eval_results."),
    judge: str = typer.Option("", "--judge", help="LLM-as-judge model name (off by default; labelled judge:*)."),
    research: bool = typer.Option(False, "--research", help="Ask every single-turn case in research mode."),
    as_json: bool = JSON_OPT,
) -> None:
    """Run a golden set through the engine as each case's principal, score it, gate it."""
    code = _run(golden, as_setup, baseline, fail_under, tolerance, repeat, after_update, out, model, scratch,
                adapter, adapter_data, limit, cases, store, judge, as_json=as_json,
                mode="research" if research else "plain")
    if code:
        raise typer.Exit(code)


@handle_errors
def _run(golden, as_setup, baseline, fail_under, tolerance, repeat, after_update, out, model, scratch,
         adapter, adapter_data, limit, cases, store, judge, *, as_json: bool, mode: str = "plain") -> int:
    import contextlib
    import json
    import os
    import time

    from tether.engine import Tether
    from tether.errors import InvalidInput
    from tether.evaluate import gate as gates
    from tether.evaluate.golden import load_golden
    from tether.evaluate.runner import _round, apply_updates, forbidden_canaries, run_golden, setup_demo
    from tether.services.evaluations import scratch_settings
    from tether.types import Principal

    if bool(golden) == bool(adapter):
        raise InvalidInput("give either a golden file or --adapter NAME")
    fails = gates.parse_pairs(fail_under, "--fail-under")
    tols = {k: (v if v.endswith("%") else float(v)) for k, v in gates.parse_pairs(tolerance, "--tolerance").items()}
    base = None
    if baseline is not None:
        try:
            base = json.loads(baseline.read_text(encoding="utf-8"))["metrics"]
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidInput(f"cannot read baseline {baseline}: {exc}") from exc
    manifest = None
    if as_setup:
        manifest = DEMO_MANIFEST if as_setup == "demo" else Path(as_setup)
    if after_update is not None and manifest is None:
        manifest = DEMO_MANIFEST
    items: list[TextItem] = []
    if adapter:
        from tether.evaluate.adapters import load_adapter

        gs, items = load_adapter(adapter, adapter_data, limit)
        scratch = True
        source = f"adapter:{adapter}"
    else:
        gs = load_golden(golden).select([c for c in cases.split(",") if c] or None, limit)
        source = str(golden)
    s = settings()
    with contextlib.ExitStack() as stack:
        if scratch:
            s = stack.enter_context(scratch_settings(s))
        t = stack.enter_context(Tether(s, secrets=os.environ))
        cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        prog = stack.enter_context(Progress(*cols, console=err_console, disable=as_json))
        t0 = time.perf_counter()
        if manifest is not None:
            task = prog.add_task("setting up corpus", total=None)
            setup_demo(t, manifest)
            prog.update(task, total=1, completed=1)
        if items:
            from tether.evaluate.adapters import PRINCIPAL

            task = prog.add_task(f"indexing {adapter}", total=len(items))
            t.evaluations.index_texts(Principal.system(), t.embedder, s, items, reader=PRINCIPAL,
                                      collection=f"eval-{adapter}", progress=lambda n: prog.update(task, completed=n))
        t_setup = time.perf_counter() - t0
        total = len(gs.cases) * repeat + (len(gs.cases) if after_update is not None else 0)
        task = prog.add_task(f"asking {gs.name}", total=total)
        updater = (lambda: apply_updates(t, manifest, after_update)) if after_update is not None else None
        judge_impl = None
        if judge:
            from tether.evaluate.judge import LlmJudge

            judge_impl = LlmJudge(t.generator(judge)[1])
        result = run_golden(t, gs, source=source, model=model, repeat=repeat, after_update=updater,
                            progress=lambda n: prog.update(task, completed=n), judge=judge_impl,
                            forbidden=forbidden_canaries(manifest) if manifest is not None else None, mode=mode,
                            config={"repeat": repeat, "after_update": str(after_update) if after_update else None,
                                    "setup": as_setup or None, "scratch": scratch, "setup_s": round(t_setup, 1)})
        findings = (gates.compare(_round(result.metrics), base, tolerances=tols, fail_under=fails)  # as stored
                    if (base or fails) else [])
        bad = gates.failed(findings)
        gate_doc = {"baseline": str(baseline) if baseline else None, "findings": [f.to_dict() for f in findings],
                    "passed": not bad} if findings else None
        doc = result.to_dict()
        doc["gate"] = gate_doc
        if store:
            doc["db_run_id"] = t.evaluations.save(Principal.system(), result, gate=gate_doc,
                                                  passed=None if gate_doc is None else not bad)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        print_json({k: doc[k] for k in ("run_id", "name", "model", "duration_s", "config", "metrics", "slices",
                                        "stability", "after_update", "answerability_curve", "gate")})
    else:
        _print_run(doc, findings)
    return 1 if bad else 0


def _print_run(doc: dict, findings: list) -> None:
    from tether.evaluate.report import SLICE_COLUMNS

    by_metric: dict[str, list] = {}
    for f in findings:
        by_metric.setdefault(f.metric, []).append(f)
    table = Table("metric", "value", "baseline", "limit", "status",
                  title=f"{doc['name']}: {len(doc['cases'])} cases, {doc['duration_s']:.1f} s ({doc['model']})")
    for m, v in doc["metrics"].items():
        if m == "cases":
            continue
        fs = by_metric.get(m, [])
        base = next((f.baseline for f in fs if f.baseline is not None), None)
        lim = ", ".join(f"{f.limit:.4g}" for f in fs if f.limit is not None)
        status = ", ".join(sorted({f.kind for f in fs})) or ""
        style = "red" if any(f.kind in ("regression", "fail_under") for f in fs) else ""
        table.add_row(m, _f(v), _f(base), lim, f"[{style}]{status}[/{style}]" if style else status)
    out_console.print(table)
    short = {"cases": "n", "pass_rate": "pass", "recall@10": "R@10", "key_fact_recall": "facts",
             "citation_precision": "cite P", "groundedness": "grnd", "hallucination_rate": "halluc",
             "abstention_recall": "abst R", "block_recall": "block R", "compliance_failures": "leaks"}
    st = Table("slice", *(short[c] for c in SLICE_COLUMNS), title="per slice")
    st.columns[0].no_wrap = True
    for name, figs in doc["slices"].items():
        st.add_row(name, *(str(int(figs[c])) if c in ("cases", "compliance_failures") and figs.get(c) is not None
                           else _f(figs.get(c)) for c in SLICE_COLUMNS))
    out_console.print(st)
    if doc.get("answerability_curve"):
        from tether.evaluate.curve import curve_table

        cv = doc["answerability_curve"]
        ct = Table("threshold", "coverage", "wrongly abstained", "abstention recall",
                   title=f"answerability gate: {cv['answerable_cases']} answerable, {cv['abstain_cases']} must-abstain "
                         f"cases (* = this run; {cv['note']})")
        for row in curve_table(cv):
            ct.add_row(*row)
        out_console.print(ct)
    failing = [c["id"] for c in doc["cases"] if not c["score"]["passed"]]
    out_console.print(f"failing cases ({len(failing)}): {', '.join(failing) or 'none'}")
    if doc.get("stability"):
        s = doc["stability"]
        out_console.print(f"stability over {s['repeats']} repeats: answer agreement {s['answer_agreement']}, "
                          f"citation agreement {s['citation_agreement']}; "
                          f"unstable: {', '.join(s['unstable']) or 'none'}")
    if doc.get("after_update"):
        a = doc["after_update"]
        out_console.print(f"after update ({', '.join(a['updated_uris'])}): "
                          f"answers changed: {', '.join(a['changed']) or 'none'}")
        for u in a["updated_cases"]:
            out_console.print(f"  {u['id']}: before {'pass' if u['passed_before'] else 'fail'}, after "
                              f"{'pass' if u['passed_after'] else 'fail'}{'; stale fact' if u['stale'] else ''}"
                              f"{'; missing ' + ', '.join(u['facts_missing']) if u['facts_missing'] else ''}")
    if doc.get("gate"):
        failed = ", ".join(f"{f['metric']} {f['kind']} ({_f(f['current'])} vs limit {_f(f['limit'])})"
                           for f in doc["gate"]["findings"] if f["kind"] in ("regression", "fail_under"))
        err_console.print("[green]gate passed[/green]" if doc["gate"]["passed"]
                          else "[red]gate FAILED[/red]: " + failed)


def _f(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


@app.command("report")
def report(
    runs: list[Path] = typer.Argument(..., help="Run JSON files (oldest first)."),
    html: Path = typer.Option(..., "--html", help="Write the standalone HTML report here."),
) -> None:
    """Render run JSON files as one standalone HTML report (inline SVG charts)."""
    _report(runs, html)


@handle_errors
def _report(runs: list[Path], html: Path) -> None:
    from tether.evaluate.report import load_runs, render

    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(render(load_runs(runs)), encoding="utf-8")
    err_console.print(f"wrote {html}")
