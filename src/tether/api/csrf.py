"""CSRF tokens for everything a browser can post with its cookies: the UI's forms (sign-in and
sign-out included), its htmx buttons and the upload it sends to ``/v1/documents``.

A browser gets a random ``tether_csrf`` cookie (HttpOnly, SameSite=Strict) with its first
page. A form's token is an HMAC keyed by that cookie over the session id (empty before
sign-in), so a page on another site can neither read nor compute it, and a token issued
before sign-in stops working after it. Pages put the token in a hidden ``csrf_token`` field
(forms), on ``<body hx-headers>`` (htmx) and in ``<meta name="csrf-token">`` (scripts, which
send it as ``X-CSRF-Token``).

Which requests need one: any POST to a ``/ui/`` route that carries no API key, and any POST
authenticated by the session cookie whose body is not JSON (a cross-site page can post forms
and ``text/plain`` without a preflight, never ``application/json``, and PUT/PATCH/DELETE always
preflight). Requests with an API key are exempt: a browser never adds one by itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from tether.errors import PermissionDenied

COOKIE = "tether_csrf"
HEADER = "x-csrf-token"
FIELD = "csrf_token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _cookie(request: Request) -> str:
    """This browser's CSRF secret (a new one, remembered for :func:`issue`, when it has none)."""
    value = request.cookies.get(COOKIE, "")
    if len(value) < 32:
        value = getattr(request.state, "csrf_cookie", None) or secrets.token_urlsafe(32)
        request.state.csrf_cookie = value
    return value


def token(request: Request) -> str:
    """The token forms on this page must send back."""
    sid = request.cookies.get(request.app.state.api_settings.session_cookie, "")
    return hmac.new(_cookie(request).encode(), f"tether-csrf|{sid}".encode(), hashlib.sha256).hexdigest()


def issue(request: Request, response: Response) -> None:
    """Set the CSRF cookie on ``response`` when this request created one."""
    value = getattr(request.state, "csrf_cookie", None)
    if value:
        cfg = request.app.state.api_settings
        response.set_cookie(COOKIE, value, httponly=True, samesite="strict", secure=cfg.cookie_secure, path="/")


def valid(request: Request, presented: str | None) -> bool:
    if not presented or len(request.cookies.get(COOKIE, "")) < 32:
        return False
    return hmac.compare_digest(presented.encode(), token(request).encode())


def _has_api_key(request: Request) -> bool:
    auth = request.headers.get("authorization", "")
    return auth.lower().startswith("bearer ") or bool(request.headers.get("x-api-key"))


async def require_form_token(request: Request) -> None:
    """Dependency of the UI's routers: an unsafe request without an API key needs the token."""
    if request.method not in _UNSAFE or _has_api_key(request):
        return
    presented = request.headers.get(HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(FIELD)
        presented = value if isinstance(value, str) else None
    if not valid(request, presented):
        raise PermissionDenied("missing or invalid CSRF token; reload the page and try again")
    request.state.csrf_ok = True


def check_session_post(request: Request) -> None:
    """For a request authenticated by the session cookie: a non-JSON POST needs the token
    (in ``X-CSRF-Token``) unless a UI route's dependency has checked it already."""
    if request.method != "POST" or getattr(request.state, "csrf_ok", False):
        return
    main = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if main == "application/json" or main.endswith("+json"):
        return
    if not valid(request, request.headers.get(HEADER)):
        raise PermissionDenied("missing or invalid CSRF token; reload the page and try again")
