"""Administration over HTTP: users, groups and API keys. Every route here is admin-only,
enforced server-side by the ``admin_principal`` dependency (403 with the JSON error)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tether.api.auth import admin_principal, get_engine
from tether.store import api_keys, audit, principals

router = APIRouter(prefix="/v1", tags=["admin"], dependencies=[Depends(admin_principal)])


def _audit(conn, request: Request, action: str, target: str, **details: object) -> None:
    """Every admin change is in the append-only audit log, in the change's own transaction."""
    actor = getattr(request.state, "principal", None)
    audit.record(conn, action, actor_id=actor.id if actor else None, target=target, details=details)


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
    expires_in_days: float | None = Field(default=None, gt=0)


@router.get("/users")
def list_users(request: Request):
    with get_engine(request).db.connection() as conn:
        return JSONResponse(jsonable_encoder({"users": principals.list_users(conn)}))


@router.post("/users", status_code=201)
def add_user(body: NewUser, request: Request):
    with get_engine(request).db.transaction() as conn:
        pid = principals.add_user(conn, body.name, role=body.role, kind=body.kind)
        for g in body.groups:
            principals.ensure_group(conn, g)
            principals.add_member(conn, body.name, g)
        _audit(conn, request, "admin.user.add", body.name, role=body.role, kind=body.kind, groups=body.groups)
    return {"id": pid, "name": body.name, "role": body.role, "kind": body.kind, "groups": body.groups}


@router.get("/groups")
def list_groups(request: Request):
    with get_engine(request).db.connection() as conn:
        return JSONResponse(jsonable_encoder({"groups": principals.list_groups(conn)}))


@router.post("/groups", status_code=201)
def add_group(body: NewGroup, request: Request):
    with get_engine(request).db.transaction() as conn:
        principals.ensure_group(conn, body.name)
        for m in body.members:
            principals.add_member(conn, m, body.name)
        _audit(conn, request, "admin.group.add", body.name, members=body.members)
    return {"name": body.name, "members": body.members}


@router.post("/groups/{group}/members", status_code=201)
def add_member(group: str, body: Member, request: Request):
    with get_engine(request).db.transaction() as conn:
        principals.add_member(conn, body.user, group)
        _audit(conn, request, "admin.member.add", group, user=body.user)
    return {"group": group, "user": body.user}


@router.delete("/groups/{group}/members/{user}")
def remove_member(group: str, user: str, request: Request):
    with get_engine(request).db.transaction() as conn:
        removed = principals.remove_member(conn, user, group)
        _audit(conn, request, "admin.member.remove", group, user=user, removed=removed)
    return {"group": group, "user": user, "removed": removed}


@router.get("/api-keys", summary="API keys (never the keys themselves)")
def list_keys(request: Request, user: str | None = None):
    with get_engine(request).db.connection() as conn:
        return JSONResponse(jsonable_encoder({"api_keys": api_keys.list_keys(conn, user)}))


@router.post("/api-keys", status_code=201, summary="Create a key; the response shows it once")
def create_key(body: NewKey, request: Request):
    expires = (datetime.now(timezone.utc) + timedelta(days=body.expires_in_days)) if body.expires_in_days else None
    with get_engine(request).db.transaction() as conn:
        created = api_keys.create_key(conn, body.user, name=body.name, expires_at=expires)
        _audit(conn, request, "admin.key.create", body.user, key_id=created.get("id"), prefix=created.get("prefix"),
               expires_at=expires.isoformat() if expires else None)
    return JSONResponse(jsonable_encoder(created), status_code=201)


@router.delete("/api-keys/{key}", summary="Revoke a key by id or prefix; it stops working at once")
def revoke_key(key: str, request: Request):
    with get_engine(request).db.transaction() as conn:
        api_keys.revoke(conn, key)
        _audit(conn, request, "admin.key.revoke", key)
    return {"revoked": key}
