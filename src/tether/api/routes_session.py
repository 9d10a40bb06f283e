"""Who am I, and browser sign-in/out ("ask a human" review requests: ``routes_reviews``).

Sign-in exchanges an API key for an HttpOnly, SameSite=Lax session cookie; only a hash of the
session id is stored server-side (``engine.accounts``), and the session dies with its key.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tether.api.auth import api_settings, current_principal, get_engine, throttled
from tether.types import Principal

router = APIRouter(prefix="/v1", tags=["session"])


class SignIn(BaseModel):
    api_key: str = Field(min_length=1, max_length=200)


def principal_view(p: Principal) -> dict:
    return {"id": p.id, "name": p.name, "kind": p.kind, "role": p.role, "groups": list(p.group_names)}


@router.get("/me")
def me(principal: Principal = Depends(current_principal)):
    return principal_view(principal)


def start_session(request: Request, key: str) -> tuple[Principal, str]:
    """Authenticate ``key`` (401 if bad; 429 after too many failures from this address or for this
    key prefix) and open a session; returns the principal and session id."""
    accounts = get_engine(request).accounts
    return throttled(request, key, lambda: accounts.open_session(key, ttl_s=api_settings(request).session_ttl_s))


def set_session_cookie(request: Request, response: Response, sid: str) -> None:
    cfg = api_settings(request)
    response.set_cookie(cfg.session_cookie, sid, max_age=cfg.session_ttl_s, httponly=True, samesite="lax",
                        secure=cfg.cookie_secure, path="/")


def end_session(request: Request, response: Response) -> None:
    cfg = api_settings(request)
    sid = request.cookies.get(cfg.session_cookie)
    if sid:
        get_engine(request).accounts.close_session(sid)
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
