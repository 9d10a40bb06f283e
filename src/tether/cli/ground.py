"""`tether ground verify PAIRS.jsonl`: the shipped verifier's verdict on claim/evidence pairs.

Why: lets an operator check the entailment verdicts on their own material (and reviewers
check a disputed answer sentence) without running the answer pipeline. Input: one
``{"claim": str, "evidence": str}`` per line, optionally ``"question": str``; output: one
result per input line, in input order. A bad line (not JSON, not an object, a missing, empty or
non-string field, a blank line) gets an error entry of its own and the other lines go on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from tether.cli._common import JSON_OPT, handle_errors, out_console, print_json
from tether.errors import InvalidInput

app = typer.Typer(help="Grounding tools: check claims against evidence.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Grounding tools: check claims against evidence."""


@app.command("verify")
def verify(
    pairs: Path = typer.Argument(..., help='JSONL file: {"claim", "evidence"[, "question"]} per line.'),
    model: Path = typer.Option(None, "--model", help="Verifier folder (default: the shipped model)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Verdict (supported / unsupported / contradicted) for each claim against its evidence."""
    _verify(pairs, model, as_json=as_json)


def parse_line(line: str) -> dict[str, Any]:
    """The fields of one input line; raises InvalidInput saying what is wrong with it."""
    if not line.strip():
        raise InvalidInput("empty line")
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise InvalidInput(f"expected a JSON object, got {type(row).__name__}")
    out: dict[str, Any] = {}
    for key in ("claim", "evidence"):
        value = row.get(key)
        if value is None:
            raise InvalidInput(f'missing field "{key}"')
        if not isinstance(value, str):
            raise InvalidInput(f'"{key}" must be a string, got {type(value).__name__}')
        if not value.strip():
            raise InvalidInput(f'"{key}" is empty')
        out[key] = value
    question = row.get("question")
    if question is not None and not isinstance(question, str):
        raise InvalidInput(f'"question" must be a string, got {type(question).__name__}')
    out["question"] = question.strip() if isinstance(question, str) and question.strip() else None
    return out


def verify_lines(lines: list[str], verifier: Any) -> list[dict[str, Any]]:
    """One entry per line (1-based ``line``): a verdict, or ``{"line", "error"}``."""
    results: list[dict[str, Any] | None] = [None] * len(lines)
    good: list[tuple[int, dict[str, Any]]] = []
    for i, line in enumerate(lines):
        try:
            good.append((i, parse_line(line)))
        except InvalidInput as exc:
            results[i] = {"line": i + 1, **exc.to_dict()}
    if good:
        rows = [r for _, r in good]
        verdicts = verifier.entailment([r["claim"] for r in rows], [r["evidence"] for r in rows],
                                       [r["question"] for r in rows])
        asked = [(k, r) for k, r in enumerate(rows) if r["question"]]
        answers = verifier.answer_scores_pairs([(r["question"], r["evidence"]) for _, r in asked]) if asked else []
        answer_of = {k: a for (k, _), a in zip(asked, answers)}
        for k, ((i, _), v) in enumerate(zip(good, verdicts)):
            probabilities = {name: v[name] for name in ("entailed", "contradicted", "not_stated")}
            entry: dict[str, Any] = {"line": i + 1, "verdict": v["verdict"], "score": v["score"],
                                     "probabilities": probabilities}
            if k in answer_of:
                entry["answers_question"] = round(answer_of[k], 6)
            results[i] = entry
    return [r for r in results if r is not None]


@handle_errors
def _verify(pairs: Path, model: Path | None, *, as_json: bool) -> None:
    from tether.ground.verifier import Verifier

    if not pairs.is_file():
        raise InvalidInput(f"no such file: {pairs}")
    try:
        text = pairs.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{pairs} is not UTF-8 text") from None
    verifier = Verifier.load(model)
    results = verify_lines(text.splitlines(), verifier)
    counts: dict[str, int] = {}
    for r in results:
        key = r.get("verdict", "error")
        counts[key] = counts.get(key, 0) + 1
    if as_json:
        thresholds = {"entailed": verifier.thresholds.entailed,
                      "entailed_question": verifier.thresholds.entailed_question}
        print_json({"results": results, "summary": counts, "thresholds": thresholds})
        return
    table = Table("line", "verdict", "score", "detail")
    for r in results:
        if "error" in r:
            table.add_row(str(r["line"]), "[red]error[/red]", "", r["error"]["message"])
        else:
            p = r["probabilities"]
            table.add_row(str(r["line"]), r["verdict"], f"{r['score']:.3f}",
                          f"contradicted {p['contradicted']:.3f}, not stated {p['not_stated']:.3f}")
    out_console.print(table)
    out_console.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
