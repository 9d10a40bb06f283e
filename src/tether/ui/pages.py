"""What every page of the web UI shares: the templates, who is signed in, and the responses
for "sign in first" and "not found".

Why its own module: ``ui/routes.py`` mounts the page modules (``reviews``, ``routes_traces``,
``routes_eval``, the usage page in ``api/routes_usage``) and they all render through these
helpers; keeping the helpers here lets each import them without importing each other.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

import tether.api.csrf as csrf
from tether.api.auth import authenticate
from tether.errors import Unauthenticated
from tether.types import Principal

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def signed_in(request: Request) -> Principal | None:
    """The signed-in principal (session cookie or API key), or None."""
    try:
        return authenticate(request)
    except Unauthenticated:
        return None


def page(request: Request, name: str, principal: Principal | None, status: int = 200, **ctx: object) -> HTMLResponse:
    """Render template ``name`` for ``principal`` (``me`` in the template) with the page's CSRF
    token (``csrf_token``; the cookie it is bound to is set when the browser had none)."""
    response = templates.TemplateResponse(request, name, {"me": principal, "csrf_token": csrf.token(request), **ctx},
                                          status_code=status)
    csrf.issue(request, response)
    return response


def to_sign_in() -> RedirectResponse:
    return RedirectResponse("/ui/sign-in", status_code=303)


def not_found(request: Request, principal: Principal | None, name: str = "not_found.html",
              **ctx: object) -> HTMLResponse:
    """The 404 page: what a page shows for something absent or not the viewer's to see."""
    return page(request, name, principal, status=404, **ctx)
