"""`tether guard scan FILE.jsonl --kind injection|pii`: run a guard over a file of texts.

Why: lets operators try thresholds and policies on their own data before turning a guard on,
and is how the labelled sets in ``bench/`` are checked by hand. Input: one ``{"text": ...}``
per line; an optional ``label`` (1/true = positive) adds recall and false-positive rate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tether.cli._common import JSON_OPT, err_console, handle_errors, out_console, print_json, settings
from tether.errors import InvalidInput
from tether.settings import GuardSettings

app = typer.Typer(help="Injection and PII/secret guards.", no_args_is_help=True)

_BATCH = 64


@app.callback()
def _group() -> None:
    """Injection and PII/secret guards."""


def _guard_settings() -> GuardSettings:
    return getattr(settings(), "guard", None) or GuardSettings()


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InvalidInput(f'{path}:{n}: expected an object with a "text" string')
        rows.append(row)
    return rows


def _label(row: dict[str, Any]) -> int | None:
    value = row.get("label")
    if value is None:
        return None
    if isinstance(value, str):
        return int(value.strip().lower() in ("1", "true", "yes", "injection", "pii", "secret", "positive"))
    return int(bool(value))


def _scan(rows: list[dict[str, Any]], kind: str, gs: GuardSettings, mode: str,
          stage: str = "input") -> tuple[list[dict[str, Any]], float | None]:
    from tether.guard.injection import InjectionGuard
    from tether.guard.pii import PiiDetector

    results: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True, disable=len(rows) < 200) as bar:
        task = bar.add_task(f"scanning ({kind})", total=len(rows))
        cut = None
        if kind == "injection":
            guard = InjectionGuard(gs, "input", at=stage)
            cut = guard.classifier_threshold if gs.injection_mode != "heuristics" else guard.threshold
            for i in range(0, len(rows), _BATCH):
                batch = [r["text"] for r in rows[i : i + _BATCH]]
                for clf, heur, hits in guard.scores(batch):
                    score = max(clf, heur)
                    results.append({
                        "label": "injection" if guard.flagged(clf, heur) else "benign",
                        "score": round(score, 4), "classifier": round(clf, 4), "heuristics": round(heur, 4),
                        "rules": sorted({h.name for h in hits}),
                        "entities": [{"type": h.name, "start": h.start, "end": h.end} for h in hits],
                    })
                bar.advance(task, len(batch))
        else:
            detector = PiiDetector(gs, mode=mode)
            for row in rows:
                ents = detector.detect(row["text"])
                results.append({
                    "label": "pii" if ents else "clean",
                    "score": round(max((e.score for e in ents), default=0.0), 4),
                    "entities": [e.to_dict() for e in ents],
                })
                bar.advance(task)
    for n, (row, res) in enumerate(zip(rows, results), 1):
        res["line"] = n
        gold = _label(row)
        if gold is not None:
            res["gold"] = gold
    return results, cut


def _summary(results: list[dict[str, Any]], kind: str, threshold: float | None) -> dict[str, Any]:
    positive = "injection" if kind == "injection" else "pii"
    summary: dict[str, Any] = {"kind": kind, "lines": len(results),
                               "flagged": sum(r["label"] == positive for r in results)}
    if threshold is not None:
        summary["threshold"] = threshold
    labelled = [r for r in results if "gold" in r]
    if labelled:
        pos = [r for r in labelled if r["gold"] == 1]
        neg = [r for r in labelled if r["gold"] == 0]
        summary["labelled"] = len(labelled)
        summary["recall"] = round(sum(r["label"] == positive for r in pos) / len(pos), 4) if pos else None
        summary["false_positive_rate"] = (
            round(sum(r["label"] == positive for r in neg) / len(neg), 4) if neg else None
        )
    return summary


@app.command()
def scan(
    file: Path = typer.Argument(..., help="JSONL file: one {\"text\": ...} per line, optional \"label\"."),
    kind: str = typer.Option(..., "--kind", help="injection | pii"),
    threshold: float = typer.Option(None, "--threshold",
                                    help="Classifier cut for --stage (default: the model's calibrated one)."),
    stage: str = typer.Option("input", "--stage", help="Injection stage whose cut applies: input | ingest | "
                                                       "context | tool."),
    mode: str = typer.Option("", "--mode", help="PII mode: full (Presidio + regexes) | light (regexes)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Scan FILE and print one verdict per line, then a summary."""
    _run(file, kind, threshold, mode, stage, as_json=as_json)


@handle_errors
def _run(file: Path, kind: str, threshold: float | None, mode: str, stage: str = "input", *, as_json: bool) -> None:
    if kind not in ("injection", "pii"):
        raise InvalidInput(f"unknown kind {kind!r}; valid kinds: injection, pii")
    if mode not in ("", "full", "light"):
        raise InvalidInput(f"unknown mode {mode!r}; valid modes: full, light")
    if stage not in ("input", "ingest", "context", "tool"):
        raise InvalidInput(f"unknown stage {stage!r}; valid stages: input, ingest, context, tool")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InvalidInput("--threshold must be between 0 and 1")
    gs = _guard_settings()
    if threshold is not None:
        gs = gs.model_copy(update={"injection_stage_thresholds": {**gs.injection_stage_thresholds, stage: threshold}}
                           if gs.injection_model == "tether" else {"injection_threshold": threshold})
    rows = _read(file)
    results, cut = _scan(rows, kind, gs, mode or gs.pii_mode, stage)
    summary = _summary(results, kind, cut if kind == "injection" else None)
    if as_json:
        print_json({"results": results, "summary": summary})
        return
    table = Table("line", "label", "score", "gold", "found")
    for r in results:
        found = ", ".join(
            f"{e['type']}@{e['start']}-{e['end']}" for e in r["entities"]
        ) if r["entities"] else ""
        table.add_row(str(r["line"]), r["label"], f"{r['score']:.3f}", str(r.get("gold", "")), found[:80])
    out_console.print(table)
    out_console.print(" ".join(f"{k}={v}" for k, v in summary.items()))
