"""The review queue's one service: the API (``/v1/reviews``, ``/v1/feedback``), the review pages
and ``tether review`` all call these methods, with the acting principal.

The rules (the SQL behind them, and a second check of each, are in ``store/reviews.py``):

- anyone may put their own question in the queue ("ask a human") and rate answers they were
  given (a thumbs-down opens an item); a trace is linked only when it is the asker's own;
- askers see their own items (question, status, reviewed answer); to them anyone else's item
  does not exist (NotFound, as for an absent id);
- reviewers and administrators see the queue and work it (claim, release, answer, dismiss,
  promote); evidence from documents *they* may not read is withheld (a placeholder without id,
  title, offsets or text), and so is a draft answer that relies on such a document;
- working an item you can see but may not review is PermissionDenied.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tether.errors import NotFound
from tether.review.promote import default_path, promote
from tether.services.permissions import require_reviewer
from tether.settings import Settings
from tether.store import feedback, reviews
from tether.store.db import Database
from tether.types import Answer, Principal

log = logging.getLogger(__name__)

SOURCES = reviews.SOURCES
STATUSES = reviews.STATUSES
MAX_ANSWER_CHARS = reviews.MAX_ANSWER_CHARS
MAX_COMMENT = feedback.MAX_COMMENT


class ReviewService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    # opening items ----------------------------------------------------------------------------
    def hand_off(self, principal: Principal, question: str, *, source: str, trace_id: str | None = None,
                 answer: Answer | dict | None = None, passages: list | None = None) -> int:
        """Open a review item for ``question`` (source: abstention | low_confidence | budget_refusal |
        feedback | user_request); returns its id. Evidence comes from ``passages`` and the answer's
        citations, re-checked against ``principal``'s permissions. An open item of the same asker
        with the same question is reused. Raises store errors (see ``auto_hand_off``)."""
        ans: dict[str, Any] | None = answer.to_dict() if isinstance(answer, Answer) else answer
        reason = ", ".join(str(r) for r in (ans or {}).get("reasons", []) or []) or source
        with self.db.transaction() as conn:
            return reviews.create(conn, principal, question, source=source, reason=reason, trace_id=trace_id,
                                  answer=ans, evidence=reviews.evidence_from_passages(passages or []))

    def auto_hand_off(self, principal: Principal, question: str, *, source: str, trace_id: str | None = None,
                      answer: Answer | dict | None = None, passages: list | None = None) -> int | None:
        """``hand_off`` when ``review.auto_create`` is on and ``source`` is in ``review.sources``;
        never raises (the answer path must not fail because the queue did): logs and returns None."""
        cfg = self.settings.review
        if not cfg.auto_create or source not in cfg.sources:
            return None
        try:
            return self.hand_off(principal, question, source=source, trace_id=trace_id, answer=answer,
                                 passages=passages)
        except Exception:  # noqa: BLE001 - the asker still gets their answer
            log.exception("could not open a review item (%s)", source)
            return None

    def ask(self, principal: Principal, question: str, *, reason: str = "", trace_id: str | None = None,
            answer: dict | None = None) -> dict:
        """"Ask a human": put ``question`` in the queue (``answer``: what the asker saw; its
        citations become evidence, re-checked). Returns the item as the asker sees it."""
        with self.db.transaction() as conn:
            if trace_id:  # only the asker's own trace is linked (another's, or one not stored: none)
                try:
                    feedback.own_trace(conn, principal, trace_id)
                except NotFound:
                    trace_id = None
            rid = reviews.create(conn, principal, question, source="user_request", reason=reason,
                                 trace_id=trace_id, answer=answer)
        with self.db.connection() as conn:
            return reviews.get(conn, rid, principal)

    # reading ----------------------------------------------------------------------------------
    @staticmethod
    def is_reviewer(principal: Principal) -> bool:
        return principal.is_reviewer

    def list(self, viewer: Principal, *, status: str | Iterable[str] | None = None, source: str | None = None,
             mine: bool = False, limit: int = 100) -> list[dict]:
        """Reviewers: the queue, newest first (``status``: one or several); everyone else, or
        ``mine``: their own items."""
        with self.db.connection() as conn:
            return reviews.list_items(conn, viewer, status=status, source=source, mine=mine, limit=limit)

    def counts(self, viewer: Principal) -> dict[str, int]:
        """Items per status (reviewers' dashboards)."""
        require_reviewer(viewer)
        with self.db.connection() as conn:
            return reviews.counts(conn)

    def overview(self, viewer: Principal, *, status: str | None = None, source: str | None = None,
                 mine: bool = False, limit: int = 100) -> dict[str, Any]:
        """``{"reviews": list(...)}``, plus ``counts`` for a reviewer looking at the queue."""
        out: dict[str, Any] = {"reviews": self.list(viewer, status=status, source=source, mine=mine, limit=limit)}
        if viewer.is_reviewer and not mine:
            out["counts"] = self.counts(viewer)
        return out

    def get(self, viewer: Principal, item_id: int) -> dict:
        """One item as ``viewer`` may see it; NotFound when absent or someone else's (askers)."""
        with self.db.connection() as conn:
            return reviews.get(conn, item_id, viewer)

    # working the queue --------------------------------------------------------------------------
    def _work(self, reviewer: Principal, item_id: int, change, *args: object) -> dict:
        """Check ``reviewer`` may see (NotFound) and review (PermissionDenied) the item, then make
        one change in a transaction; returns the item as they now see it."""
        with self.db.transaction() as conn:
            reviews.get(conn, item_id, reviewer)
            require_reviewer(reviewer)
            return change(conn, item_id, reviewer, *args)

    def claim(self, reviewer: Principal, item_id: int) -> dict:
        """Take an open item (Conflict when another reviewer has)."""
        return self._work(reviewer, item_id, reviews.claim)

    def release(self, reviewer: Principal, item_id: int) -> dict:
        """Put an item you claimed (administrators: any claimed item) back in the queue."""
        return self._work(reviewer, item_id, reviews.release)

    def answer(self, reviewer: Principal, item_id: int, text: str) -> dict:
        """Answer an open item or one you claimed; the asker sees the answer."""
        return self._work(reviewer, item_id, reviews.answer, text)

    def dismiss(self, reviewer: Principal, item_id: int, reason: str) -> dict:
        """Close an item without an answer (the reason is required)."""
        return self._work(reviewer, item_id, reviews.dismiss, reason)

    def promote(self, reviewer: Principal, item_id: int, *, path: str | Path | None = None,
                facts: builtins.list[str] | None = None, must_abstain: bool = False) -> dict[str, Any]:
        """Append an answered item to a golden set (default ``review.golden_path`` or
        ``<data_dir>/golden/reviewed.yaml``) and mark it promoted: ``{item, case, path}``."""
        self.get(reviewer, item_id)
        require_reviewer(reviewer)
        return promote(self.db, item_id, reviewer, path or default_path(self.settings), facts=facts,
                       must_abstain=must_abstain)

    # feedback -----------------------------------------------------------------------------------
    def rate(self, principal: Principal, trace_id: str, rating: str, comment: str = "", *,
             answer: dict | None = None, question: str = "") -> dict:
        """Rate an answer ``principal`` was given (NotFound for anyone else's trace); a
        thumbs-down opens a review item. ``created`` says whether this is a first rating."""
        with self.db.transaction() as conn:
            return feedback.record(conn, principal, trace_id, rating, comment, answer=answer, question=question)

    def feedback(self, viewer: Principal, *, rating: str | None = None, limit: int = 100) -> dict:
        """Administrators: all feedback with up/down counts; others: their own."""
        with self.db.connection() as conn:
            return feedback.list_feedback(conn, viewer, rating=rating, limit=limit)
