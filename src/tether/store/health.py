"""Readiness: does the database answer a query (``GET /readyz``)."""

from __future__ import annotations

import psycopg


def ping(conn: psycopg.Connection) -> None:
    conn.execute("SELECT 1")
