"""The human hand-off queue and answer feedback over HTTP.

Askers create items ("ask a human") and see their own (question, status, reviewed answer);
reviewers and administrators see the queue, with evidence from documents they may not read
withheld, and claim, answer, dismiss and promote items. Someone else's item is 404 to askers.
``/v1/review-requests`` is the older name of ``/v1/reviews`` (kept for the UI and clients).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tether.api.auth import api_settings, current_principal, get_engine
from tether.api.errors import QuestionTooLong
from tether.errors import NotFound
from tether.review.promote import default_path, promote
from tether.store import feedback, reviews
from tether.types import Principal

router = APIRouter(prefix="/v1", tags=["reviews"])

Status = Literal["open", "claimed", "answered", "dismissed"]
Source = Literal["abstention", "low_confidence", "budget_refusal", "feedback", "user_request"]


class NewReview(BaseModel):
    question: str = Field(min_length=1)
    reason: str = Field(default="", max_length=500)
    #: The answer the asker saw (its citations become the item's evidence, re-checked).
    answer: dict | None = None
    trace_id: str | None = Field(default=None, max_length=64)


class ReviewAnswer(BaseModel):
    answer: str = Field(min_length=1, max_length=reviews.MAX_ANSWER_CHARS)


class Dismissal(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class Promotion(BaseModel):
    #: Facts the answer must contain (default: the figures, amounts and dates in the reviewed answer).
    key_facts: list[str] | None = Field(default=None, max_length=20)
    #: The right outcome is "not found in the documents" (an unanswerable case).
    must_abstain: bool = False


class Feedback(BaseModel):
    trace_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=feedback.MAX_COMMENT)
    #: The answer the asker saw (a thumbs-down sends it to the review queue).
    answer: dict | None = None
    #: Used only when the trace did not record the question.
    question: str = Field(default="", max_length=4000)


def _json(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data), status_code=status)


def create_item(request: Request, principal: Principal, body: NewReview) -> int:
    limit = api_settings(request).max_question_chars
    if len(body.question) > limit:
        raise QuestionTooLong(f"the question is {len(body.question):,} characters; the limit is {limit:,}")
    with get_engine(request).db.transaction() as conn:
        trace_id = body.trace_id
        if trace_id:  # only the asker's own trace is linked (another's, or one not stored: none)
            try:
                feedback.own_trace(conn, principal, trace_id)
            except NotFound:
                trace_id = None
        return reviews.create(conn, principal, body.question, source="user_request", reason=body.reason,
                              trace_id=trace_id, answer=body.answer)


@router.post("/reviews", status_code=201, summary="Ask a human: put a question in the review queue")
def add_review(body: NewReview, request: Request, principal: Principal = Depends(current_principal)):
    rid = create_item(request, principal, body)
    with get_engine(request).db.connection() as conn:
        return _json(reviews.get(conn, rid, principal), 201)


@router.get("/reviews", summary="Reviewers: the queue (filters: status, source); others: their own items")
def list_reviews(request: Request, status: Status | None = None, source: Source | None = None, mine: bool = False,
                 limit: int = 100, principal: Principal = Depends(current_principal)):
    with get_engine(request).db.connection() as conn:
        items = reviews.list_items(conn, principal, status=status, source=source, mine=mine, limit=limit)
        out: dict[str, object] = {"reviews": items}
        if reviews.is_reviewer(principal) and not mine:
            out["counts"] = reviews.counts(conn)
    return _json(out)


@router.get("/reviews/{item_id}", summary="One review item (someone else's: 404 unless you review)")
def get_review(item_id: int, request: Request, principal: Principal = Depends(current_principal)):
    with get_engine(request).db.connection() as conn:
        return _json(reviews.get(conn, item_id, principal))


@router.post("/reviews/{item_id}/claim", summary="Take an open item (409 if someone else has)")
def claim_review(item_id: int, request: Request, principal: Principal = Depends(current_principal)):
    with get_engine(request).db.transaction() as conn:
        return _json(reviews.claim(conn, item_id, principal))


@router.post("/reviews/{item_id}/release", summary="Put your claimed item back in the queue")
def release_review(item_id: int, request: Request, principal: Principal = Depends(current_principal)):
    with get_engine(request).db.transaction() as conn:
        return _json(reviews.release(conn, item_id, principal))


@router.post("/reviews/{item_id}/answer", summary="Answer an open item or one you claimed")
def answer_review(item_id: int, body: ReviewAnswer, request: Request,
                  principal: Principal = Depends(current_principal)):
    with get_engine(request).db.transaction() as conn:
        return _json(reviews.answer(conn, item_id, principal, body.answer))


@router.post("/reviews/{item_id}/dismiss", summary="Close an item without an answer")
def dismiss_review(item_id: int, body: Dismissal, request: Request,
                   principal: Principal = Depends(current_principal)):
    with get_engine(request).db.transaction() as conn:
        return _json(reviews.dismiss(conn, item_id, principal, body.reason))


@router.post("/reviews/{item_id}/promote", summary="Append an answered item to the golden set as a case")
def promote_review(item_id: int, request: Request, body: Promotion | None = None,
                   principal: Principal = Depends(current_principal)):
    body = body or Promotion()
    engine = get_engine(request)
    out = promote(engine.db, item_id, principal, default_path(engine.settings), facts=body.key_facts,
                  must_abstain=body.must_abstain)
    return _json(out)


# the older names ------------------------------------------------------------------------------
@router.post("/review-requests", status_code=201, summary="Ask a human (alias of POST /v1/reviews)")
def add_review_request(body: NewReview, request: Request, principal: Principal = Depends(current_principal)):
    rid = create_item(request, principal, body)
    with get_engine(request).db.connection() as conn:
        item = reviews.get(conn, rid, principal)
    return {"id": rid, "status": item["status"]}


@router.get("/review-requests", summary="Your review requests; reviewers: the queue (alias of GET /v1/reviews)")
def list_review_requests(request: Request, principal: Principal = Depends(current_principal)):
    with get_engine(request).db.connection() as conn:
        return _json({"review_requests": reviews.list_items(conn, principal)})


# feedback -------------------------------------------------------------------------------------
@router.post("/feedback", status_code=201, summary="Rate an answer you were given (thumbs-down: to review)")
def add_feedback(body: Feedback, request: Request, principal: Principal = Depends(current_principal)):
    with get_engine(request).db.transaction() as conn:
        out = feedback.record(conn, principal, body.trace_id, body.rating, body.comment, answer=body.answer,
                              question=body.question)
    return _json(out, 201 if out["created"] else 200)


@router.get("/feedback", summary="Administrators: all feedback with up/down counts; others: their own")
def list_feedback(request: Request, rating: Literal["up", "down"] | None = None, limit: int = 100,
                  principal: Principal = Depends(current_principal)):
    with get_engine(request).db.connection() as conn:
        return _json(feedback.list_feedback(conn, principal, rating=rating, limit=limit))

