"""The FastAPI application: wiring only (engine lifecycle, middleware, error shape, routers).

``create_app(settings)`` is used by ``tether serve``, by tests (which pass their own engine or
database) and by ``tether.api.server:app_from_env`` for multi-process serving.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from tether.api import (
    errors,
    observability,
    ops,
    routes_admin,
    routes_ask,
    routes_documents,
    routes_mcp,
    routes_openai,
    routes_reviews,
    routes_session,
    routes_traces,
)
from tether.api.headers import SecurityHeadersMiddleware
from tether.api.limits import BodyLimitMiddleware
from tether.api.metrics import Metrics, MetricsMiddleware
from tether.api.validation import TextCheckMiddleware, check_body
from tether.engine import Tether
from tether.settings import Settings

log = logging.getLogger(__name__)


def _start_worker(engine: Tether) -> tuple[threading.Event, threading.Thread]:
    """An ingest worker thread in this process, so uploads are processed without a separate
    ``tether worker`` (turn off with TETHER_API__RUN_WORKER=false when dedicated workers run)."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                engine.work(until_empty=False, stop=stop)
            except Exception:  # noqa: BLE001 - keep serving; retry after a pause
                log.exception("ingest worker stopped; restarting in 5 s")
                stop.wait(5)

    thread = threading.Thread(target=run, name="tether-ingest-worker", daemon=True)
    thread.start()
    return stop, thread


def create_app(settings: Settings, *, engine: Tether | None = None,
               secrets: Mapping[str, str] | None = None) -> FastAPI:
    """The app. With ``engine`` given, the caller owns it (it is not closed on shutdown).
    The HTTP edge's limits are ``settings.api`` (``[api]``, ``TETHER_API__*``)."""
    api_cfg = settings.api
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = engine is None
        eng = engine or Tether(settings, secrets=secrets if secrets is not None else os.environ)
        eng.warm_up()  # load the models before the first request (readiness follows startup)
        app.state.engine = eng
        worker = _start_worker(eng) if api_cfg.run_worker else None
        app.state.observability = observed = observability.start(eng, metrics)  # metrics, OTLP, purge, drift
        mcp = await routes_mcp.start(app, eng)  # the MCP transport behind /mcp
        try:
            yield
        finally:
            await mcp.aclose()
            observability.stop(observed)
            if worker is not None:
                worker[0].set()
                worker[1].join(timeout=30)
            if own:
                eng.close()

    # /docs and /openapi.json are served by ``ops`` (administrators only); every route's body is
    # checked for invalid text (NUL, lone surrogates) by ``check_body``
    app = FastAPI(title="Tether", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, dependencies=[Depends(check_body)],
                  description="Permission-aware, grounded answers from your documents. "
                              "Errors always have the shape {\"error\": {\"code\", \"message\", \"details\"?}}.")
    app.state.api_settings = api_cfg
    app.state.metrics = metrics
    errors.install(app)
    for module in (routes_ask, routes_documents, routes_admin, routes_openai, routes_session):
        app.include_router(module.router)
    app.include_router(routes_reviews.router)
    from tether.api import routes_eval

    app.include_router(routes_eval.router)
    app.include_router(routes_traces.router)
    from tether.api import routes_usage  # GET /v1/usage, /v1/budgets (admin), the /ui/usage page

    app.include_router(routes_usage.router)
    from tether.api import routes_conversations  # /v1/conversations (threads and turns)

    app.include_router(routes_conversations.router)
    from tether.api import routes_connectors  # /v1/connectors (admin) and the push API

    app.include_router(routes_connectors.router)
    app.include_router(routes_connectors.ui_router)
    from tether.api import routes_scim  # /scim/v2: provisioning by the identity provider ([scim])

    app.include_router(routes_scim.router)
    routes_mcp.mount(app)  # /mcp: the MCP server over streamable HTTP, per-request API-key principal

    @app.get("/healthz", tags=["ops"], summary="The process is up")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="The database is reachable")
    def readyz(request: Request):
        try:
            request.app.state.engine.operations.ping()
        except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
            log.warning("readiness check failed: %s", exc)
            return JSONResponse(errors.error_body("store_unavailable", "database unreachable"), status_code=503)
        return {"status": "ready"}

    app.include_router(ops.router)  # /metrics, /openapi.json, /docs: administrators or the metrics token

    from tether.ui.routes import mount_ui

    mount_ui(app)
    upload_limit = settings.ingest.max_file_bytes + api_cfg.upload_overhead_bytes
    app.add_middleware(TextCheckMiddleware)  # NUL in a path or query string: 422 before routing
    app.add_middleware(BodyLimitMiddleware, default_limit=api_cfg.max_body_bytes, upload_limit=upload_limit)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: every response, rejections included
    return app
