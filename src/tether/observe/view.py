"""Presenting a stored trace (``observe.store.get``'s dict) to people: flattened span rows with
waterfall geometry (for the UI), short attribute summaries (for the CLI tree and the UI), and
the per-sentence grounding verdicts when the ground span carries them."""

from __future__ import annotations

import json
from typing import Any

#: Attributes too bulky for a one-line summary (they have their own views).
_BULKY = {"hits", "sentences", "kept"}


def fmt_value(value: Any, limit: int = 60) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (str, int, bool)) or value is None:
        text = str(value)
    elif isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        text = "[" + ", ".join(fmt_value(v, 20) for v in value) + "]"
    elif isinstance(value, list):
        text = f"[{len(value)} items]"
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(attrs: dict[str, Any], limit: int = 6) -> str:
    """``key=value`` pairs of a span's attributes, decisions first, bulky ones left out."""
    items = [(k, v) for k, v in attrs.items() if k not in _BULKY and v not in (None, "", [], {})]
    items.sort(key=lambda kv: (kv[0] not in ("verdict", "model", "reason", "hit", "error", "abstained"),))
    parts = [f"{k}={fmt_value(v)}" for k, v in items[:limit]]
    if len(items) > limit:
        parts.append(f"+{len(items) - limit} more")
    return " ".join(parts)


def rows(root: dict[str, Any]) -> list[dict[str, Any]]:
    """Depth-first span rows with ``left``/``width`` as percentages of the whole trace."""
    total = max(float(root.get("duration_ms") or 0.0), 1e-6)
    for node in _walk(root, 0):
        end = node[0]["start_ms"] + node[0]["duration_ms"]
        total = max(total, end)
    out = []
    for span, depth in _walk(root, 0):
        start, dur = float(span["start_ms"]), float(span["duration_ms"])
        out.append({
            "name": span["name"], "depth": depth, "start_ms": start, "duration_ms": dur,
            "status": span.get("status", "ok"), "attrs": span.get("attrs", {}),
            "summary": summary(span.get("attrs", {})),
            "event": dur == 0.0 and not span.get("children"),
            "left": round(100 * start / total, 3), "width": round(max(100 * dur / total, 0.0), 3),
        })
    return out


def _walk(span: dict[str, Any], depth: int):
    yield span, depth
    for child in span.get("children", []):
        yield from _walk(child, depth + 1)


def sentences(root: dict[str, Any]) -> list[dict[str, Any]]:
    """Grounding verdicts per sentence from the (last) ground span, if it recorded them."""
    found: list[dict[str, Any]] = []
    for span, _ in _walk(root, 0):
        if span["name"] == "ground" and isinstance(span.get("attrs", {}).get("sentences"), list):
            found = [s for s in span["attrs"]["sentences"] if isinstance(s, dict)]
    return found
