"""Usage and budgets over HTTP, and the usage page of the web UI.

* ``GET /v1/usage?by=user|group|api_key|model|kind|day|month&since=&until=&kind=``: calls, tokens,
  cost and mean latency rolled up from the usage ledger. Administrators see everyone's (and may
  pass ``user=NAME``); anyone else sees only their own calls, whatever ``by`` says.
* ``GET /v1/budgets``, ``POST /v1/budgets``, ``DELETE /v1/budgets/{id}``: spending budgets with
  the current period's spend (administrators only; every change is audited).
* ``GET /ui/usage``: bar charts (inline SVG) of cost per day and per model, the totals and, for
  administrators, spend per user and the budgets; members see their own usage and the budgets
  whose figures are theirs alone (their user and API-key budgets).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import escape
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from tether.api.auth import admin_principal, current_principal, get_engine
from tether.api.fields import Day
from tether.types import Principal
from tether.ui.pages import page, signed_in

router = APIRouter()

By = Literal["user", "group", "api_key", "model", "kind", "day", "month"]


class NewBudget(BaseModel):
    scope: Literal["user", "group", "api_key"]
    #: The user's or group's name, or the API key's id or prefix.
    target: str = Field(min_length=1, max_length=200)
    period: Literal["day", "month"] = "month"
    limit_usd: float = Field(ge=0, lt=1_000_000)
    kind: Literal["soft", "hard"] = "hard"


def _json(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data), status_code=status)


@router.get("/v1/usage", tags=["usage"], summary="Cost and tokens rolled up (yours; administrators: everyone's)")
def get_usage(request: Request, by: By = Query("day"),
              since: Day | None = Query(None, description="UTC day, inclusive"),
              until: Day | None = Query(None, description="UTC day, inclusive"),
              user: str | None = Query(None, description="Administrators: only this user's calls"),
              kind: str | None = Query(None, description="generate | embed | rerank | guard"),
              me: Principal = Depends(current_principal)):
    return _json(get_engine(request).usage.rollup(me, by=by, since=since, until=until, user=user, kind=kind))


@router.get("/v1/budgets", tags=["usage"], summary="Budgets with the current period's spend (administrators)",
            dependencies=[Depends(admin_principal)])
def list_budgets(request: Request, me: Principal = Depends(admin_principal)):
    return _json({"budgets": get_engine(request).usage.budgets(me)})


@router.post("/v1/budgets", tags=["usage"], status_code=201,
             summary="Create or change a budget (same scope, target, period and kind: changed)")
def set_budget(body: NewBudget, request: Request, me: Principal = Depends(admin_principal)):
    b = get_engine(request).usage.set_budget(me, scope=body.scope, target=body.target, period=body.period,
                                             limit_usd=body.limit_usd, kind=body.kind, via="api")
    return _json(b, 201 if b["created"] else 200)


@router.delete("/v1/budgets/{budget_id}", tags=["usage"], summary="Delete a budget and its ledger")
def delete_budget(budget_id: int, request: Request, me: Principal = Depends(admin_principal)):
    get_engine(request).usage.delete_budget(me, budget_id, via="api")
    return {"deleted": budget_id}


# the web UI ----------------------------------------------------------------------------------------
def bar_chart(title: str, labels: list[str], values: list[float], *, testid: str = "", width: int = 640,
              height: int = 200) -> str:
    """A vertical bar chart as inline SVG (no script, no external asset): one bar per label,
    each with a tooltip; the axis shows the maximum."""
    pad_l, pad_b, pad_t = 64, 42, 24
    top = max([*values, 0.0]) or 1.0
    n = max(len(values), 1)
    bw = (width - pad_l - 8) / n
    base = height - pad_b
    tid = f' data-testid="{escape(testid)}"' if testid else ""
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'preserveAspectRatio="xMinYMin meet"{tid} aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<text x="4" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
             f'<text x="{pad_l - 4}" y="{pad_t + 4}" font-size="10" text-anchor="end">${_usd(top)}</text>',
             f'<text x="{pad_l - 4}" y="{base}" font-size="10" text-anchor="end">$0</text>',
             f'<line x1="{pad_l}" y1="{base}" x2="{width - 4}" y2="{base}" stroke="#888"/>',
             f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{base}" stroke="#888"/>']
    every = -(-len(labels) // 10) or 1  # at most 10 axis labels
    w = min(max(bw - 2, 1), 48)
    for i, (lab, v) in enumerate(zip(labels, values)):
        x = pad_l + i * bw + (bw - w) / 2
        h = (base - pad_t) * (v / top)
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}"'
                     f' fill="#4a7bd0" data-label="{escape(lab)}" data-value="{v:.8f}">'
                     f'<title>{escape(lab)}: ${_usd(v)}</title></rect>')
        if i % every == 0:
            short = lab[5:] if _ISO_DAY.match(lab) else lab[:14]  # days as MM-DD
            parts.append(f'<text x="{x + w / 2:.1f}" y="{base + 14}" font-size="10" text-anchor="middle">'
                         f'{escape(short)}</text>')
    if not values:
        parts.append(f'<text x="{width / 2}" y="{base / 2 + pad_t / 2}" font-size="12" text-anchor="middle">'
                     'no usage in this range</text>')
    parts.append("</svg>")
    return "".join(parts)


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _usd(v: float) -> str:
    return f"{v:.4f}" if v >= 0.01 or v == 0 else f"{v:.6f}"


def _days(since: date, until: date, rows: list[dict]) -> tuple[list[str], list[float]]:
    """One bar per day of the range (days without calls at 0)."""
    cost = {r["key"]: r["cost_usd"] for r in rows}
    labels: list[str] = []
    values: list[float] = []
    d = since
    while d <= until and len(labels) < 400:
        labels.append(d.isoformat())
        values.append(cost.get(d.isoformat(), 0.0))
        d += timedelta(days=1)
    return labels, values


@router.get("/ui/usage", include_in_schema=False)
def usage_page(request: Request, since: str | None = None, until: str | None = None) -> Response:
    me = signed_in(request)
    if me is None:
        return RedirectResponse("/ui/sign-in", status_code=303)
    figs = get_engine(request).usage.page(me, since, until)
    start, end, per_day, per_model = figs["since"], figs["until"], figs["per_day"], figs["per_model"]
    day_labels, day_values = _days(start, end, per_day["rows"])
    charts = {
        "day": bar_chart("Cost per day (USD)", day_labels, day_values, testid="chart-day"),
        "model": bar_chart("Cost per model (USD)", [r["label"] for r in per_model["rows"]],
                           [r["cost_usd"] for r in per_model["rows"]], testid="chart-model"),
    }
    return page(request, "usage.html", me, charts=charts, total=per_day["total"], per_model=per_model["rows"],
                per_user=figs["per_user"]["rows"] if figs["per_user"] else None, budgets=figs["budgets"],
                since=start.isoformat(), until=end.isoformat(), everyone=figs["everyone"])
