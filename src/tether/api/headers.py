"""Security headers on every response, whatever produced it (routes, errors, static files, the
body-limit and text-check rejections): the middleware sits outermost.

The web UI loads scripts only from ``/static`` (no inline script or handler, so the policy has
no ``'unsafe-inline'`` for scripts); inline ``style`` attributes of the SVG charts remain
allowed. Pages may not be framed (clickjacking), MIME types are not sniffed, and the referrer
never leaves the origin (``same-origin`` rather than ``no-referrer``: browsers send
``Origin: null`` on form posts under ``no-referrer``, which the session Origin check refuses).
A route that needs a wider policy (the API docs page) sets its own ``Content-Security-Policy``;
the others are always added.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS: dict[str, str] = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.fixed = [(k.encode(), v.encode()) for k, v in HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in dict(self.fixed)]
                if not any(k.lower() == b"content-security-policy" for k, _ in headers):
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers + self.fixed}
            await send(message)

        await self.app(scope, receive, _send)
