"""POST /v1/ask (JSON or Server-Sent Events) and POST /v1/search: questions in, engine calls out."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from tether.api.auth import api_settings, current_principal, get_engine
from tether.api.errors import error_body
from tether.api.fields import UtcDateTime
from tether.errors import InvalidInput, QuestionTooLong, TetherError
from tether.retrieve.filters import SearchFilter
from tether.types import Principal

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["answers"])


class Filters(BaseModel):
    collections: list[str] = Field(default_factory=list, max_length=50)
    classifications: list[str] = Field(default_factory=list, max_length=20)
    date_from: UtcDateTime | None = Field(default=None, description="dated on or after (ISO 8601; naive = UTC)")
    date_to: UtcDateTime | None = Field(default=None, description="dated on or before (ISO 8601; naive = UTC)")
    source: str | None = Field(default=None, max_length=2000, description="source URI prefix, e.g. file:///srv/hr/")

    def to_filter(self) -> SearchFilter | None:
        if not (self.collections or self.classifications or self.date_from or self.date_to or self.source):
            return None
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidInput("date_from is after date_to")
        return SearchFilter(collections=tuple(self.collections), classifications=tuple(self.classifications),
                            date_from=self.date_from, date_to=self.date_to, source_prefix=self.source or None)


class AskRequest(Filters):
    question: str = Field(min_length=1)
    model: str | None = Field(default=None, description="a configured model name; default model when empty")
    stream: bool = Field(default=False, description="answer as Server-Sent Events (also: Accept: text/event-stream)")
    mode: Literal["plain", "research"] = Field(
        default="plain", description="research: plan the question into steps (sub-questions, second hops), each "
                                     "retrieving inside your permissions; the stream reports plan and step events")


class SearchRequest(Filters):
    query: str = Field(min_length=1)
    k: int = Field(default=10, ge=1)
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"


def check_question(request: Request, text: str) -> str:
    limit = api_settings(request).max_question_chars
    if len(text) > limit:
        raise QuestionTooLong(f"the question is {len(text):,} characters; the limit is {limit:,}", limit=limit)
    if not text.strip():
        raise InvalidInput("the question is empty")
    return text


def check_model(request: Request, name: str | None) -> str | None:
    """A configured model name (None = the default); 422 listing the valid ones otherwise."""
    if not name or name == "tether":
        return None
    models = get_engine(request).settings.generate.models
    if name not in models:
        raise InvalidInput(f"unknown model {name!r}; models: tether (the default), {', '.join(sorted(models))}")
    return name


def sse(event: dict) -> str:
    """One Server-Sent Event; the event name is the engine event's ``type``."""
    return f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, ensure_ascii=False, default=str)}\n\n"


def guarded(events: Iterator[dict], on_done=None) -> Iterator[dict]:
    """Engine events, ending in an ``error`` event (never a broken stream) if the engine fails."""
    try:
        for ev in events:
            if ev.get("type") == "done" and on_done is not None:
                on_done(ev)
            yield ev
    except TetherError as exc:
        yield {"type": "error", **exc.to_dict()}
    except Exception:  # noqa: BLE001 - the client gets the one error shape, the log the details
        log.exception("stream failed")
        yield {"type": "error", **error_body("internal", "internal error; the server log has the details")}


@router.post("/ask", summary="Ask a question; grounded answer with citations, or an abstention")
def ask(body: AskRequest, request: Request, principal: Principal = Depends(current_principal)):
    check_question(request, body.question)
    body.model = check_model(request, body.model)
    engine, metrics = get_engine(request), request.app.state.metrics
    wants_sse = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if wants_sse:
        def on_done(ev: dict) -> None:
            metrics.record_answer("ask", bool(ev["answer"].get("abstained")))

        events = guarded(engine.ask_stream(principal, body.question, model=body.model, flt=body.to_filter(),
                                           mode=body.mode), on_done)
        return StreamingResponse((sse(e) for e in events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    result = engine.ask(principal, body.question, model=body.model, flt=body.to_filter(), mode=body.mode)
    metrics.record_answer("ask", result.answer.abstained)
    return JSONResponse(json.loads(json.dumps(result.to_dict(), default=str)))


@router.post("/search", summary="Hybrid search inside the caller's permissions")
def search(body: SearchRequest, request: Request, principal: Principal = Depends(current_principal)):
    check_question(request, body.query)
    limits = api_settings(request)
    k = min(body.k, limits.max_search_k)
    res = get_engine(request).search(principal, body.query, k=k, mode=body.mode, flt=body.to_filter())
    cut = limits.max_snippet_chars  # bounded responses whatever the documents hold
    hits = [
        {"rank": i + 1, "score": round(p.score, 6), "scores": p.scores, "document_id": p.document_id,
         "title": p.title[:cut], "chunk_id": p.chunk_id, "char_start": p.char_start, "char_end": p.char_end,
         "section": [s[:cut] for s in p.section_path], "page": p.page, "text": p.text[:cut],
         "truncated": len(p.text) > cut, "authoritative": p.authoritative}
        for i, p in enumerate(res.passages)
    ]
    return {"query": body.query, "mode": body.mode, "hits": hits, "timings_ms": res.timings_ms}
