"""``/mcp``: the MCP server (agents/mcp_server.py) over streamable HTTP, inside the API.

Every HTTP request is authenticated here with the caller's API key (``Authorization: Bearer``
or ``X-API-Key``; an OIDC access token where ``[oidc] accept_bearer_tokens``), exactly as the
REST API does (failed attempts throttled); a session cookie is not accepted (an agent is not a
browser). The principal travels on that request's ASGI scope, never on a session: the transport
is stateless (each POST is one exchange), so two callers can never share a principal, and any
API replica can serve any request. Rate limits count per tool call (agents/tools.py).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tether.agents.mcp_server import SCOPE_KEY, build_server, principal_from_scope
from tether.api.auth import authenticate, presented_key
from tether.engine import Tether
from tether.errors import TetherError, Unauthenticated

PATH = "/mcp"


class McpEndpoint:
    """The ASGI app at ``/mcp``: authenticate, then hand the request to the SDK's transport."""

    def __init__(self) -> None:
        self.manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        try:
            if presented_key(request) is None:
                raise Unauthenticated("authentication required: send 'Authorization: Bearer <key>'")
            principal = await run_in_threadpool(authenticate, request)
            if principal is None:  # pragma: no cover - a presented key either authenticates or raises
                raise Unauthenticated("authentication required")
        except TetherError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            await JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)(scope, receive, send)
            return
        if self.manager is None:
            await JSONResponse({"error": {"code": "unavailable", "message": "the MCP server is starting"}},
                               status_code=503)(scope, receive, send)
            return
        scope[SCOPE_KEY] = principal
        await self.manager.handle_request(scope, receive, send)


def mount(app: FastAPI) -> McpEndpoint:
    """Route ``/mcp`` (GET, POST, DELETE) to the endpoint; ``start`` gives it its server."""
    endpoint = McpEndpoint()
    app.router.routes.append(Route(PATH, endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False))
    app.state.mcp_endpoint = endpoint
    return endpoint


async def start(app: FastAPI, engine: Tether) -> AsyncExitStack:
    """Run the MCP transport for the app's lifetime (close the returned stack on shutdown)."""
    server = build_server(engine, principal_from_scope)
    # authentication is by bearer credential, never by cookie: DNS rebinding gains nothing
    server.streamable_http_app(stateless_http=True, json_response=True,
                               transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    manager = server.session_manager
    stack = AsyncExitStack()
    await stack.enter_async_context(manager.run())
    app.state.mcp_endpoint.manager = manager
    return stack
