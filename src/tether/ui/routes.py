"""Pages of the web UI. They call the same engine and stores as the API, with the signed-in
principal, so a page can only ever show what that principal may read."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from tether.api.auth import authenticate, get_engine
from tether.api.routes_documents import readable
from tether.api.routes_session import end_session, set_session_cookie, start_session
from tether.engine import supported_extensions
from tether.errors import NotFound, Unauthenticated
from tether.store import principals as principals_store
from tether.types import Principal

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def _principal(request: Request) -> Principal | None:
    try:
        return authenticate(request)
    except Unauthenticated:
        return None


def _page(request: Request, name: str, principal: Principal | None, status: int = 200, **ctx: object) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"me": principal, **ctx}, status_code=status)


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/ui/sign-in", status_code=303)


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/ui/chat" if _principal(request) else "/ui/sign-in", status_code=303)


@router.get("/ui/sign-in")
def sign_in_page(request: Request) -> Response:
    return _page(request, "sign_in.html", None)


@router.post("/ui/sign-in")
def sign_in(request: Request, api_key: str = Form("")) -> Response:
    try:
        _, sid = start_session(request, api_key.strip())
    except Unauthenticated as exc:
        return _page(request, "sign_in.html", None, status=401, error=exc.message)
    response = RedirectResponse("/ui/chat", status_code=303)
    set_session_cookie(request, response, sid)
    return response


@router.post("/ui/sign-out")
def sign_out(request: Request) -> Response:
    response = RedirectResponse("/ui/sign-in", status_code=303)
    end_session(request, response)
    return response


@router.get("/ui/chat")
def chat(request: Request) -> Response:
    me = _principal(request)
    if me is None:
        return _to_sign_in()
    return _page(request, "chat.html", me)


def _documents(request: Request, me: Principal) -> list[dict]:
    engine = get_engine(request)
    rows = engine.list_documents(None if me.is_admin else me)
    with engine.db.connection() as conn:
        for r in rows:
            r["acl_readable"] = principals_store.describe_acl(conn, r["acl"]) if me.is_admin else None
    return rows


@router.get("/ui/documents")
def documents(request: Request) -> Response:
    me = _principal(request)
    if me is None:
        return _to_sign_in()
    return _page(request, "documents.html", me, docs=_documents(request, me),
                 extensions=", ".join(supported_extensions()))


@router.get("/ui/documents/table")
def documents_table(request: Request) -> Response:
    """The documents table alone, for htmx to refresh after an upload, edit or delete."""
    me = _principal(request)
    if me is None:
        return HTMLResponse("", status_code=401)
    return _page(request, "_documents_table.html", me, docs=_documents(request, me))


@router.get("/ui/documents/{doc_id}")
def document(request: Request, doc_id: int, start: int | None = None, end: int | None = None) -> Response:
    me = _principal(request)
    if me is None:
        return _to_sign_in()
    try:
        doc = readable(get_engine(request), me, doc_id)
    except NotFound:
        return _page(request, "not_found.html", me, status=404)
    body: str = doc["body"]
    parts = None
    if start is not None and end is not None and 0 <= start < end <= len(body):
        parts = (body[:start], body[start:end], body[end:])
    can_manage = me.is_admin or doc.get("owner_id") == me.id
    return _page(request, "document.html", me, doc=doc, parts=parts, can_manage=can_manage)


def mount_ui(app: FastAPI) -> None:
    from tether.ui import routes_eval
    from tether.ui import reviews as review_pages

    app.include_router(router)
    from tether.ui import routes_traces

    app.include_router(routes_traces.router)
    app.include_router(routes_eval.router)
    app.include_router(review_pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")


