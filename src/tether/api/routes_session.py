"""Who am I, browser sign-in/out, and "ask a human" review requests.

Sign-in exchanges an API key for an HttpOnly, SameSite=Lax session cookie; only a hash of the
session id is stored server-side (``store/sessions``), and the session dies with its key.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tether.api.auth import api_settings, current_principal, get_engine
from tether.api.errors import QuestionTooLong
from tether.store import api_keys, review_requests, sessions
from tether.types import Principal

router = APIRouter(prefix="/v1", tags=["session"])


class SignIn(BaseModel):
    api_key: str = Field(min_length=1, max_length=200)


class ReviewRequest(BaseModel):
    question: str = Field(min_length=1)
    reason: str = Field(default="", max_length=500)
    answer: dict | None = None


def principal_view(p: Principal) -> dict:
    return {"id": p.id, "name": p.name, "kind": p.kind, "role": p.role, "groups": list(p.group_names)}


@router.get("/me")
def me(principal: Principal = Depends(current_principal)):
    return principal_view(principal)


def start_session(request: Request, key: str) -> tuple[Principal, str]:
    """Authenticate ``key`` (401 if bad) and open a session; returns the principal and session id."""
    with get_engine(request).db.transaction() as conn:
        principal = api_keys.authenticate(conn, key)
        sid = sessions.open_session(conn, key, principal, ttl_s=api_settings(request).session_ttl_s)
    return principal, sid


def set_session_cookie(request: Request, response: Response, sid: str) -> None:
    cfg = api_settings(request)
    response.set_cookie(cfg.session_cookie, sid, max_age=cfg.session_ttl_s, httponly=True, samesite="lax",
                        secure=cfg.cookie_secure, path="/")


def end_session(request: Request, response: Response) -> None:
    cfg = api_settings(request)
    sid = request.cookies.get(cfg.session_cookie)
    if sid:
        with get_engine(request).db.transaction() as conn:
            sessions.close_session(conn, sid)
    response.delete_cookie(cfg.session_cookie, path="/")


@router.post("/session", summary="Sign in: exchange an API key for a session cookie")
def sign_in(body: SignIn, request: Request):
    principal, sid = start_session(request, body.api_key)
    response = JSONResponse(principal_view(principal))
    set_session_cookie(request, response, sid)
    return response


@router.delete("/session", summary="Sign out")
def sign_out(request: Request):
    response = JSONResponse({"signed_out": True})
    end_session(request, response)
    return response


@router.post("/review-requests", status_code=201, summary="Ask a human: record a question for review")
def add_review_request(body: ReviewRequest, request: Request, principal: Principal = Depends(current_principal)):
    limit = api_settings(request).max_question_chars
    if len(body.question) > limit:
        raise QuestionTooLong(f"the question is {len(body.question):,} characters; the limit is {limit:,}")
    with get_engine(request).db.transaction() as conn:
        rid = review_requests.add_request(conn, principal, body.question, body.reason, body.answer)
    return {"id": rid, "status": "open"}


@router.get("/review-requests", summary="Your review requests (admins and reviewers: all)")
def list_review_requests(request: Request, principal: Principal = Depends(current_principal)):
    everyone = principal.role in ("admin", "reviewer")
    with get_engine(request).db.connection() as conn:
        rows = review_requests.list_requests(conn, None if everyone else principal.id)
    return JSONResponse(jsonable_encoder({"review_requests": rows}))
