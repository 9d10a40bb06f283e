"""The review pages: the queue for reviewers and administrators (claim, answer, dismiss,
promote: htmx posts that swap the item's card) and "My questions" for everyone. They call the
same store as the API with the signed-in principal, so evidence a reviewer may not read is
withheld here exactly as there."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tether.api.auth import get_engine
from tether.errors import TetherError
from tether.review.promote import default_path, promote
from tether.store import reviews
from tether.types import Principal
from tether.ui.routes import _page, _principal, _to_sign_in

router = APIRouter(include_in_schema=False)

#: The queue's status filter: label -> statuses ("active" is the default).
FILTERS = {"active": ("open", "claimed"), "open": ("open",), "claimed": ("claimed",), "answered": ("answered",),
           "dismissed": ("dismissed",), "all": ()}
SOURCE_LABELS = {"abstention": "not found", "low_confidence": "low confidence", "budget_refusal": "over budget",
                 "feedback": "thumbs down", "user_request": "asked for a human"}
ASKER_STATUS = {"open": "Waiting for a reviewer", "claimed": "A reviewer is on it", "answered": "Answered",
                "dismissed": "Closed"}


@router.get("/ui/reviews")
def reviews_page(request: Request, status: str = "active", source: str = "") -> Response:
    me = _principal(request)
    if me is None:
        return _to_sign_in()
    status = status if status in FILTERS else "active"
    source = source if source in reviews.SOURCES else ""
    with get_engine(request).db.connection() as conn:
        mine = reviews.list_items(conn, me, mine=True)
        queue = reviews.list_items(conn, me, status=FILTERS[status], source=source or None) \
            if reviews.is_reviewer(me) else None
        counts = reviews.counts(conn) if queue is not None else None
    return _page(request, "reviews.html", me, mine=mine, queue=queue, counts=counts, status_filter=status, source=source,
                 filters=list(FILTERS), sources=SOURCE_LABELS, asker_status=ASKER_STATUS)


def _item(request: Request, me: Principal, item: dict, error: str = "", status: int = 200) -> Response:
    return _page(request, "_review_item.html", me, status=status, item=item, error=error, sources=SOURCE_LABELS)


def _act(request: Request, item_id: int, action) -> Response:
    """Run ``action(conn, me)``; re-render the card (with the error, if any) for htmx to swap in."""
    me = _principal(request)
    if me is None:
        return HTMLResponse("", status_code=401)
    engine = get_engine(request)
    try:
        item = action(me)
        return _item(request, me, item)
    except TetherError as exc:
        with engine.db.connection() as conn:
            try:
                item = reviews.get(conn, item_id, me)
            except TetherError:
                return HTMLResponse(f'<p class="error" role="alert">{exc.code}</p>', status_code=exc.status)
        return _item(request, me, item, error=exc.message)


def _tx(request: Request, fn):
    def run(me: Principal) -> dict:
        with get_engine(request).db.transaction() as conn:
            return fn(conn, me)
    return run


@router.post("/ui/reviews/{item_id}/claim")
def claim(request: Request, item_id: int) -> Response:
    return _act(request, item_id, _tx(request, lambda conn, me: reviews.claim(conn, item_id, me)))


@router.post("/ui/reviews/{item_id}/release")
def release(request: Request, item_id: int) -> Response:
    return _act(request, item_id, _tx(request, lambda conn, me: reviews.release(conn, item_id, me)))


@router.post("/ui/reviews/{item_id}/answer")
def answer(request: Request, item_id: int, answer: str = Form("")) -> Response:
    return _act(request, item_id, _tx(request, lambda conn, me: reviews.answer(conn, item_id, me, answer)))


@router.post("/ui/reviews/{item_id}/dismiss")
def dismiss(request: Request, item_id: int, reason: str = Form("")) -> Response:
    return _act(request, item_id, _tx(request, lambda conn, me: reviews.dismiss(conn, item_id, me, reason)))


@router.post("/ui/reviews/{item_id}/promote")
def promote_item(request: Request, item_id: int) -> Response:
    engine = get_engine(request)
    return _act(request, item_id,
                lambda me: promote(engine.db, item_id, me, default_path(engine.settings))["item"])
