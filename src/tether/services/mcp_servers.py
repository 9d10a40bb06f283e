"""External MCP servers as administrators manage them: register, list, enable, disable, remove,
list a server's tools; and the registry research mode reads.

Why a service: the CLI (``tether mcp-servers``) and research mode share these rules. Only
administrators manage servers (audited ``admin.mcp_server.*``); a registration holds no secret:
``env`` and ``headers`` values must be names of environment variables (``ACME_TOKEN``), which
are read from Tether's environment when a tool is called (``agents/mcp_client.py``).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping

from tether.agents import mcp_client
from tether.agents.mcp_client import ServerConfig, ToolInfo
from tether.errors import InvalidInput
from tether.services.permissions import actor_id, require_admin
from tether.store import audit
from tether.store import mcp_servers as store
from tether.store.db import Database
from tether.types import Principal

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_TOOL = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def _check(name: str, transport: str, command: list[str], url: str, env: Mapping[str, str],
           headers: Mapping[str, str], tools: list[str]) -> None:
    if not _NAME.match(name):
        raise InvalidInput(f"invalid MCP server name {name!r}: lower-case letters, digits, '-', '_' (max 40)")
    if transport == "stdio":
        if not command or not command[0].strip():
            raise InvalidInput("a stdio MCP server needs a command (argv)")
        if url:
            raise InvalidInput("a stdio MCP server takes a command, not a URL")
    elif transport == "http":
        if not re.match(r"^https?://[^\s/]+", url or ""):
            raise InvalidInput("an http MCP server needs an http(s):// URL")
        if command:
            raise InvalidInput("an http MCP server takes a URL, not a command")
    else:
        raise InvalidInput(f"unknown transport {transport!r}; transports: stdio, http")
    for what, names in (("env", env), ("headers", headers)):
        for key, var in names.items():
            if not key or not _ENV_NAME.match(str(var)):
                raise InvalidInput(f"{what} {key!r}: the value must be the NAME of an environment variable "
                                   "(upper case, e.g. ACME_TOKEN), never the secret itself")
    bad = [t for t in tools if not _TOOL.match(t)]
    if bad:
        raise InvalidInput(f"invalid tool names: {', '.join(map(repr, bad))}")


def view(row: Mapping) -> dict:
    return {"name": row["name"], "transport": row["transport"], "command": list(row["command"] or []),
            "url": row["url"], "env": dict(row["env"] or {}), "headers": dict(row["headers"] or {}),
            "tools": list(row["tools"] or []), "enabled": row["enabled"], "created_at": str(row["created_at"])}


class McpServerService:
    def __init__(self, db: Database, secrets: Mapping[str, str], timeout_s: float) -> None:
        self.db = db
        self.secrets = secrets
        self.timeout_s = timeout_s

    def add(self, actor: Principal, name: str, transport: str, *, command: builtins.list[str] | None = None,
            url: str = "", env: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
            tools: builtins.list[str] | None = None) -> dict:
        require_admin(actor, "registering an MCP server")
        command, env, headers, tools = list(command or []), dict(env or {}), dict(headers or {}), list(tools or [])
        _check(name, transport, command, url, env, headers, tools)
        with self.db.transaction() as conn:
            row = store.create(conn, name=name, transport=transport, command=command, url=url, env=env,
                               headers=headers, tools=tools, created_by=actor_id(actor))
            audit.record(conn, "admin.mcp_server.add", actor_id=actor_id(actor), target=name,
                         details={"transport": transport, "tools": tools})
        return view(row)

    def list(self, actor: Principal) -> builtins.list[dict]:
        require_admin(actor, "listing MCP servers")
        with self.db.connection() as conn:
            return [view(r) for r in store.list_all(conn)]

    def set_enabled(self, actor: Principal, name: str, enabled: bool) -> dict:
        require_admin(actor, "changing an MCP server")
        with self.db.transaction() as conn:
            row = store.set_enabled(conn, name, enabled)
            audit.record(conn, f"admin.mcp_server.{'enable' if enabled else 'disable'}", actor_id=actor_id(actor),
                         target=name, details={})
        return view(row)

    def remove(self, actor: Principal, name: str) -> dict:
        require_admin(actor, "removing an MCP server")
        with self.db.transaction() as conn:
            store.get(conn, name)
            store.delete(conn, name)
            audit.record(conn, "admin.mcp_server.remove", actor_id=actor_id(actor), target=name, details={})
        return {"removed": name}

    def tools(self, actor: Principal, name: str) -> builtins.list[dict]:
        """The tools research mode may call on ``name`` (asks the server now)."""
        require_admin(actor, "listing an MCP server's tools")
        with self.db.connection() as conn:
            cfg = ServerConfig.from_row(store.get(conn, name))
        return [{"name": t.name, "qualified": t.qualified, "description": t.description,
                 "input_schema": t.input_schema} for t in mcp_client.list_tools(cfg, self.secrets, self.timeout_s)]

    # for research mode ---------------------------------------------------------------------
    def enabled(self) -> builtins.list[ServerConfig]:
        """Every enabled server (research mode reads this per run: a change applies at once)."""
        with self.db.connection() as conn:
            return [ServerConfig.from_row(r) for r in store.list_all(conn, enabled_only=True)]

    def call(self, cfg: ServerConfig, tool: str, arguments: dict) -> tuple[str, bool]:
        """Call one tool of ``cfg`` (research mode); ``(text, is_error)``; ToolCallFailed on failure."""
        return mcp_client.call_tool(cfg, self.secrets, tool, arguments, self.timeout_s)

    def available_tools(self) -> builtins.list[tuple[ServerConfig, ToolInfo]]:
        """The tools of every enabled server; a server that fails to list is skipped (logged)."""
        out = []
        for cfg in self.enabled():
            try:
                out += [(cfg, t) for t in mcp_client.list_tools(cfg, self.secrets, self.timeout_s)]
            except Exception:  # noqa: BLE001 - one broken server must not stop research mode
                mcp_client.log.warning("MCP server %s: tools not listed", cfg.name)
        return out
