"""Persist eval runs: one ``eval_runs`` row per run, one ``eval_results`` row per asked case."""

from __future__ import annotations

import json

from tether.evaluate.runner import Phase, RunResult


def save_run(db, result: RunResult, *, gate: dict | None = None, passed: bool | None = None) -> int:
    doc = result.to_dict()
    with db.transaction() as conn:
        row = conn.execute(
            "INSERT INTO eval_runs (run_key, name, source, model, started_at, finished_at, config, metrics,"
            " slices, gate, passed, doc) VALUES (%s, %s, %s, %s, %s, now(), %s, %s, %s, %s, %s, %s) RETURNING id",
            (result.run_id, doc["name"], doc["source"], doc["model"], doc["started_at"],
             json.dumps({**doc["config"], "stability": doc["stability"], "after_update": _brief(doc["after_update"])}),
             json.dumps(doc["metrics"]), json.dumps(doc["slices"]),
             json.dumps(gate) if gate is not None else None, passed, json.dumps(doc, default=str)),
        ).fetchone()
        run_id = int(row["id"])
        _write_phase(conn, run_id, "run", result, result.run)
        if result.after_update is not None:
            _write_phase(conn, run_id, "after_update", result, result.after_update)
    return run_id


def _brief(after: dict | None) -> dict | None:
    return None if after is None else {k: after[k] for k in ("updated_uris", "changed", "updated_cases", "metrics")}


def _write_phase(conn, run_id: int, phase: str, result: RunResult, data: Phase) -> None:
    rows = []
    for rep, (outs, scores) in enumerate(zip(data.outcomes, data.scores)):
        for case, out, sc in zip(result.golden.cases, outs, scores):
            rows.append((run_id, phase, rep, case.id, case.principal, case.question, sc.passed,
                         json.dumps(out.to_dict()), json.dumps(sc.to_dict())))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO eval_results (run_id, phase, repeat, case_id, principal, question, passed, outcome, metrics)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)


def list_runs(conn, *, name: str | None = None, limit: int = 50) -> list[dict]:
    sql = ("SELECT id, run_key, name, source, model, started_at, finished_at, metrics, passed,"
           " gate IS NOT NULL AS gated, doc IS NOT NULL AS has_report FROM eval_runs")
    params: list[object] = []
    if name:
        sql += " WHERE name = %s"
        params.append(name)
    return conn.execute(sql + " ORDER BY started_at DESC, id DESC LIMIT %s", [*params, limit]).fetchall()


def run_documents(conn, run_id: int, *, history: int = 5) -> list[dict]:
    """The run's document and up to ``history - 1`` earlier runs of the same set, oldest first
    (what ``report.render`` takes). Raises NotFound for an unknown id or a run stored without one."""
    from tether.errors import NotFound

    row = conn.execute("SELECT name, started_at, doc FROM eval_runs WHERE id = %s", (run_id,)).fetchone()
    if row is None or row["doc"] is None:
        raise NotFound(f"no eval run {run_id} with a stored report")
    earlier = conn.execute(
        "SELECT doc FROM eval_runs WHERE name = %s AND doc IS NOT NULL AND (started_at, id) < (%s, %s)"
        " ORDER BY started_at DESC, id DESC LIMIT %s", (row["name"], row["started_at"], run_id, history - 1),
    ).fetchall()
    return [r["doc"] for r in reversed(earlier)] + [row["doc"]]
