"""Evaluation pages: the list of runs with a pass-rate chart, and each run's HTML report
(admins only, like the API: a report quotes answers asked as other principals)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

import tether.api.csrf as csrf
from tether.api.auth import get_engine
from tether.errors import NotFound, PermissionDenied
from tether.evaluate import report
from tether.ui.pages import not_found, page, signed_in, to_sign_in

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf.require_form_token)])


@router.get("/ui/eval")
def eval_runs(request: Request) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    try:
        runs = get_engine(request).evaluations.runs(me, limit=100)
    except PermissionDenied:  # administrators only; to anyone else the page does not exist
        return not_found(request, me)
    chronological = list(reversed(runs))
    chart = report.bar_chart("pass_rate", [r["run_key"][-8:] for r in chronological],
                             [r["metrics"].get("pass_rate") for r in chronological]) if runs else ""
    return page(request, "eval.html", me, runs=runs, chart=chart)


@router.get("/ui/eval/{run_id}")
def eval_report(request: Request, run_id: int) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    try:
        docs = get_engine(request).evaluations.documents(me, run_id)
    except (NotFound, PermissionDenied):
        return not_found(request, me)
    return HTMLResponse(report.render(docs, trace_url="/ui/traces/{id}", back="/ui/eval"))
