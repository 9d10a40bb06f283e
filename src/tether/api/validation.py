"""Invalid text is refused at the edge, once, for every route: a typed 422, never a 500.

PostgreSQL cannot store a NUL character and UTF-8 cannot encode an unpaired surrogate (JSON's
``"\\ud800"``), so either reaching the store or a response used to end in a 500 with a dropped
connection (and, on a stream, an answer whose trace and audit record were lost). Two checks
cover every way text comes in:

* :class:`TextCheckMiddleware` looks at the URL (path and query string) of every request,
  including unknown routes and static files, before any routing;
* :func:`check_body`, a dependency of the whole app, walks every string (keys included) of the
  parsed JSON or form body of every route, after FastAPI has parsed it (so nothing is parsed
  twice).

Both answer with the one validation error shape: ``{"error": {"code": "invalid_input",
"message": ..., "details": {"errors": [{"loc", "msg", "type"}]}}}``; the offending value is
never echoed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Receive, Scope, Send

from tether.errors import InvalidInput

MESSAGE = "the request is not valid"
_MAX_DEPTH = 64


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be accepted as text (None when it can)."""
    if "\x00" in value:
        return "NUL characters are not allowed in text"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "unpaired UTF-16 surrogates are not valid text"
    return None


def problems(value: object, loc: tuple[str | int, ...], depth: int = 0) -> Iterator[dict]:
    """Every invalid string in a parsed JSON value (keys too), with its location."""
    if depth > _MAX_DEPTH:
        yield {"loc": list(loc), "msg": "the value is nested too deeply", "type": "too_deep"}
    elif isinstance(value, str):
        why = text_problem(value)
        if why:
            yield {"loc": list(loc), "msg": why, "type": "invalid_text"}
    elif isinstance(value, dict):
        for key, item in value.items():
            why = text_problem(str(key))
            if why:
                yield {"loc": [*loc, "(key)"], "msg": why, "type": "invalid_text"}
                continue
            yield from problems(item, (*loc, key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from problems(item, (*loc, i), depth + 1)


def refuse(errors: list[dict]) -> InvalidInput:
    return InvalidInput(MESSAGE, errors=errors[:20])


def _is_json(content_type: str) -> bool:
    main = content_type.split(";", 1)[0].strip().lower()
    return not main or main == "application/json" or (main.startswith("application/") and main.endswith("+json"))


async def check_body(request: Request) -> None:
    """App-wide dependency: 422 when the JSON or form body holds invalid text."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    ctype = request.headers.get("content-type", "")
    errors: list[dict] = []
    if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()  # parsed already for form routes (starlette caches it)
        for key, item in form.multi_items():
            text = (item.filename or "") if isinstance(item, UploadFile) else item
            for where, value in ((("body", "(key)"), key), (("body", key), text)):
                why = text_problem(value)
                if why:
                    errors.append({"loc": list(where), "msg": why, "type": "invalid_text"})
    elif _is_json(ctype):
        if not await request.body():
            return
        try:
            data = await request.json()  # cached: FastAPI parsed it for the route
        except (ValueError, UnicodeDecodeError):
            return  # not JSON: the route's own validation answers
        errors = list(problems(data, ("body",)))
    if errors:
        raise refuse(errors)


def url_problems(scope: Scope) -> list[dict]:
    """Invalid text in the request's path or query string."""
    errors = []
    why = text_problem(scope.get("path", ""))
    if why:
        errors.append({"loc": ["path"], "msg": why, "type": "invalid_text"})
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or "\x00" in query:  # percent-decoding replaces bad UTF-8: NUL is all that is left
        for key, value in parse_qsl(query, keep_blank_values=True):
            for where, text in ((["query", "(key)"], key), (["query", key], value)):
                why = text_problem(text)
                if why:
                    errors.append({"loc": where, "msg": why, "type": "invalid_text"})
    return errors


class TextCheckMiddleware:
    """Refuses a request whose URL holds invalid text before it is routed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            errors = url_problems(scope)
            if errors:
                body = json.dumps(refuse(errors).to_dict()).encode()
                await send({"type": "http.response.start", "status": 422,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
