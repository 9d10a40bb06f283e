"""Evaluation runs and their reports over HTTP (admins only: a run holds answers asked as many
different principals, so its report may quote documents the viewer could not read)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse

from tether.api.auth import admin_principal, get_engine
from tether.evaluate import report
from tether.types import Principal

router = APIRouter(prefix="/v1/eval", tags=["evaluation"], dependencies=[Depends(admin_principal)])


@router.get("/runs", summary="Evaluation runs, newest first (admins)")
def list_runs(request: Request, name: str | None = None, limit: int = Query(50, ge=1, le=1000),
              me: Principal = Depends(admin_principal)):
    return JSONResponse(jsonable_encoder({"runs": get_engine(request).evaluations.runs(me, name=name, limit=limit)}))


@router.get("/runs/{run_id}", summary="One run's whole document (metrics, slices, cases)")
def get_run(run_id: int, request: Request, me: Principal = Depends(admin_principal)):
    return JSONResponse(jsonable_encoder(get_engine(request).evaluations.documents(me, run_id, history=1)[-1]))


@router.get("/runs/{run_id}/report", summary="The HTML report of a run beside up to 4 earlier runs of its set",
            response_class=HTMLResponse)
def run_report(run_id: int, request: Request, history: int = Query(5, ge=1, le=20),
               me: Principal = Depends(admin_principal)):
    docs = get_engine(request).evaluations.documents(me, run_id, history=history)
    return HTMLResponse(report.render(docs, trace_url="/ui/traces/{id}", back="/ui/eval"))
