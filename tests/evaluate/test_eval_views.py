"""Eval runs stored with their document render as reports in the API and the UI (admins only)."""

from __future__ import annotations

import httpx
from api.server import LiveServer, module_database, seed, ui_sign_in

from tether.engine import Tether
from tether.evaluate.answers import Outcome
from tether.evaluate.golden import parse_golden
from tether.evaluate.runner import Phase, RunResult, _score
from tether.evaluate.store import save_run

CASES = parse_golden({"name": "mini", "cases": [
    {"id": "leave", "question": "How many days of leave?", "as": "eve", "key_facts": ["27 days"],
     "tags": {"topic": "handbook"}},
]})


def _result(run_id: str, text: str, trace: str) -> RunResult:
    outs = [Outcome("leave", text=text, sentences=[{"text": text, "verdict": "supported"}], latency_ms=50.0,
                    trace_id=trace)]
    scores = [_score(c, o, False) for c, o in zip(CASES.cases, outs)]
    return RunResult(CASES, "mini.yaml", "extractive", Phase([outs], [scores]), "2026-01-01T00:00:00+00:00", 1.0,
                     run_id=run_id)


def test_reports_in_api_and_ui_for_admins_only(pg_server, template_db, tmp_path):
    with module_database(pg_server, template_db, tmp_path / "data") as settings:
        engine = Tether(settings)
        try:
            keys = seed(engine, tmp_path / "docs")
            first = save_run(engine.db, _result("run-a", "Leave is 20 days.", "a" * 32))
            second = save_run(engine.db, _result("run-b", "Employees accrue 27 days.", "b" * 32))
            with LiveServer(engine) as server:
                admin = {"Authorization": f"Bearer {keys['root']}"}
                member = {"Authorization": f"Bearer {keys['eve']}"}
                runs = httpx.get(server.url + "/v1/eval/runs", headers=admin).json()["runs"]
                assert [r["id"] for r in runs] == [second, first] and runs[0]["has_report"]
                assert httpx.get(server.url + "/v1/eval/runs", headers=member).status_code == 403
                assert httpx.get(server.url + f"/v1/eval/runs/{second}/report", headers=member).status_code == 403
                html = httpx.get(server.url + f"/v1/eval/runs/{second}/report", headers=admin).text
                # both runs in the across-runs table, the latest case with its trace link into the UI
                assert "run-a" in html and "run-b" in html and f'href="/ui/traces/{"b" * 32}"' in html
                assert "Employees accrue 27 days." in html
                doc = httpx.get(server.url + f"/v1/eval/runs/{first}", headers=admin).json()
                assert doc["run_id"] == "run-a" and doc["cases"][0]["id"] == "leave"
                missing = httpx.get(server.url + "/v1/eval/runs/999999/report", headers=admin)
                assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
                with httpx.Client(base_url=server.url) as ui:
                    ui_sign_in(ui, keys["root"])
                    page = ui.get("/ui/eval")
                    assert page.status_code == 200 and "run-b" in page.text and "<svg" in page.text
                    assert "Employees accrue" in ui.get(f"/ui/eval/{second}").text
                with httpx.Client(base_url=server.url) as ui:
                    ui_sign_in(ui, keys["eve"])
                    assert ui.get("/ui/eval").status_code == 404
                    assert ui.get(f"/ui/eval/{second}").status_code == 404
        finally:
            engine.close()
