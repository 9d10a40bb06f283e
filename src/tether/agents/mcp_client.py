"""Tether as an MCP client: the tools of external MCP servers an administrator registered, for
research mode's planner (``answer/research.py``).

Why a module of its own: an external server is an outside process or URL, reached with the
official ``mcp`` SDK (``ClientSession`` over ``stdio_client`` or ``streamable_http_client``), and
what it returns is untrusted. This module only speaks the protocol; the registry (PostgreSQL,
``store/mcp_servers.py``) says which servers exist, research mode decides when to call them.

- A server's config holds no secret: ``env`` maps a variable of the child process to the NAME
  of a variable of Tether's environment, ``headers`` an HTTP header to such a name
  (``{"Authorization": "ACME_MCP_TOKEN"}``: the value is read from the environment per call).
- Each call opens a session, calls one tool and closes it, within ``timeout_s`` (a hung server
  costs that much, never more); a failure is :class:`~tether.errors.ToolCallFailed` with the
  server's name and the kind of failure, never the server's own message text.
- :func:`result_text` flattens a tool result to text (text parts kept, other kinds named).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from tether.errors import ToolCallFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerConfig:
    name: str
    transport: str  # stdio | http
    command: list[str] = field(default_factory=list)
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: The tools research mode may call (empty: every tool the server lists).
    tools: list[str] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ServerConfig:
        return cls(row["name"], row["transport"], list(row.get("command") or []), row.get("url") or "",
                   dict(row.get("env") or {}), dict(row.get("headers") or {}), list(row.get("tools") or []))

    def allows(self, tool: str) -> bool:
        return not self.tools or tool in self.tools


@dataclass(frozen=True)
class ToolInfo:
    server: str
    name: str
    description: str
    input_schema: dict

    @property
    def qualified(self) -> str:
        """The name the planner's model sees: ``<server>__<tool>``."""
        return f"{self.server}__{self.name}"


def _resolved(names: Mapping[str, str], secrets: Mapping[str, str], server: str) -> dict[str, str]:
    out = {}
    for key, var in names.items():
        if var not in secrets:
            raise ToolCallFailed(f"MCP server {server!r}: environment variable {var} is not set", server=server,
                                 reason="missing_secret")
        out[key] = secrets[var]
    return out


async def _session_call(cfg: ServerConfig, secrets: Mapping[str, str], op: str, *args: Any) -> Any:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    async def run(session: ClientSession) -> Any:
        await session.initialize()
        if op == "list":
            return await session.list_tools()
        return await session.call_tool(args[0], args[1])

    if cfg.transport == "stdio":
        env = {"PATH": os.environ.get("PATH", ""), **_resolved(cfg.env, secrets, cfg.name)}
        params = StdioServerParameters(command=cfg.command[0], args=cfg.command[1:], env=env)
        with open(os.devnull, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                return await run(session)
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = _resolved(cfg.headers, secrets, cfg.name)
    async with httpx2.AsyncClient(headers=headers) as http, \
            streamable_http_client(cfg.url, http_client=http) as streams, \
            ClientSession(streams[0], streams[1]) as session:
        return await run(session)


def _run(cfg: ServerConfig, secrets: Mapping[str, str], timeout_s: float, op: str, *args: Any) -> Any:
    async def bounded() -> Any:
        with anyio.fail_after(timeout_s):
            return await _session_call(cfg, secrets, op, *args)

    try:
        return anyio.run(bounded)
    except ToolCallFailed:
        raise
    except TimeoutError:
        raise ToolCallFailed(f"MCP server {cfg.name!r} did not answer within {timeout_s:g} s", server=cfg.name,
                             reason="timeout") from None
    except Exception as exc:  # noqa: BLE001 - an outside process: its failure is data, not a crash
        log.warning("MCP server %s failed (%s): %s", cfg.name, op, type(exc).__name__)
        raise ToolCallFailed(f"MCP server {cfg.name!r} failed ({type(exc).__name__})", server=cfg.name,
                             reason="failed") from None


def list_tools(cfg: ServerConfig, secrets: Mapping[str, str], timeout_s: float = 15.0) -> list[ToolInfo]:
    """The server's tools that research mode may call (``cfg.tools`` filters them)."""
    res = _run(cfg, secrets, timeout_s, "list")
    return [ToolInfo(cfg.name, t.name, t.description or "", dict(t.input_schema or {}))
            for t in res.tools if cfg.allows(t.name)]


def call_tool(cfg: ServerConfig, secrets: Mapping[str, str], tool: str, arguments: dict[str, Any],
              timeout_s: float = 15.0) -> tuple[str, bool]:
    """Call ``tool``; ``(text, is_error)`` of its result. A tool the config does not allow is
    refused before anything is sent."""
    if not cfg.allows(tool):
        raise ToolCallFailed(f"MCP server {cfg.name!r} does not offer tool {tool!r} to Tether", server=cfg.name,
                             reason="not_allowed")
    res = _run(cfg, secrets, timeout_s, "call", tool, dict(arguments))
    return result_text(res), bool(getattr(res, "is_error", False))


def result_text(result: Any) -> str:
    parts = []
    for c in getattr(result, "content", []) or []:
        text = getattr(c, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(c, 'type', 'content')} omitted]")
    return "\n".join(parts)
