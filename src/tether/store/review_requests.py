"""Human-review requests ("ask a human"): the minimal record the UI and API need today.

The review-queue issue owns assigning, answering and closing these; this module only
records and lists them. A request holds the asker's own question and the answer they saw,
so it never carries content the asker could not read.
"""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from tether.types import Principal


def add_request(conn: psycopg.Connection, principal: Principal, question: str, reason: str = "",
                answer: dict | None = None) -> int:
    row = conn.execute(
        "INSERT INTO review_requests (principal_id, question, reason, answer) VALUES (%s, %s, %s, %s)"
        " RETURNING id",
        (principal.id, question, reason, Jsonb(answer) if answer is not None else None),
    ).fetchone()
    return int(row["id"])


def list_requests(conn: psycopg.Connection, principal_id: int | None = None) -> list[dict]:
    """All requests (for reviewers/admins) or one principal's own."""
    sql = ("SELECT r.id, p.name AS asked_by, r.question, r.reason, r.status, r.created_at"
           " FROM review_requests r JOIN principals p ON p.id = r.principal_id")
    params: list[object] = []
    if principal_id is not None:
        sql += " WHERE r.principal_id = %s"
        params.append(principal_id)
    return conn.execute(sql + " ORDER BY r.id DESC", params).fetchall()
