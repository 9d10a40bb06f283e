"""Request body limits, enforced before a handler reads the body (Content-Length or streamed).

Uploads get the ingest file limit plus multipart overhead; every other route a small JSON
limit. Too large a body is answered with the one JSON error shape and status 413.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.errors import PayloadTooLarge


class _TooLarge(StarletteHTTPException):
    """Raised from ``receive``; FastAPI lets HTTP exceptions through its body parsing."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit:,} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, default_limit: int, upload_limit: int,
                 upload_paths: tuple[str, ...] = ("/v1/documents", "/ui/documents/upload")) -> None:
        self.app = app
        self.default_limit = default_limit
        self.upload_limit = upload_limit
        self.upload_paths = upload_paths

    def _limit(self, scope: Scope) -> int:
        return self.upload_limit if scope["path"] in self.upload_paths else self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _reject(send, limit)
            return
        seen = 0
        started = False

        async def _receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def _send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _receive, _send)
        except _TooLarge:
            if not started:
                await _reject(send, limit)


async def _reject(send: Send, limit: int) -> None:
    error = PayloadTooLarge(f"request body over the limit of {limit:,} bytes", limit=limit)
    body = json.dumps(error.to_dict()).encode()
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
