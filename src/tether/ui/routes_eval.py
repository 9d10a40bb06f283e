"""Evaluation pages: the list of runs with a pass-rate chart, and each run's HTML report
(admins only, like the API: a report quotes answers asked as other principals)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tether.api.auth import get_engine
from tether.errors import NotFound
from tether.evaluate import report
from tether.evaluate import store as eval_store

router = APIRouter(include_in_schema=False)


def _admin(request: Request):
    from tether.ui.routes import _principal

    return _principal(request)


@router.get("/ui/eval")
def eval_runs(request: Request) -> Response:
    from tether.ui.routes import _page

    me = _admin(request)
    if me is None:
        return RedirectResponse("/ui/sign-in", status_code=303)
    if not me.is_admin:
        return _page(request, "not_found.html", me, status=404)
    with get_engine(request).db.connection() as conn:
        runs = eval_store.list_runs(conn, limit=100)
    chronological = list(reversed(runs))
    chart = report.bar_chart("pass_rate", [r["run_key"][-8:] for r in chronological],
                             [r["metrics"].get("pass_rate") for r in chronological]) if runs else ""
    return _page(request, "eval.html", me, runs=runs, chart=chart)


@router.get("/ui/eval/{run_id}")
def eval_report(request: Request, run_id: int) -> Response:
    from tether.ui.routes import _page

    me = _admin(request)
    if me is None:
        return RedirectResponse("/ui/sign-in", status_code=303)
    if not me.is_admin:
        return _page(request, "not_found.html", me, status=404)
    try:
        with get_engine(request).db.connection() as conn:
            docs = eval_store.run_documents(conn, run_id)
    except NotFound:
        return _page(request, "not_found.html", me, status=404)
    return HTMLResponse(report.render(docs, trace_url="/ui/traces/{id}", back="/ui/eval"))
