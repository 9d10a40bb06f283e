"""Single sign-on pages: ``/ui/oidc/login`` sends the browser to the identity provider and
``/ui/oidc/callback`` turns its answer into a session cookie (``engine.directory``).

The state is random per sign-in, kept server-side with the nonce and PKCE verifier, redeemed
once, and also bound to the browser that started the sign-in by a short-lived HttpOnly cookie,
so a callback link made by someone else (login CSRF) does not sign this browser in. Only local
paths are accepted as the page to return to (no open redirect).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tether.api.auth import api_settings, get_engine
from tether.api.routes_session import set_session_cookie
from tether.errors import ProviderUnavailable, Unauthenticated
from tether.ui.pages import not_found, page

router = APIRouter(include_in_schema=False)
STATE_COOKIE = "tether_oidc_state"
_PATH = "/ui/oidc"


def _local(path: str | None) -> str:
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/ui/chat"
    return path


def _redirect_uri(request: Request) -> str:
    cfg = get_engine(request).directory.cfg
    return cfg.redirect_url or str(request.url_for("oidc_callback"))


def _failed(request: Request, message: str, status: int = 401) -> Response:
    response = page(request, "sign_in.html", None, status=status, error=message, sso=offer(request))
    response.delete_cookie(STATE_COOKIE, path=_PATH)
    return response


def offer(request: Request) -> dict[str, str] | None:
    """What the sign-in page needs to offer single sign-on (None when it is off)."""
    directory = get_engine(request).directory
    return {"label": directory.cfg.button_label, "url": "/ui/oidc/login"} if directory.enabled else None


@router.get("/ui/oidc/login")
def oidc_login(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query parameter
    directory = get_engine(request).directory
    if not directory.enabled:
        return not_found(request, None)
    try:
        url, state = directory.begin_sign_in(_redirect_uri(request), _local(next))
    except ProviderUnavailable as exc:
        return _failed(request, exc.message, status=503)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(STATE_COOKIE, state, max_age=directory.cfg.state_ttl_s, httponly=True, samesite="lax",
                        secure=api_settings(request).cookie_secure, path=_PATH)
    return response


@router.get("/ui/oidc/callback", name="oidc_callback")
def oidc_callback(request: Request, state: str = "", code: str = "", error: str = "",
                  error_description: str = "") -> Response:
    directory = get_engine(request).directory
    if not directory.enabled:
        return not_found(request, None)
    if error:
        return _failed(request, f"the identity provider refused the sign-in: {error_description or error}")
    bound = request.cookies.get(STATE_COOKIE, "")
    if not state or not bound or not hmac.compare_digest(bound, state):
        return _failed(request, "this sign-in was not started in this browser; start the sign-in again")
    try:
        _, sid, return_to = directory.complete_sign_in(state=state, code=code, redirect_uri=_redirect_uri(request),
                                                       ttl_s=api_settings(request).session_ttl_s)
    except Unauthenticated as exc:
        return _failed(request, exc.message)
    except ProviderUnavailable as exc:
        return _failed(request, exc.message, status=503)
    response = RedirectResponse(_local(return_to), status_code=303)
    set_session_cookie(request, response, sid)
    response.delete_cookie(STATE_COOKIE, path=_PATH)
    return response
