"""Evaluation runs and their reports over HTTP (admins only: a run holds answers asked as many
different principals, so its report may quote documents the viewer could not read)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse

from tether.api.auth import admin_principal, get_engine
from tether.evaluate import report
from tether.evaluate import store as eval_store

router = APIRouter(prefix="/v1/eval", tags=["evaluation"], dependencies=[Depends(admin_principal)])


@router.get("/runs", summary="Evaluation runs, newest first (admins)")
def list_runs(request: Request, name: str | None = None, limit: int = 50):
    with get_engine(request).db.connection() as conn:
        rows = eval_store.list_runs(conn, name=name, limit=min(max(limit, 1), 500))
    return JSONResponse(jsonable_encoder({"runs": rows}))


@router.get("/runs/{run_id}", summary="One run's whole document (metrics, slices, cases)")
def get_run(run_id: int, request: Request):
    with get_engine(request).db.connection() as conn:
        doc = eval_store.run_documents(conn, run_id, history=1)[-1]
    return JSONResponse(jsonable_encoder(doc))


@router.get("/runs/{run_id}/report", summary="The HTML report of a run beside up to 4 earlier runs of its set",
            response_class=HTMLResponse)
def run_report(run_id: int, request: Request, history: int = 5):
    with get_engine(request).db.connection() as conn:
        docs = eval_store.run_documents(conn, run_id, history=min(max(history, 1), 20))
    return HTMLResponse(report.render(docs, trace_url="/ui/traces/{id}", back="/ui/eval"))
