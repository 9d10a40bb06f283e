"""One standalone HTML file from one or more run JSON files (``tether eval report``).

No external assets: styles inline, charts drawn as inline SVG. The output depends only on the
run files (no clock, no randomness), so a golden-file test pins its structure. Sections: runs,
metrics across runs (a bar chart per metric), per-slice table of the latest run, the
answerability gate's abstention / coverage curve (a line chart and a table), stability and
after-update summaries when present, and per-case diffs of the latest run against the previous
one (question, expected, got; unsupported sentences and leaked strings highlighted; a trace link
placeholder when the engine returned a trace id).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from tether.errors import InvalidInput
from tether.evaluate.answers import HIGHER_IS_BETTER

SLICE_COLUMNS = ("cases", "pass_rate", "recall@10", "key_fact_recall", "citation_precision", "groundedness",
                 "hallucination_rate", "abstention_recall", "block_recall", "compliance_failures")
CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;text-align:left;vertical-align:top}
.num{text-align:right;font-variant-numeric:tabular-nums}.fail{background:#fde2e2}.pass{background:#e3f6e3}
.unsupported{background:#ffd7a8}.uncited{background:#fff1a8}.contradicted{background:#f9b3b3}.leak{background:#f55;color:#fff}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #ddd;padding:4px}
details{margin:4px 0}summary{cursor:pointer}.muted{color:#777}
"""


def load_runs(paths: list[Path]) -> list[dict]:
    runs = []
    for p in paths:
        try:
            doc = json.loads(Path(p).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"cannot read run file {p}: {exc}") from exc
        if doc.get("format") != "tether-eval-run/1":
            raise InvalidInput(f"{p} is not a tether eval run (format {doc.get('format')!r})")
        runs.append(doc)
    return runs


def _fmt(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) >= 10 else f"{v:.3f}"
    return escape(str(v))


def bar_chart(metric: str, labels: list[str], values: list[float | None]) -> str:
    w, h, pad = 240, 120, 22
    vals = [v for v in values if v is not None]
    top = max([*vals, 1.0 if metric in HIGHER_IS_BETTER and not metric.endswith(("_ms", "failures", "case")) else 0.0,
               1e-9])
    bw = (w - 2 * pad) / max(1, len(values))
    parts = [f'<svg class="chart" width="{w}" height="{h + 30}" viewBox="0 0 {w} {h + 30}" role="img">',
             f'<title>{escape(metric)}</title><text x="4" y="14" font-size="12">{escape(metric)}</text>',
             f'<line x1="{pad}" y1="{h}" x2="{w - pad}" y2="{h}" stroke="#999"/>']
    for i, (lab, v) in enumerate(zip(labels, values)):
        x = pad + i * bw + 2
        bh = 0 if v is None else (h - 24) * v / top
        parts.append(f'<rect x="{x:.1f}" y="{h - bh:.1f}" width="{bw - 4:.1f}" height="{bh:.1f}" fill="#4a7bd0">'
                     f'<title>{escape(lab)}: {_fmt(v)}</title></rect>')
        parts.append(f'<text x="{x + (bw - 4) / 2:.1f}" y="{h - bh - 3:.1f}" font-size="10" text-anchor="middle">'
                     f'{_fmt(v)}</text>')
        parts.append(f'<text x="{x + (bw - 4) / 2:.1f}" y="{h + 14}" font-size="9" text-anchor="middle">'
                     f'{escape(lab[:10])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def curve_chart(curve: dict) -> str:
    """Coverage of answerable cases and abstention recall against the gate's threshold."""
    w, h, pad = 320, 160, 30
    pts = curve["points"]

    def xy(t: float, v: float) -> str:
        return f"{pad + t * (w - 2 * pad):.1f},{h - pad - v * (h - 2 * pad):.1f}"

    parts = [f'<svg class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">',
             "<title>abstention / coverage</title>",
             f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#999"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#999"/>',
             f'<text x="{w / 2:.0f}" y="{h - 8}" font-size="10" text-anchor="middle">threshold</text>']
    for key, color in (("coverage", "#4a7bd0"), ("abstention_recall", "#d0694a")):
        line = " ".join(xy(p["threshold"], p[key]) for p in pts if p.get(key) is not None)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{line}">'
                     f"<title>{escape(key)}</title></polyline>")
    x = pad + curve["threshold"] * (w - 2 * pad)
    parts.append(f'<line x1="{x:.1f}" y1="{pad}" x2="{x:.1f}" y2="{h - pad}" stroke="#777" stroke-dasharray="3"/>')
    parts.append(f'<text x="{pad + 4}" y="{pad - 8}" font-size="10" fill="#4a7bd0">coverage</text>'
                 f'<text x="{pad + 70}" y="{pad - 8}" font-size="10" fill="#d0694a">abstention recall</text>')
    parts.append("</svg>")
    return "".join(parts)


def _curve_section(curve: dict) -> str:
    from tether.evaluate.curve import curve_table

    rows = "".join("<tr>" + "".join(f"<td class='num'>{escape(c)}</td>" for c in r) + "</tr>"
                   for r in curve_table(curve))
    return (f"<h2>Answerability gate (latest run)</h2><p class='muted'>{curve['answerable_cases']} cases expect an "
            f"answer, {curve['abstain_cases']} must abstain; threshold of this run {_fmt(curve['threshold'])} (*); "
            f"{escape(curve['note'])}.</p><div class='charts'>{curve_chart(curve)}</div>"
            "<table><tr><th>threshold</th><th>coverage</th><th>wrongly abstained</th><th>abstention recall</th></tr>"
            f"{rows}</table>")


def _highlight(text: str, sentences: list[dict], leaks: list[str]) -> str:
    """The answer with non-supported sentences wrapped in a span per verdict; leaks marked."""
    out, pos = [], 0
    for s in sentences:
        st = s.get("text", "")
        i = text.find(st, pos) if st else -1
        if i < 0:
            continue
        out.append(escape(text[pos:i]))
        cls = s.get("verdict", "supported")
        body = escape(st)
        out.append(body if cls == "supported" else f'<span class="{escape(cls)}" title="{escape(cls)}">{body}</span>')
        pos = i + len(st)
    out.append(escape(text[pos:]))
    html = "".join(out)
    for leak in leaks:
        if leak in text:
            html = html.replace(escape(leak), f'<span class="leak">{escape(leak)}</span>')
    return html


def _case_rows(run: dict, previous: dict | None, trace_url: str | None = None) -> str:
    prev = {c["id"]: c for c in (previous or {}).get("cases", [])}
    rows = []
    for c in run.get("cases", []):
        sc, out = c["score"], c["outcome"]
        status = "pass" if sc["passed"] else "fail"
        change = ""
        if c["id"] in prev:
            p = prev[c["id"]]
            if p["score"]["passed"] != sc["passed"]:
                change = "fixed" if sc["passed"] else "broke"
            elif p["outcome"]["text"] != out["text"]:
                change = "answer changed"
        expected = c.get("expected_answer") or ""
        facts = ", ".join(c.get("key_facts") or [])
        want = ("must block" if c.get("must_block") else "must abstain" if c.get("must_abstain") else "answer")
        href = trace_url.format(id=out.get("trace_id")) if trace_url else f'#trace-{out.get("trace_id")}'
        trace = (f'<a href="{escape(href)}">trace {escape(out["trace_id"])}</a>'
                 if out.get("trace_id") else '<span class="muted">no trace</span>')
        got = (("<em>blocked</em> " if out.get("blocked") else "")
               + ("<em>abstained</em> " if out.get("abstained") else ""))
        got += _highlight(out.get("text", ""), out.get("sentences", []), sc.get("compliance_hits", []))
        verdicts = " ".join(s.get("verdict", "?") for s in out.get("sentences", []))
        notes = []
        if sc.get("facts_missing"):
            notes.append("missing: " + escape(", ".join(sc["facts_missing"])))
        if sc.get("compliance_hits"):
            notes.append('<span class="leak">leaked: ' + escape(", ".join(sc["compliance_hits"])) + "</span>")
        if out.get("error"):
            notes.append("error: " + escape(out["error"]))
        cites = "<br>".join(escape(f"[{x.get('number')}] {x.get('source_uri')}") for x in out.get("citations", []))
        rows.append(
            f'<tr class="{status}" id="case-{escape(c["id"])}"><td>{escape(c["id"])}<br>'
            f'<span class="muted">{escape(c["as"])} · {escape(c["tags"].get("kind", ""))}</span></td>'
            f'<td>{escape(c["question"])}</td><td>{escape(want)}<br>{escape(expected)}'
            f'{"<br>facts: " + escape(facts) if facts else ""}</td><td>{got}</td>'
            f'<td>{escape(verdicts)}</td><td>{cites}</td><td>{"<br>".join(notes)}</td>'
            f'<td>{status}{"<br>" + escape(change) if change else ""}</td><td>{trace}</td></tr>')
    head = "<tr><th>case</th><th>question</th><th>expected</th><th>got</th><th>verdicts</th><th>citations</th>" \
           "<th>notes</th><th>result</th><th>trace</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def render(runs: list[dict], *, trace_url: str | None = None, back: str | None = None) -> str:
    """``trace_url`` (e.g. ``/ui/traces/{id}``) links each case to its trace in the UI; ``back``
    adds a link to the page that listed the runs."""
    if not runs:
        raise InvalidInput("no runs to report")
    labels = [r["run_id"] + (f" ({_mode(r)})" if _mode(r) != "plain" else "") for r in runs]
    last, previous = runs[-1], (runs[-2] if len(runs) > 1 else None)
    h = ['<!DOCTYPE html><html><head><meta charset="utf-8"><title>Tether eval report</title>',
         f"<style>{CSS}</style></head><body>",
         *([f'<p><a href="{escape(back)}">&larr; all runs</a></p>'] if back else []),
         f"<h1>Tether eval report: {escape(last['name'])}</h1>"]
    h.append("<h2>Runs</h2><table><tr><th>run</th><th>set</th><th>started</th><th>model</th><th>mode</th>"
             "<th>cases</th><th>duration s</th></tr>")
    for r in runs:
        h.append(f"<tr><td>{escape(r['run_id'])}</td><td>{escape(r['name'])}</td><td>{escape(r['started_at'])}</td>"
                 f"<td>{escape(r['model'])}</td><td>{escape(_mode(r))}</td>"
                 f"<td class='num'>{len(r.get('cases', []))}</td>"
                 f"<td class='num'>{_fmt(r.get('duration_s'))}</td></tr>")
    h.append("</table><h2>Metrics across runs</h2><div class='charts'>")
    for m in HIGHER_IS_BETTER:
        vals = [r["metrics"].get(m) for r in runs]
        if any(v is not None for v in vals):
            h.append(bar_chart(m, labels, vals))
    h.append("</div>")
    h.append(_modes_section(runs))
    h.append("<h2>Slices (latest run)</h2><table><tr><th>slice</th>"
             + "".join(f"<th>{escape(c)}</th>" for c in SLICE_COLUMNS) + "</tr>")
    for name, figs in [("overall", last["metrics"]), *last.get("slices", {}).items()]:
        cells = "".join(f"<td class='num'>{_fmt(figs.get(c))}</td>" for c in SLICE_COLUMNS)
        h.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
    h.append("</table>")
    if last.get("answerability_curve"):
        h.append(_curve_section(last["answerability_curve"]))
    if last.get("stability"):
        st = last["stability"]
        h.append(f"<h2>Stability ({st['repeats']} repeats)</h2><p>answer agreement {_fmt(st['answer_agreement'])}, "
                 f"citation agreement {_fmt(st['citation_agreement'])}; unstable: "
                 f"{escape(', '.join(st['unstable']) or 'none')}</p>")
    if last.get("after_update"):
        au = last["after_update"]
        h.append(f"<h2>After update</h2><p>updated: {escape(', '.join(au['updated_uris']))}; answers changed: "
                 f"{escape(', '.join(au['changed']) or 'none')}</p>"
                 "<table><tr><th>case</th><th>before</th><th>after</th>"
                 "<th>missing</th><th>stale</th></tr>")
        for u in au["updated_cases"]:
            h.append(f"<tr><td>{escape(u['id'])}</td><td>{u['passed_before']}</td><td>{u['passed_after']}</td>"
                     f"<td>{escape(', '.join(u['facts_missing']))}</td><td>{u['stale']}</td></tr>")
        h.append("</table>")
    h.append(f"<h2>Cases (latest run{' vs previous' if previous else ''})</h2>")
    h.append(_case_rows(last, previous, trace_url))
    h.append("</body></html>\n")
    return "\n".join(h)


def _mode(run: dict) -> str:
    return str((run.get("config") or {}).get("mode") or "plain")


#: The figures research mode is judged on, side by side with plain mode.
MODE_METRICS = ("key_fact_recall", "citation_recall", "citation_precision", "groundedness", "compliance_failures",
                "answerable_abstained", "latency_p50_ms")
MODE_SLICES = ("overall", "shape=multi_part", "shape=two_hop", "kind=multi_doc", "kind=restricted")


def _modes_section(runs: list[dict]) -> str:
    """Research vs plain: the latest run of each mode, overall and on the multi-step slices."""
    latest = {_mode(r): r for r in runs}
    if len(latest) < 2 or "research" not in latest or "plain" not in latest:
        return ""
    plain, research = latest["plain"], latest["research"]
    h = ["<h2>Research vs plain mode</h2><table><tr><th>slice</th><th>metric</th>"
         f"<th>plain ({escape(plain['run_id'])})</th><th>research ({escape(research['run_id'])})</th></tr>"]
    for sl in MODE_SLICES:
        a = plain["metrics"] if sl == "overall" else plain.get("slices", {}).get(sl)
        b = research["metrics"] if sl == "overall" else research.get("slices", {}).get(sl)
        if not a or not b:
            continue
        for m in MODE_METRICS:
            if a.get(m) is not None or b.get(m) is not None:
                h.append(f"<tr><td>{escape(sl)}</td><td>{escape(m)}</td><td class='num'>{_fmt(a.get(m))}</td>"
                         f"<td class='num'>{_fmt(b.get(m))}</td></tr>")
    h.append("</table>")
    return "".join(h)
