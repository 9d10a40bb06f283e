"""Who is calling: an API key (``Authorization: Bearer`` or ``X-API-Key``) or a UI session cookie.

Permissions are resolved fresh from the database on every request (``engine.accounts``), so a
revoked key or membership takes effect at once. Browser sessions are accepted for unsafe
methods only from the same origin (SameSite=Lax plus an Origin check against CSRF).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Depends, Request

from tether.engine import Tether
from tether.errors import PermissionDenied, Unauthenticated
from tether.services.permissions import require_admin
from tether.settings import ApiSettings
from tether.types import Principal

_SAFE = {"GET", "HEAD", "OPTIONS"}


def get_engine(request: Request) -> Tether:
    return request.app.state.engine


def api_settings(request: Request) -> ApiSettings:
    return request.app.state.api_settings


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True  # non-browser clients and same-origin navigations without the header
    return urlsplit(origin).netloc == request.headers.get("host", "")


def authenticate(request: Request) -> Principal | None:
    """The caller's principal, None when no credential was presented; bad credentials raise."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    accounts = get_engine(request).accounts
    key = presented_key(request)
    principal: Principal | None = None
    if key is not None:
        principal = accounts.authenticate_key(key)
        request.state.auth_kind = "api_key"
    else:
        sid = request.cookies.get(api_settings(request).session_cookie)
        if sid:
            principal = accounts.session_principal(sid)
            if request.method not in _SAFE and not _same_origin(request):
                raise PermissionDenied("cross-origin request with a session cookie refused")
            request.state.auth_kind = "session"
    request.state.principal = principal
    return principal


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated principal, or 401."""
    principal = authenticate(request)
    if principal is None:
        raise Unauthenticated("authentication required: send 'Authorization: Bearer <key>' or 'X-API-Key'")
    _rate_limit(request, principal)
    return principal


def _rate_limit(request: Request, principal: Principal) -> None:
    """Count this request against the caller's per-minute limit (once per request)."""
    limit = api_settings(request).rate_limit_per_minute
    if limit <= 0 or getattr(request.state, "rate_counted", False):
        return
    request.state.rate_counted = True
    get_engine(request).accounts.count_request(principal, limit)


def admin_principal(principal: Principal = Depends(current_principal)) -> Principal:
    """FastAPI dependency for admin-only routes: 403 for everyone else (the services check again)."""
    require_admin(principal, "this endpoint")
    return principal
