"""External MCP servers (the table of migration 0021): the SQL only. The rules (administrators
only, no secrets in a row) are in ``tether.services.mcp_servers``."""

from __future__ import annotations

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from tether.errors import Conflict, NotFound
from tether.store.rows import one


def create(conn: psycopg.Connection[DictRow], *, name: str, transport: str, command: list[str], url: str,
           env: dict[str, str], headers: dict[str, str], tools: list[str], created_by: int | None) -> dict:
    try:
        with conn.transaction():
            return one(conn.execute(
                "INSERT INTO mcp_servers (name, transport, command, url, env, headers, tools, created_by)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
                (name, transport, command, url, Jsonb(env), Jsonb(headers), tools, created_by)))
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"an MCP server named {name!r} is already registered") from exc


def get(conn: psycopg.Connection[DictRow], name: str) -> dict:
    row = conn.execute("SELECT * FROM mcp_servers WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise NotFound(f"MCP server {name!r} not found")
    return row


def list_all(conn: psycopg.Connection[DictRow], *, enabled_only: bool = False) -> list[dict]:
    where = " WHERE enabled" if enabled_only else ""
    return conn.execute(f"SELECT * FROM mcp_servers{where} ORDER BY name").fetchall()


def set_enabled(conn: psycopg.Connection[DictRow], name: str, enabled: bool) -> dict:
    row = conn.execute("UPDATE mcp_servers SET enabled = %s WHERE name = %s RETURNING *", (enabled, name)).fetchone()
    if row is None:
        raise NotFound(f"MCP server {name!r} not found")
    return row


def delete(conn: psycopg.Connection[DictRow], name: str) -> bool:
    return conn.execute("DELETE FROM mcp_servers WHERE name = %s", (name,)).rowcount > 0
