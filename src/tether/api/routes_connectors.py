"""Connectors over HTTP (administrators only): manage them, start a sync, and the push API.

``POST /v1/connectors/{id}/items`` stores pushed items durably and answers 202 with the sync
run that ingests them (a worker runs it; poll ``GET /v1/connectors/{id}``), and ``DELETE``
removes items at once (both idempotent by ``external_id``), for systems that push their changes
(a wiki's webhook) to a ``push`` connector. Every rule is ``engine.connectors``'; ``admin_principal`` refuses anyone
else with 403 before it runs. ``/ui/connectors`` is the administrators' page of the same figures.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from tether.api.auth import admin_principal, get_engine
from tether.types import Principal
from tether.ui.pages import not_found, page, signed_in, to_sign_in

router = APIRouter(prefix="/v1", tags=["connectors"], dependencies=[Depends(admin_principal)])
#: The admin page (its own router: a signed-out visitor is sent to sign in, not given a 401).
ui_router = APIRouter()


class NewConnector(BaseModel):
    name: str = Field(min_length=1, max_length=63)
    kind: str
    collection: str = "default"
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="the kind's options; secrets only as *_env / *_file names")
    interval_s: int | None = Field(default=None, gt=0)


class PushedItem(BaseModel):
    external_id: str = Field(min_length=1, max_length=1000)
    content: str | None = None
    content_base64: str | None = None
    filename: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=500)
    acl: list[str] = Field(default_factory=list)


class PushBody(BaseModel):
    items: list[PushedItem] = Field(min_length=1, max_length=500)


def _json(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data), status_code=status)


@router.get("/connectors", summary="Connectors with status, last run and next run")
def list_connectors(request: Request, me: Principal = Depends(admin_principal)):
    engine = get_engine(request)
    return _json({"connectors": engine.connectors.list(me), "kinds": engine.connectors.kinds()})


@router.post("/connectors", status_code=201, summary="Add a connector")
def add_connector(body: NewConnector, request: Request, me: Principal = Depends(admin_principal)):
    row = get_engine(request).connectors.add(me, body.name, body.kind, collection=body.collection,
                                             config=body.config, interval_s=body.interval_s)
    return _json(row, 201)


@router.get("/connectors/{ref}", summary="One connector with its runs and failed items")
def show_connector(ref: str, request: Request, me: Principal = Depends(admin_principal)):
    return _json(get_engine(request).connectors.show(me, ref))


@router.delete("/connectors/{ref}", summary="Remove a connector (and its documents unless keep_documents)")
def remove_connector(ref: str, request: Request, keep_documents: bool = False,
                     me: Principal = Depends(admin_principal)):
    return _json(get_engine(request).connectors.remove(me, ref, keep_documents=keep_documents))


@router.post("/connectors/{ref}/sync", status_code=202, summary="Enqueue a sync run (workers run it)")
def sync_connector(ref: str, request: Request, me: Principal = Depends(admin_principal)):
    return _json(get_engine(request).connectors.sync(me, ref), 202)


@router.post("/connectors/{ref}/items", status_code=202,
             summary="Push items: stored, then ingested by a worker (idempotent by external_id)")
def push_items(ref: str, body: PushBody, request: Request, me: Principal = Depends(admin_principal)):
    items = [i.model_dump() for i in body.items]
    return _json(get_engine(request).connectors.push(me, ref, items), 202)


@router.delete("/connectors/{ref}/items", summary="Delete pushed items by external_id (idempotent)")
def delete_items(ref: str, request: Request, external_id: list[str] = Query(..., min_length=1),
                 me: Principal = Depends(admin_principal)):
    return _json({"items": get_engine(request).connectors.unpush(me, ref, external_id)})


@ui_router.get("/ui/connectors", include_in_schema=False)
def connectors_page(request: Request) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    if not me.is_admin:
        return not_found(request, me)
    return page(request, "connectors.html", me, connectors=get_engine(request).connectors.list(me))
