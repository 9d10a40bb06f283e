"""The SCIM 2.0 server (RFC 7644) at ``/scim/v2``: Users and Groups with ``attr eq "value"``
filters, ``startIndex``/``count`` pagination, PATCH, PUT and DELETE, for identity providers.

Wiring only: the rules are ``engine.provisioning`` (services/provisioning.py), the wire format
``tether.identity.scim``. SCIM clients expect SCIM's own error shape (``schemas``, ``status``,
``scimType``, ``detail``) and ``application/scim+json``, so errors are rendered here instead of
Tether's JSON error shape. The bearer token is the one named by ``[scim] token_env``; SCIM is
off (404) unless ``[scim] enabled``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tether.api.auth import get_engine, presented_key
from tether.errors import Conflict, InvalidInput, TetherError
from tether.identity import scim
from tether.services.provisioning import ProvisioningService

router = APIRouter(prefix="/scim/v2", tags=["scim"])

Handler = Callable[..., Response]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, media_type=scim.MEDIA_TYPE, headers=headers)


def _error(exc: TetherError) -> JSONResponse:
    status = 400 if isinstance(exc, InvalidInput) and exc.status != 413 else exc.status
    scim_type = exc.details.get("scim_type") or ("uniqueness" if isinstance(exc, Conflict) else None)
    if status == 400 and not scim_type:
        scim_type = "invalidValue"
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return _json(scim.error_body(status, exc.message, str(scim_type) if scim_type else None), status, headers)


def scim_route(path: str, method: str) -> Callable[[Handler], Handler]:
    """Register ``fn(request, body, **path_params)`` (run in the thread pool: it reaches the
    database) behind the bearer-token check; every Tether error becomes a SCIM error."""

    def register(fn: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                _service(request).check_token(presented_key(request))
                body = await _body(request) if method in ("POST", "PUT", "PATCH") else None
                return await run_in_threadpool(fn, request, body, **request.path_params)
            except TetherError as exc:
                return _error(exc)

        endpoint.__name__ = f"scim_{fn.__name__}"
        router.add_api_route(path, endpoint, methods=[method], name=f"scim_{fn.__name__}")
        return fn

    return register


def _service(request: Request) -> ProvisioningService:
    return get_engine(request).provisioning


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/scim/v2"


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise scim.invalid(f"the body is not JSON: {exc}", "invalidSyntax") from exc


def _paging(request: Request) -> tuple[tuple[str, str] | None, int, int | None]:
    q = request.query_params
    try:
        start = max(1, int(q.get("startIndex", "1")))
        count = int(q["count"]) if "count" in q else None
    except ValueError as exc:
        raise scim.invalid("startIndex and count must be integers") from exc
    return scim.parse_filter(q.get("filter")), start, count


# --- discovery (RFC 7644 section 4) ------------------------------------------------------------
@scim_route("/ServiceProviderConfig", "GET")
def service_provider_config(request: Request, body: Any) -> Response:
    return _json({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": True}, "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": _service(request).cfg.max_results},
        "changePassword": {"supported": False}, "sort": {"supported": False}, "etag": {"supported": False},
        "authenticationSchemes": [{"type": "oauthbearertoken", "name": "Bearer token",
                                   "description": "The token named by [scim] token_env", "primary": True}],
        "meta": {"resourceType": "ServiceProviderConfig", "location": _base(request) + "/ServiceProviderConfig"},
    })


@scim_route("/ResourceTypes", "GET")
def resource_types(request: Request, body: Any) -> Response:
    base = _base(request)
    types = [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": name, "name": name,
              "endpoint": f"/{name}s", "schema": schema,
              "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"}}
             for name, schema in (("User", scim.USER), ("Group", scim.GROUP))]
    return _json(scim.list_response(types, len(types), 1))


# --- users ---------------------------------------------------------------------------------------
@scim_route("/Users", "GET")
def list_users(request: Request, body: Any) -> Response:
    flt, start, count = _paging(request)
    total, rows = _service(request).users(flt, start, count)
    return _json(scim.list_response([scim.user_resource(r, _base(request)) for r in rows], total, start))


@scim_route("/Users", "POST")
def create_user(request: Request, body: Any) -> Response:
    row = _service(request).create_user(scim.user_fields(body))
    res = scim.user_resource(row, _base(request))
    return _json(res, 201, {"Location": res["meta"]["location"]})


@scim_route("/Users/{resource_id}", "GET")
def get_user(request: Request, body: Any, resource_id: str) -> Response:
    return _json(scim.user_resource(_service(request).user(resource_id), _base(request)))


@scim_route("/Users/{resource_id}", "PUT")
def replace_user(request: Request, body: Any, resource_id: str) -> Response:
    row = _service(request).replace_user(resource_id, scim.user_fields(body))
    return _json(scim.user_resource(row, _base(request)))


@scim_route("/Users/{resource_id}", "PATCH")
def patch_user(request: Request, body: Any, resource_id: str) -> Response:
    row = _service(request).patch_user(resource_id, scim.user_patch(body))
    return _json(scim.user_resource(row, _base(request)))


@scim_route("/Users/{resource_id}", "DELETE")
def delete_user(request: Request, body: Any, resource_id: str) -> Response:
    _service(request).delete_user(resource_id)
    return Response(status_code=204)


# --- groups --------------------------------------------------------------------------------------
@scim_route("/Groups", "GET")
def list_groups(request: Request, body: Any) -> Response:
    flt, start, count = _paging(request)
    excluded = {a.strip().lower() for a in request.query_params.get("excludedAttributes", "").split(",")}
    total, rows = _service(request).groups(flt, start, count, members="members" not in excluded)
    resources = [scim.group_resource(r, _base(request)) for r in rows]
    if "members" in excluded:
        for r in resources:
            r.pop("members", None)
    return _json(scim.list_response(resources, total, start))


@scim_route("/Groups", "POST")
def create_group(request: Request, body: Any) -> Response:
    row = _service(request).create_group(scim.group_fields(body))
    res = scim.group_resource(row, _base(request))
    return _json(res, 201, {"Location": res["meta"]["location"]})


@scim_route("/Groups/{resource_id}", "GET")
def get_group(request: Request, body: Any, resource_id: str) -> Response:
    return _json(scim.group_resource(_service(request).group(resource_id), _base(request)))


@scim_route("/Groups/{resource_id}", "PUT")
def replace_group(request: Request, body: Any, resource_id: str) -> Response:
    row = _service(request).replace_group(resource_id, scim.group_fields(body))
    return _json(scim.group_resource(row, _base(request)))


@scim_route("/Groups/{resource_id}", "PATCH")
def patch_group(request: Request, body: Any, resource_id: str) -> Response:
    row = _service(request).patch_group(resource_id, scim.group_patch(body))
    return _json(scim.group_resource(row, _base(request)))


@scim_route("/Groups/{resource_id}", "DELETE")
def delete_group(request: Request, body: Any, resource_id: str) -> Response:
    _service(request).delete_group(resource_id)
    return Response(status_code=204)
