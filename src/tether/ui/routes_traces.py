"""Trace pages (everyone sees their own; admins everyone's) and the monitor page (admins):
drift figures against their baseline, open alerts with an acknowledge button, and per-hour
charts of latency, cost and abstentions drawn as inline SVG (no scripts, no CDN)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

import tether.api.csrf as csrf
from tether.api.auth import get_engine
from tether.errors import NotFound, PermissionDenied
from tether.observe import view
from tether.ui.pages import not_found, page, signed_in, to_sign_in

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf.require_form_token)])


@router.get("/ui/traces")
def traces(request: Request, status: str = "", principal: str = "", limit: int = 100) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    rows = get_engine(request).traces.list(me, principal=principal or None, status=status or None,
                                           limit=max(1, min(limit, 500)))
    return page(request, "traces.html", me, traces=rows, outcome=status, user_filter=principal)


@router.get("/ui/traces/{trace_id}")
def trace(request: Request, trace_id: str) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    try:
        row = get_engine(request).traces.get(me, trace_id)
    except NotFound:
        return not_found(request, me, "trace.html", trace=None)
    return page(request, "trace.html", me, trace=row, rows=view.rows(row["root"]),
                sentences=view.sentences(row["root"]),
                decisions=view.summary({k: v for k, v in row["attrs"].items() if k != "question"}, limit=20))


@router.get("/ui/monitor")
def monitor(request: Request, hours: int = 24) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    hours = max(2, min(hours, 24 * 14))
    engine = get_engine(request)
    try:  # administrators only; to anyone else the page does not exist
        report = engine.traces.monitor(me, hours=hours)
        recent = engine.traces.alerts(me, limit=20)
    except PermissionDenied:
        return not_found(request, me, "trace.html", trace=None)
    series = report["hourly"]
    charts = [
        line_chart("Latency per hour (ms)", series, {"p50": "latency_p50_ms", "p95": "latency_p95_ms"}, "{:.0f}"),
        line_chart("Cost per request (USD)", series, {"mean": "cost_per_request_usd"}, "{:.6f}"),
        line_chart("Abstention rate", series, {"rate": "abstention_rate"}, "{:.0%}", fixed_max=1.0),
        bar_chart("Requests per hour", series, "n"),
    ]
    return page(request, "monitor.html", me, figures=report["figures"], open_alerts=report["open"], alerts=recent,
                charts=charts, hours=hours, cfg=engine.settings.observe)


@router.post("/ui/monitor/alerts/{alert_id}/ack")
def acknowledge(request: Request, alert_id: int) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    try:
        get_engine(request).traces.acknowledge(me, alert_id)
    except PermissionDenied:
        return not_found(request, me, "trace.html", trace=None)
    except NotFound:
        pass
    return RedirectResponse("/ui/monitor", status_code=303)


# charts ------------------------------------------------------------------------------------
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 160, 56, 12, 14, 26
COLORS = ("#2c5cc5", "#c2410c", "#2e7d4f")


def _hour_label(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%H:00")


def _frame(title: str, ymax: float, fmt: str, labels: list[str]) -> list[str]:
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for frac in (0.0, 0.5, 1.0):
        y = PAD_T + (H - PAD_T - PAD_B) * (1 - frac)
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
                     f"{escape(fmt.format(ymax * frac))}</text>")
    n = len(labels)
    step = max(1, n // 6)
    for i in range(0, n, step):
        parts.append(f'<text x="{_x(i, n):.1f}" y="{H - 8}" text-anchor="middle" class="tick">'
                     f"{escape(_hour_label(labels[i]))}</text>")
    return parts


def _x(i: int, n: int) -> float:
    return PAD_L + (W - PAD_L - PAD_R) * (i / max(n - 1, 1))


def _y(v: float, ymax: float) -> float:
    return PAD_T + (H - PAD_T - PAD_B) * (1 - (v / ymax if ymax > 0 else 0))


def line_chart(title: str, series: list[dict], lines: dict[str, str], fmt: str,
               fixed_max: float | None = None) -> dict:
    values = [r[k] for r in series for k in lines.values() if r[k] is not None]
    ymax = fixed_max if fixed_max is not None else (max(values) * 1.1 if values else 1.0) or 1.0
    labels = [r["hour"] for r in series]
    parts = _frame(title, ymax, fmt, labels)
    n = len(series)
    for (name, key), color in zip(lines.items(), COLORS):
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, r in enumerate(series):
            if r[key] is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x, y = _x(i, n), _y(r[key], ymax)
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}">'
                         f"<title>{escape(_hour_label(r['hour']))} {escape(name)}: {escape(fmt.format(r[key]))}"
                         f" ({r['n']} requests)</title></circle>")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" stroke-width="2"/>')
    legend = " ".join(f'<span class="key" style="--c:{c}">{escape(name)}</span>' for name, c in zip(lines, COLORS))
    parts.append("</svg>")
    return {"title": title, "svg": Markup("".join(parts)), "legend": Markup(legend),
            "empty": not values}


def bar_chart(title: str, series: list[dict], key: str) -> dict:
    values = [r[key] or 0 for r in series]
    ymax = max(values) * 1.1 if values and max(values) > 0 else 1.0
    parts = _frame(title, ymax, "{:.0f}", [r["hour"] for r in series])
    n = len(series)
    bw = max(2.0, (W - PAD_L - PAD_R) / max(n, 1) * 0.6)
    for i, r in enumerate(series):
        v = r[key] or 0
        y = _y(v, ymax)
        parts.append(f'<rect x="{_x(i, n) - bw / 2:.1f}" y="{y:.1f}" width="{bw:.1f}" '
                     f'height="{H - PAD_B - y:.1f}" fill="{COLORS[0]}" opacity="0.7">'
                     f"<title>{escape(_hour_label(r['hour']))}: {v} requests</title></rect>")
    parts.append("</svg>")
    return {"title": title, "svg": Markup("".join(parts)), "legend": Markup(""), "empty": not any(values)}
