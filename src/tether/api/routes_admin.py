"""Administration over HTTP: users, groups and API keys. Every route here is admin-only,
enforced server-side by the ``admin_principal`` dependency (403 with the JSON error) and again
by ``engine.accounts``, which audits every change in the change's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tether.api.auth import admin_principal, get_engine
from tether.types import Principal

router = APIRouter(prefix="/v1", tags=["admin"], dependencies=[Depends(admin_principal)])


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: str = "member"
    kind: str = Field(default="user", pattern="^(user|service)$")
    groups: list[str] = Field(default_factory=list)


class NewGroup(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    members: list[str] = Field(default_factory=list)


class Member(BaseModel):
    user: str


class NewKey(BaseModel):
    user: str
    name: str = ""
    expires_in_days: float | None = Field(default=None, gt=0, le=36_500)
    #: The key's own upload quotas (0: none; omitted: the ``[ingest] key_max_*`` defaults).
    max_documents: int | None = Field(default=None, ge=0, le=2**31 - 1)
    max_bytes: int | None = Field(default=None, ge=0, le=2**63 - 1)
    max_chunks_per_document: int | None = Field(default=None, ge=0, le=2**31 - 1)
    max_active_jobs: int | None = Field(default=None, ge=0, le=2**31 - 1)


def _json(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data), status_code=status)


@router.get("/users")
def list_users(request: Request, me: Principal = Depends(admin_principal)):
    return _json({"users": get_engine(request).accounts.users(me)})


@router.post("/users", status_code=201)
def add_user(body: NewUser, request: Request, me: Principal = Depends(admin_principal)):
    return get_engine(request).accounts.add_user(me, body.name, role=body.role, kind=body.kind, groups=body.groups,
                                                 via="api")


@router.get("/groups")
def list_groups(request: Request, me: Principal = Depends(admin_principal)):
    return _json({"groups": get_engine(request).accounts.groups(me)})


@router.post("/groups", status_code=201)
def add_group(body: NewGroup, request: Request, me: Principal = Depends(admin_principal)):
    return get_engine(request).accounts.add_group(me, body.name, members=body.members, via="api")


@router.post("/groups/{group}/members", status_code=201)
def add_member(group: str, body: Member, request: Request, me: Principal = Depends(admin_principal)):
    return get_engine(request).accounts.add_member(me, group, body.user, via="api")


@router.delete("/groups/{group}/members/{user}")
def remove_member(group: str, user: str, request: Request, me: Principal = Depends(admin_principal)):
    removed = get_engine(request).accounts.remove_member(me, group, user, via="api")
    return {"group": group, "user": user, "removed": removed}


@router.get("/api-keys", summary="API keys (never the keys themselves)")
def list_keys(request: Request, user: str | None = None, me: Principal = Depends(admin_principal)):
    return _json({"api_keys": get_engine(request).accounts.keys(me, user)})


@router.post("/api-keys", status_code=201, summary="Create a key; the response shows it once")
def create_key(body: NewKey, request: Request, me: Principal = Depends(admin_principal)):
    expires = (datetime.now(UTC) + timedelta(days=body.expires_in_days)) if body.expires_in_days else None
    limits = body.model_dump(include={"max_documents", "max_bytes", "max_chunks_per_document", "max_active_jobs"})
    return _json(get_engine(request).accounts.create_key(me, body.user, name=body.name, expires_at=expires,
                                                         limits=limits, via="api"), 201)


@router.delete("/api-keys/{key}", summary="Revoke a key by id or prefix; it stops working at once")
def revoke_key(key: str, request: Request, me: Principal = Depends(admin_principal)):
    get_engine(request).accounts.revoke_key(me, key, via="api")
    return {"revoked": key}
