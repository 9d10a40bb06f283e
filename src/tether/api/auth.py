"""Who is calling: an API key (``Authorization: Bearer`` or ``X-API-Key``), a UI session cookie
or, with ``[oidc] accept_bearer_tokens``, a JWT access token of the identity provider
(``engine.directory``; its groups and role still come from the database).

Permissions are resolved fresh from the database on every request (``engine.accounts``), so a
revoked key or membership takes effect at once. Browser sessions are accepted for unsafe
methods only from the same origin (SameSite=Lax plus an Origin check), and a non-JSON POST
with the session cookie needs a CSRF token (``tether.api.csrf``).

Failed authentications (a bad API key here, a failed sign-in in ``routes_session``) are counted
per source address and per API-key prefix (``[api] auth_failures_per_minute``); over the limit,
every attempt from that address or for that prefix is refused with 429 before the credential
is even checked, so a correct guess is refused too. Bad session cookies are not counted: a
session id cannot be guessed, and an expired cookie in a browser must not lock its address out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, Request

import tether.api.csrf as csrf
from tether.engine import Tether
from tether.errors import PermissionDenied, Unauthenticated
from tether.services.permissions import require_admin
from tether.settings import ApiSettings
from tether.types import Principal

_SAFE = {"GET", "HEAD", "OPTIONS"}
T = TypeVar("T")


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


def failure_keys(request: Request, key: str | None) -> list[str]:
    """The counters a failed authentication goes to: its source address and its key prefix."""
    keys = [f"authfail:ip:{request.client.host if request.client else 'unknown'}"]
    parts = (key or "").split("_")
    if len(parts) >= 3 and parts[0] == "tth" and 1 <= len(parts[1]) <= 16 and parts[1].isalnum():
        keys.append(f"authfail:key:{parts[1]}")
    return keys


def throttled(request: Request, key: str | None, attempt: Callable[[], T]) -> T:
    """``attempt()`` (an authentication with ``key``) unless too many have failed lately from
    this address or for this key prefix; a failure (Unauthenticated) is counted, then re-raised."""
    limit = api_settings(request).auth_failures_per_minute
    if limit <= 0:
        return attempt()
    accounts = get_engine(request).accounts
    keys = failure_keys(request, key)
    accounts.check_auth_failures(keys, limit)
    try:
        return attempt()
    except Unauthenticated:
        accounts.record_auth_failure(keys)
        raise


def authenticate(request: Request) -> Principal | None:
    """The caller's principal, None when no credential was presented; bad credentials raise."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    accounts = get_engine(request).accounts
    key = presented_key(request)
    principal: Principal | None = None
    directory = get_engine(request).directory
    if key is not None and key.count(".") == 2 and directory.cfg.accept_bearer_tokens:
        # an OAuth2 JWT access token of the configured issuer ([oidc] accept_bearer_tokens)
        principal = throttled(request, None, lambda: directory.authenticate_access_token(key))
        request.state.auth_kind = "oidc_token"
    elif key is not None:
        principal = throttled(request, key, lambda: accounts.authenticate_key(key))
        request.state.auth_kind = "api_key"
    else:
        sid = request.cookies.get(api_settings(request).session_cookie)
        if sid:
            principal = accounts.session_principal(sid)
            if request.method not in _SAFE and not _same_origin(request):
                raise PermissionDenied("cross-origin request with a session cookie refused")
            csrf.check_session_post(request)
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
