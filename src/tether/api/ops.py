"""The operator's endpoints, ``/metrics``, ``/openapi.json`` and ``/docs``, behind a credential.

They used to be public: the metrics name every route and model and count answers, the schema
maps the whole surface. Now each needs an administrator (API key or signed-in session);
``/metrics`` also accepts ``Authorization: Bearer <[api] metrics_token>`` for a Prometheus
scraper that should hold no user key. ``[api] ops_public = true`` opens all three again, for
deployments where the port is reachable only from a private network. ``/healthz`` and
``/readyz`` stay open (load balancers).

The docs page loads Swagger UI from its CDN and runs one inline script, so it gets its own
Content-Security-Policy naming that script's hash; every other page keeps the strict one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tether.api.auth import api_settings, authenticate, presented_key
from tether.api.metrics import Metrics
from tether.errors import Unauthenticated
from tether.services.permissions import require_admin

router = APIRouter(include_in_schema=False)
CDN = "https://cdn.jsdelivr.net"


def require_operator(request: Request, *, token_ok: bool = False) -> None:
    """401/403 unless ops endpoints are public, the caller is an administrator, or (``token_ok``)
    the caller presents the metrics token."""
    cfg = api_settings(request)
    if cfg.ops_public:
        return
    if token_ok and cfg.metrics_token:
        presented = presented_key(request) or ""
        if hmac.compare_digest(presented.encode(), cfg.metrics_token.encode()):
            return
    principal = authenticate(request)
    if principal is None:
        raise Unauthenticated("authentication required: an administrator's key (or the metrics token)")
    require_admin(principal, "this endpoint")


@router.get("/metrics")
def prometheus(request: Request) -> Response:
    require_operator(request, token_ok=True)
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    require_operator(request)
    return JSONResponse(request.app.openapi())


def _docs_page() -> tuple[bytes, str]:
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="Tether API").body
    body = bytes(page)
    inline = re.findall(rb"<script>(.*?)</script>", body, flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in inline)
    csp = (f"default-src 'self'; script-src {CDN} {hashes}; style-src {CDN} 'unsafe-inline'; "
           f"img-src 'self' data: https:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
           f"frame-ancestors 'none'")
    return body, csp


_DOCS: tuple[bytes, str] | None = None


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    global _DOCS
    require_operator(request)
    _DOCS = _DOCS or _docs_page()
    body, csp = _DOCS
    return HTMLResponse(body, headers={"Content-Security-Policy": csp})
