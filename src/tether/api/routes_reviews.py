"""The human hand-off queue and answer feedback over HTTP.

Askers create items ("ask a human") and see their own (question, status, reviewed answer);
reviewers and administrators see the queue, with evidence from documents they may not read
withheld, and claim, answer, dismiss and promote items. Someone else's item is 404 to askers.
``/v1/review-requests`` is the older name of ``/v1/reviews`` (kept for the UI and clients).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tether.api.auth import api_settings, current_principal, get_engine
from tether.errors import QuestionTooLong
from tether.review.service import MAX_ANSWER_CHARS, MAX_COMMENT
from tether.types import Principal

router = APIRouter(prefix="/v1", tags=["reviews"])

Status = Literal["open", "claimed", "answered", "dismissed"]
Source = Literal["abstention", "low_confidence", "budget_refusal", "feedback", "user_request"]


_ID = Field(default=None, ge=0, le=2**63 - 1)
_OFFSET = Field(default=None, ge=0, le=2**31 - 1)


class SeenCitation(BaseModel):
    """A citation as the asker was shown it; the ids and offsets are re-checked against the
    store (``review.resolve_evidence``), so typing them here only keeps bad JSON out."""

    model_config = ConfigDict(extra="allow")
    number: int | None = Field(default=None, ge=0, le=100_000)
    document_id: int | None = _ID
    chunk_id: int | None = _ID
    doc_start: int | None = _OFFSET
    doc_end: int | None = _OFFSET
    char_start: int | None = _OFFSET
    char_end: int | None = _OFFSET
    page: int | None = Field(default=None, ge=0, le=1_000_000)
    title: str | None = Field(default=None, max_length=2000)
    quote: str | None = Field(default=None, max_length=20_000)


class SeenSentence(BaseModel):
    model_config = ConfigDict(extra="allow")
    citations: list[SeenCitation] = Field(default_factory=list, max_length=100)


class SeenAnswer(BaseModel):
    """The answer the asker saw (as ``/v1/ask`` returned it); wrong JSON types are a 422."""

    model_config = ConfigDict(extra="allow")
    text: str = Field(default="", max_length=MAX_ANSWER_CHARS)
    abstained: bool = False
    escalate: bool = False
    reasons: list[str] = Field(default_factory=list, max_length=50)
    model: str | None = Field(default=None, max_length=200)
    citations: list[SeenCitation] = Field(default_factory=list, max_length=200)
    sentences: list[SeenSentence] = Field(default_factory=list, max_length=500)

    def plain(self) -> dict:
        return self.model_dump(exclude_unset=True)


class NewReview(BaseModel):
    question: str = Field(min_length=1)
    reason: str = Field(default="", max_length=500)
    #: The answer the asker saw (its citations become the item's evidence, re-checked).
    answer: SeenAnswer | None = None
    trace_id: str | None = Field(default=None, max_length=64)


class ReviewAnswer(BaseModel):
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)


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
    comment: str = Field(default="", max_length=MAX_COMMENT)
    #: The answer the asker saw (a thumbs-down sends it to the review queue).
    answer: SeenAnswer | None = None
    #: Used only when the trace did not record the question.
    question: str = Field(default="", max_length=4000)


def _json(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data), status_code=status)


def create_item(request: Request, principal: Principal, body: NewReview) -> dict:
    limit = api_settings(request).max_question_chars
    if len(body.question) > limit:
        raise QuestionTooLong(f"the question is {len(body.question):,} characters; the limit is {limit:,}")
    return get_engine(request).reviews.ask(principal, body.question, reason=body.reason, trace_id=body.trace_id,
                                           answer=body.answer.plain() if body.answer else None)


@router.post("/reviews", status_code=201, summary="Ask a human: put a question in the review queue")
def add_review(body: NewReview, request: Request, principal: Principal = Depends(current_principal)):
    return _json(create_item(request, principal, body), 201)


@router.get("/reviews", summary="Reviewers: the queue (filters: status, source); others: their own items")
def list_reviews(request: Request, status: Status | None = None, source: Source | None = None, mine: bool = False,
                 limit: int = Query(100, ge=1, le=1000), principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).reviews.overview(principal, status=status, source=source, mine=mine,
                                                      limit=limit))


@router.get("/reviews/{item_id}", summary="One review item (someone else's: 404 unless you review)")
def get_review(item_id: int, request: Request, principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).reviews.get(principal, item_id))


@router.post("/reviews/{item_id}/claim", summary="Take an open item (409 if someone else has)")
def claim_review(item_id: int, request: Request, principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).reviews.claim(principal, item_id))


@router.post("/reviews/{item_id}/release", summary="Put your claimed item back in the queue")
def release_review(item_id: int, request: Request, principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).reviews.release(principal, item_id))


@router.post("/reviews/{item_id}/answer", summary="Answer an open item or one you claimed")
def answer_review(item_id: int, body: ReviewAnswer, request: Request,
                  principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).reviews.answer(principal, item_id, body.answer))


@router.post("/reviews/{item_id}/dismiss", summary="Close an item without an answer")
def dismiss_review(item_id: int, body: Dismissal, request: Request,
                   principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).reviews.dismiss(principal, item_id, body.reason))


@router.post("/reviews/{item_id}/promote", summary="Append an answered item to the golden set as a case")
def promote_review(item_id: int, request: Request, body: Promotion | None = None,
                   principal: Principal = Depends(current_principal)):
    body = body or Promotion()
    return _json(get_engine(request).reviews.promote(principal, item_id, facts=body.key_facts,
                                                     must_abstain=body.must_abstain))


# the older names ------------------------------------------------------------------------------
@router.post("/review-requests", status_code=201, summary="Ask a human (alias of POST /v1/reviews)")
def add_review_request(body: NewReview, request: Request, principal: Principal = Depends(current_principal)):
    item = create_item(request, principal, body)
    return {"id": item["id"], "status": item["status"]}


@router.get("/review-requests", summary="Your review requests; reviewers: the queue (alias of GET /v1/reviews)")
def list_review_requests(request: Request, principal: Principal = Depends(current_principal)):
    return _json({"review_requests": get_engine(request).reviews.list(principal)})


# feedback -------------------------------------------------------------------------------------
@router.post("/feedback", status_code=201, summary="Rate an answer you were given (thumbs-down: to review)")
def add_feedback(body: Feedback, request: Request, principal: Principal = Depends(current_principal)):
    out = get_engine(request).reviews.rate(principal, body.trace_id, body.rating, body.comment,
                                           answer=body.answer.plain() if body.answer else None, question=body.question)
    return _json(out, 201 if out["created"] else 200)


@router.get("/feedback", summary="Administrators: all feedback with up/down counts; others: their own")
def list_feedback(request: Request, rating: Literal["up", "down"] | None = None, limit: int = Query(100, ge=1, le=1000),
                  principal: Principal = Depends(current_principal)):
    return _json(get_engine(request).reviews.feedback(principal, rating=rating, limit=limit))
