"""Readiness: does the database answer a query (``GET /readyz``)."""

from __future__ import annotations

from typing import Any

import psycopg


def ping(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT 1")
