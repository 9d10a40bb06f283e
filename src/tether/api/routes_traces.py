"""Request traces over HTTP, and the drift monitors for administrators.

* ``GET /v1/traces``: the caller's own traces, newest first; administrators see everyone's and
  may filter by ``principal``; anyone may filter by ``status``.
* ``GET /v1/traces/{id}``: one trace with its span tree and model calls, for the asker or an
  administrator; to anyone else it does not exist (404, the same as an unknown id). Attributes
  starting with ``admin.`` (e.g. how many chunks the permission filter removed) are shown to
  administrators only.
* ``GET /v1/monitor``, ``GET /v1/alerts``, ``POST /v1/alerts/{id}/ack``: drift figures (current
  window vs baseline) and alerts; administrators only.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from tether.api.auth import admin_principal, current_principal, get_engine
from tether.types import Principal

router = APIRouter(prefix="/v1", tags=["traces"])


def _json(data: object) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data))


@router.get("/traces", summary="Your request traces (administrators: everyone's)")
def list_traces(request: Request, principal: str | None = Query(None, description="Administrators: this user's"),
                status: str | None = Query(None, description="answered, abstained, blocked, error, ..."),
                limit: int = Query(50, ge=1, le=500), me: Principal = Depends(current_principal)):
    return _json({"traces": get_engine(request).traces.list(me, principal=principal, status=status, limit=limit)})


@router.get("/traces/{trace_id}", summary="One trace: spans, decisions, model calls")
def get_trace(trace_id: str, request: Request, me: Principal = Depends(current_principal)):
    return _json(get_engine(request).traces.get(me, trace_id))


@router.get("/monitor", summary="Drift figures vs baseline and open alerts (administrators)")
def monitor(request: Request, hours: int = Query(24, ge=1, le=24 * 14), me: Principal = Depends(admin_principal)):
    report = get_engine(request).traces.monitor(me, hours=hours)
    return _json({k: report[k] for k in ("windows", "min_samples", "figures", "open", "hourly")})


@router.get("/alerts", summary="Drift alerts, newest first (administrators)")
def alerts(request: Request, open_only: bool = Query(False, alias="open"), limit: int = Query(100, ge=1, le=1000),
           me: Principal = Depends(admin_principal)):
    return _json({"alerts": get_engine(request).traces.alerts(me, open_only=open_only, limit=limit)})


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert (administrators)")
def acknowledge(alert_id: int, request: Request, me: Principal = Depends(admin_principal)):
    return _json(get_engine(request).traces.acknowledge(me, alert_id))
