"""Every error the API returns has one JSON shape: ``{"error": {"code", "message", ...}}``.

Library errors carry their code and status (``tether.errors``; their ``details.retry_after``
becomes ``Retry-After``, e.g. on 503 ``store_unavailable`` while PostgreSQL is down); here we
also translate the framework's own errors (unknown route, wrong method, validation, body too
large) and turn anything unexpected into ``internal`` without leaking its details.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tether.errors import TetherError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "invalid_input", 429: "rate_limited", 501: "not_implemented",
    503: "unavailable",
}


def error_body(code: str, message: str, **details: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **({"details": details} if details else {})}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   **details: object) -> JSONResponse:
    return JSONResponse(error_body(code, message, **details), status_code=status, headers=headers)


async def _tether_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TetherError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if "retry_after" in exc.details:  # 429 rate_limited, 503 store_unavailable
        headers = {"Retry-After": str(exc.details["retry_after"])}
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404:
        message = f"no route {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} not allowed on {request.url.path}"
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # the offending input is left out: it may be a long question or a document's text
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
              for e in exc.errors()]
    return error_response(422, "invalid_input", "the request is not valid", errors=errors)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal error; the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(TetherError, _tether_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
