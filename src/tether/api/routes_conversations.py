"""``/v1/conversations``: threads (create, list, get, rename, delete) and their turns (continue,
as JSON or Server-Sent Events; rate a turn). Every call acts as the caller: another user's thread
id is the same 404 as a missing one. The turns run the one answer pipeline (services/conversations.py)."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from tether.api.auth import current_principal, get_engine
from tether.api.routes_ask import check_model, check_question, guarded, sse
from tether.types import Principal

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


class NewThread(BaseModel):
    title: str = Field(default="", max_length=500)


class Rename(BaseModel):
    title: str = Field(min_length=1, max_length=500)


class Turn(BaseModel):
    question: str = Field(min_length=1)
    model: str | None = Field(default=None, description="a configured model name; default model when empty")
    stream: bool = Field(default=False, description="answer as Server-Sent Events (also: Accept: text/event-stream)")


class Rating(BaseModel):
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=2000)


def _json(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse(json.loads(json.dumps(data, default=str)), status_code=status)


@router.post("", status_code=201, summary="Start a conversation")
def create(request: Request, body: NewThread | None = None, principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).conversations.create(principal, body.title if body else ""), 201)


@router.get("", summary="Your conversations, most recently updated first")
def list_threads(request: Request, limit: int = 100, principal: Principal = Depends(current_principal)):
    return _json({"conversations": get_engine(request).conversations.list(principal, limit)})


@router.get("/{cid}", summary="A conversation with its turns (answers re-checked against your permissions)")
def get(cid: str, request: Request, principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).conversations.get(principal, cid))


@router.patch("/{cid}", summary="Rename a conversation")
def rename(cid: str, body: Rename, request: Request, principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).conversations.rename(principal, cid, body.title))


@router.delete("/{cid}", summary="Delete a conversation, its turns and their cached answers")
def delete(cid: str, request: Request, principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).conversations.delete(principal, cid))


@router.post("/{cid}/turns", summary="Continue a conversation: the follow-up is rewritten, then answered")
def turn(cid: str, body: Turn, request: Request, principal: Principal = Depends(current_principal)):
    check_question(request, body.question)
    model = check_model(request, body.model)
    engine, metrics = get_engine(request), request.app.state.metrics
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        def on_done(ev: dict) -> None:
            metrics.record_answer("conversation", bool(ev["answer"].get("abstained")))

        events = guarded(engine.conversations.stream(principal, cid, body.question, model=model), on_done)
        return StreamingResponse((sse(e) for e in events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    out = engine.conversations.ask(principal, cid, body.question, model=model)
    metrics.record_answer("conversation", bool(out["answer"]["abstained"]))
    return _json(out)


@router.post("/{cid}/turns/{ordinal}/feedback", status_code=201, summary="Rate a turn's answer")
def rate(cid: str, ordinal: int, body: Rating, request: Request, principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).conversations.rate(principal, cid, ordinal, body.rating, body.comment), 201)
