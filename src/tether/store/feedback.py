"""Thumbs up / down on answers. Only the principal who asked (``traces.principal_id``) may rate an
answer; rating again replaces the earlier rating. A thumbs-down opens a review item (source
``feedback``) carrying the trace's question, the answer the asker saw and its citations as
evidence (re-checked against the asker's permissions by ``reviews.create``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.rows import DictRow

from tether.errors import InvalidInput, NotFound
from tether.store import reviews
from tether.store.rows import one
from tether.types import Principal

RATINGS = ("up", "down")
MAX_COMMENT = 2000


def own_trace(conn: psycopg.Connection[DictRow], principal: Principal, trace_id: str) -> dict:
    """The trace if ``principal`` asked it; NotFound otherwise (absent or someone else's alike)."""
    trace = conn.execute("SELECT id, principal_id, question FROM traces WHERE id = %s", (trace_id,)).fetchone()
    if trace is None or trace["principal_id"] != principal.id:
        raise NotFound(f"no trace {trace_id!r}")
    return trace


def record(
    conn: psycopg.Connection[DictRow], principal: Principal, trace_id: str, rating: str, comment: str = "", *,
    answer: Mapping[str, Any] | None = None, question: str = "",
) -> dict:
    """Store the rating; returns ``{id, trace_id, rating, comment, review_id, created}``.

    NotFound when the trace does not exist or is someone else's (the same error either way)."""
    if rating not in RATINGS:
        raise InvalidInput(f"rating must be one of {', '.join(RATINGS)}, not {rating!r}")
    comment = comment.strip()[:MAX_COMMENT]
    trace = own_trace(conn, principal, trace_id)
    row = one(conn.execute(
        "INSERT INTO feedback (trace_id, principal_id, rating, comment) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (trace_id, principal_id) DO UPDATE SET rating = EXCLUDED.rating,"
        " comment = EXCLUDED.comment, updated_at = now()"
        " RETURNING id, review_id, (xmax = 0) AS created",
        (trace_id, principal.id, rating, comment),
    ))
    review_id = row["review_id"]
    if rating == "down" and review_id is None:
        asked = (trace["question"] or question or "").strip() or "(question not recorded)"
        review_id = reviews.create(
            conn, principal, asked, source="feedback", reason=comment or "thumbs down", trace_id=trace_id,
            answer=answer, dedupe=False,
        )
        conn.execute("UPDATE feedback SET review_id = %s WHERE id = %s", (review_id, row["id"]))
    return {"id": int(row["id"]), "trace_id": trace_id, "rating": rating, "comment": comment,
            "review_id": review_id, "created": bool(row["created"])}


def list_feedback(conn: psycopg.Connection[DictRow], viewer: Principal, *, rating: str | None = None,
                  limit: int = 100) -> dict:
    """Administrators: everyone's feedback; others: their own. With counts of up and down."""
    if rating is not None and rating not in RATINGS:
        raise InvalidInput(f"rating must be one of {', '.join(RATINGS)}, not {rating!r}")
    where, params = " WHERE true", []  # type: tuple[str, list[object]]
    if not viewer.is_admin:
        where += " AND f.principal_id = %s"
        params.append(viewer.id)
    counts = {r["rating"]: int(r["n"]) for r in conn.execute(
        "SELECT f.rating, count(*) AS n FROM feedback f" + where + " GROUP BY f.rating", params).fetchall()}
    if rating:
        where += " AND f.rating = %s"
        params.append(rating)
    rows = conn.execute(
        "SELECT f.id, f.trace_id, p.name AS principal, f.rating, f.comment, f.review_id, f.created_at, f.updated_at,"
        " t.question FROM feedback f JOIN principals p ON p.id = f.principal_id"
        " LEFT JOIN traces t ON t.id = f.trace_id" + where + " ORDER BY f.id DESC LIMIT %s",
        [*params, max(1, min(limit, 1000))],
    ).fetchall()
    return {"feedback": rows, "counts": {r: counts.get(r, 0) for r in RATINGS}}
