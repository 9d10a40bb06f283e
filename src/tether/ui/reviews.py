"""The review pages: the queue for reviewers and administrators (claim, answer, dismiss,
promote: htmx posts that swap the item's card) and "My questions" for everyone. They call the
same review service as the API (``engine.reviews``) with the signed-in principal, so evidence a
reviewer may not read is withheld here exactly as there."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

import tether.api.csrf as csrf
from tether.api.auth import get_engine
from tether.errors import TetherError
from tether.review.service import SOURCES
from tether.types import Principal
from tether.ui.pages import page, signed_in, to_sign_in

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf.require_form_token)])

#: The queue's status filter: label -> statuses ("active" is the default).
FILTERS = {"active": ("open", "claimed"), "open": ("open",), "claimed": ("claimed",), "answered": ("answered",),
           "dismissed": ("dismissed",), "all": ()}
SOURCE_LABELS = {"abstention": "not found", "low_confidence": "low confidence", "budget_refusal": "over budget",
                 "feedback": "thumbs down", "user_request": "asked for a human"}
ASKER_STATUS = {"open": "Waiting for a reviewer", "claimed": "A reviewer is on it", "answered": "Answered",
                "dismissed": "Closed"}


@router.get("/ui/reviews")
def reviews_page(request: Request, status: str = "active", source: str = "") -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    status = status if status in FILTERS else "active"
    source = source if source in SOURCES else ""
    queue_service = get_engine(request).reviews
    mine = queue_service.list(me, mine=True)
    queue = counts = None
    if queue_service.is_reviewer(me):
        queue = queue_service.list(me, status=FILTERS[status], source=source or None)
        counts = queue_service.counts(me)
    return page(request, "reviews.html", me, mine=mine, queue=queue, counts=counts, status_filter=status, source=source,
                filters=list(FILTERS), sources=SOURCE_LABELS, asker_status=ASKER_STATUS)


def _item(request: Request, me: Principal, item: dict, error: str = "", status: int = 200) -> Response:
    return page(request, "_review_item.html", me, status=status, item=item, error=error, sources=SOURCE_LABELS)


def _act(request: Request, item_id: int, action: Callable[[Principal], dict]) -> Response:
    """Run ``action(me)`` (a review service call); re-render the card (with the error, if any)
    for htmx to swap in."""
    me = signed_in(request)
    if me is None:
        return HTMLResponse("", status_code=401)
    try:
        return _item(request, me, action(me))
    except TetherError as exc:
        try:
            item = get_engine(request).reviews.get(me, item_id)
        except TetherError:
            return HTMLResponse(f'<p class="error" role="alert">{exc.code}</p>', status_code=exc.status)
        return _item(request, me, item, error=exc.message)


@router.post("/ui/reviews/{item_id}/claim")
def claim(request: Request, item_id: int) -> Response:
    return _act(request, item_id, lambda me: get_engine(request).reviews.claim(me, item_id))


@router.post("/ui/reviews/{item_id}/release")
def release(request: Request, item_id: int) -> Response:
    return _act(request, item_id, lambda me: get_engine(request).reviews.release(me, item_id))


@router.post("/ui/reviews/{item_id}/answer")
def answer(request: Request, item_id: int, answer: str = Form("")) -> Response:
    return _act(request, item_id, lambda me: get_engine(request).reviews.answer(me, item_id, answer))


@router.post("/ui/reviews/{item_id}/dismiss")
def dismiss(request: Request, item_id: int, reason: str = Form("")) -> Response:
    return _act(request, item_id, lambda me: get_engine(request).reviews.dismiss(me, item_id, reason))


@router.post("/ui/reviews/{item_id}/promote")
def promote_item(request: Request, item_id: int) -> Response:
    return _act(request, item_id, lambda me: get_engine(request).reviews.promote(me, item_id)["item"])
