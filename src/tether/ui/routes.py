"""Pages of the web UI: sign-in, chat and documents, and ``mount_ui``, which adds the other page
modules. They call the same services as the API with the signed-in principal, so a page can
only ever show what that principal may read."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

import tether.api.csrf as csrf
from tether.api.auth import get_engine
from tether.api.routes_session import end_session, set_session_cookie, start_session
from tether.errors import NotFound, RateLimited, Unauthenticated
from tether.services.documents import DocumentService, supported_extensions
from tether.ui import people, routes_eval, routes_traces, sso
from tether.ui import reviews as review_pages
from tether.ui.pages import HERE, not_found, page, signed_in, to_sign_in

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf.require_form_token)])


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/ui/chat" if signed_in(request) else "/ui/sign-in", status_code=303)


@router.get("/ui/sign-in")
def sign_in_page(request: Request) -> Response:
    return page(request, "sign_in.html", None, sso=sso.offer(request))


@router.post("/ui/sign-in")
def sign_in(request: Request, api_key: str = Form("")) -> Response:
    try:
        _, sid = start_session(request, api_key.strip())
    except (Unauthenticated, RateLimited) as exc:
        return page(request, "sign_in.html", None, status=exc.status, error=exc.message, sso=sso.offer(request))
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
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    return page(request, "chat.html", me)


@router.get("/ui/documents")
def documents(request: Request) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    return page(request, "documents.html", me, docs=get_engine(request).documents.catalogue(me),
                extensions=", ".join(supported_extensions()))


@router.get("/ui/documents/table")
def documents_table(request: Request) -> Response:
    """The documents table alone, for htmx to refresh after an upload, edit or delete."""
    me = signed_in(request)
    if me is None:
        return HTMLResponse("", status_code=401)
    return page(request, "_documents_table.html", me, docs=get_engine(request).documents.catalogue(me))


@router.get("/ui/documents/{doc_id}")
def document(request: Request, doc_id: int, start: int | None = None, end: int | None = None) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    try:
        doc = get_engine(request).documents.view(me, doc_id)
    except NotFound:
        return not_found(request, me)
    body: str = doc["body"]
    parts = None
    if start is not None and end is not None and 0 <= start < end <= len(body):
        parts = (body[:start], body[start:end], body[end:])
    return page(request, "document.html", me, doc=doc, parts=parts, can_manage=DocumentService.can_manage(me, doc))


def mount_ui(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(sso.router)  # /ui/oidc/login and /ui/oidc/callback ([oidc])
    app.include_router(people.router)  # /ui/people: users and groups with their directory source
    app.include_router(routes_traces.router)
    app.include_router(routes_eval.router)
    app.include_router(review_pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
