"""The human hand-off queue: review items, from creation to a reviewed answer (or a dismissal).

An item holds the asker's question, the draft answer the system gave (or abstained with) and the
evidence: passages copied from documents *the asker* could read when the item was created (the
ACL is re-checked here, whatever the caller passes). Who sees what is decided on every read:

- the asker sees their own items: question, status and the reviewed answer, nothing else;
- reviewers (role ``reviewer`` or ``admin``) see the queue, with the evidence re-derived from
  each document as *they* may read it now (``review_evidence``): a placeholder (no id, title,
  offsets or text) for a document they may not read, a ``stale`` entry (current title and version,
  no text) for one replaced since, the span re-read from the current body otherwise; the draft
  answer is withheld when it relies on a withheld or stale source;
- anyone else gets :class:`NotFound` for an item, exactly as for an id that does not exist.

Every state change is one conditional ``UPDATE ... RETURNING``, so two reviewers can never both
claim (or answer) the same item: the loser gets :class:`Conflict`.

    open --claim--> claimed --answer--> answered --promote--> (promoted: a golden case)
      \\______________________\\--dismiss--> dismissed
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from psycopg.types.json import Jsonb

from tether.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tether.store import audit
from tether.store import review_evidence as ev
from tether.store.review_evidence import (  # noqa: F401 - re-exported: creating items
    MAX_EVIDENCE,
    MAX_EVIDENCE_CHARS,
    STALE_SOURCE,
    WITHHELD_SOURCE,
    evidence_from_answer,
    evidence_from_passages,
    resolve_evidence,
)
from tether.store.rows import Conn, one
from tether.types import Principal

SOURCES = ("abstention", "low_confidence", "budget_refusal", "feedback", "user_request")
STATUSES = ("open", "claimed", "answered", "dismissed")
REVIEWER_ROLES = ("reviewer", "admin")
WITHHELD_ANSWER = "withheld: this draft relies on a source you cannot read"
STALE_ANSWER = "withheld: this draft relies on an earlier version of a source"
MAX_ANSWER_CHARS = 20_000
_DRAFT_KEYS = ("text", "abstained", "escalate", "reasons", "model", "data")
_CITATION_KEYS = ("number", "document_id", "chunk_id", "title", "doc_start", "doc_end", "quote", "page")

_SELECT = (
    "SELECT r.*, a.name AS asked_by, c.name AS claimed_by_name, w.name AS answered_by_name,"
    " d.name AS dismissed_by_name"
    " FROM review_items r JOIN principals a ON a.id = r.principal_id"
    " LEFT JOIN principals c ON c.id = r.claimed_by"
    " LEFT JOIN principals w ON w.id = r.answered_by"
    " LEFT JOIN principals d ON d.id = r.dismissed_by"
)


def is_reviewer(principal: Principal) -> bool:
    return principal.is_reviewer  # roles: REVIEWER_ROLES


def _require_reviewer(principal: Principal) -> None:
    if not is_reviewer(principal):
        raise PermissionDenied("only reviewers and administrators may work on review items")


# evidence (store/review_evidence.py) --------------------------------------------------------
_int = ev.to_int
_citations = ev.citations


def _draft(answer: Mapping[str, Any] | None) -> dict | None:
    """The parts of an answer a reviewer needs (the grounding details are left out)."""
    if not isinstance(answer, Mapping):
        return None
    out = {k: answer[k] for k in _DRAFT_KEYS if k in answer}
    if isinstance(out.get("text"), str):
        out["text"] = out["text"][:MAX_ANSWER_CHARS]
    out["citations"] = [{k: c[k] for k in _CITATION_KEYS if k in c}
                        for c in (answer.get("citations") or []) if isinstance(c, Mapping)][:50]
    return out


# creating ------------------------------------------------------------------------------------
def create(
    conn: Conn, asker: Principal, question: str, *, source: str = "user_request", reason: str = "",
    trace_id: str | None = None, answer: Mapping[str, Any] | None = None,
    evidence: Iterable[Mapping[str, Any]] = (), dedupe: bool = True,
) -> int:
    """A new item (id). With ``dedupe``, an open or claimed item of the same asker with the same
    question is returned instead of a second one (repeated abstentions, a second "ask a human")."""
    if source not in SOURCES:
        raise InvalidInput(f"unknown review source {source!r}; valid sources: {', '.join(SOURCES)}")
    question = question.strip()
    if not question:
        raise InvalidInput("a review item needs the question")
    if dedupe:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('tether.review:' || %s::text, 0))", (asker.id,))
        row = conn.execute(
            "SELECT id FROM review_items WHERE principal_id = %s AND question = %s"
            " AND status IN ('open', 'claimed') ORDER BY id LIMIT 1", (asker.id, question)).fetchone()
        if row is not None:
            return int(row["id"])
    ev = resolve_evidence(conn, asker, [*evidence, *evidence_from_answer(answer)])
    draft = _draft(answer)
    row = one(conn.execute(
        "INSERT INTO review_items (principal_id, question, reason, draft_answer, source, trace_id, evidence)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (asker.id, question, reason[:500], Jsonb(draft) if draft is not None else None, source, trace_id or None,
         Jsonb(ev)),
    ))
    return int(row["id"])


# reading -------------------------------------------------------------------------------------
def _doc_ids(row: Mapping[str, Any]) -> set[int]:
    ids = {e["document_id"] for e in row["evidence"] or [] if _int(e.get("document_id")) is not None}
    ids |= {c["document_id"] for c in _citations(row["draft_answer"]) if _int(c.get("document_id")) is not None}
    return ids


def _current(conn: Conn, viewer: Principal, rows: list[dict]) -> dict[int, ev.Current]:
    return ev.current_documents(conn, viewer, set().union(*(_doc_ids(r) for r in rows)) if rows else ())


def _common(row: Mapping[str, Any]) -> dict:
    return {
        "id": row["id"], "source": row["source"], "status": row["status"], "question": row["question"],
        "reason": row["reason"], "asked_by": row["asked_by"], "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "answer": row["reviewer_answer"], "answered_by": row["answered_by_name"], "answered_at": row["answered_at"],
        "dismiss_reason": row["dismiss_reason"], "dismissed_at": row["dismissed_at"],
    }


def asker_view(row: Mapping[str, Any]) -> dict:
    """What the asker sees of their own item: the question, its status and the reviewed answer."""
    return {**_common(row), "view": "asker"}


def reviewer_view(conn: Conn, row: Mapping[str, Any], docs: Mapping[int, ev.Current]) -> dict:
    """The whole item, its evidence re-derived from the documents as the viewing reviewer may
    read them now (``docs``), the draft withheld when it relies on a withheld or stale source."""
    evidence, withheld, stale = ev.rederive(conn, row, docs)
    draft = row["draft_answer"]
    if draft is not None:
        cited = {_int(c.get("document_id")) for c in _citations(draft)} if isinstance(draft, Mapping) else set()
        if not isinstance(draft, Mapping):  # not an answer (rows from before 0007 held what clients sent)
            draft = {"withheld": True, "text": WITHHELD_ANSWER, "abstained": False}
        elif withheld or any(c not in docs for c in cited):
            draft = {"withheld": True, "text": WITHHELD_ANSWER, "abstained": bool(draft.get("abstained"))}
        elif stale or any(c is not None and ev.is_stale({}, docs[c], row["created_at"]) for c in cited):
            draft = {"withheld": True, "text": STALE_ANSWER, "abstained": bool(draft.get("abstained"))}
        else:
            draft = {**(_draft(draft) or {}), "withheld": False}
    return {
        **_common(row), "view": "reviewer", "trace_id": row["trace_id"], "draft_answer": draft,
        "evidence": evidence, "withheld_sources": withheld, "stale_sources": len(stale),
        "claimed_by": row["claimed_by_name"], "claimed_at": row["claimed_at"],
        "dismissed_by": row["dismissed_by_name"], "promoted": row["promoted"], "golden_case_id": row["golden_case_id"],
    }


def _view(conn: Conn, viewer: Principal, rows: list[dict], *, as_asker: bool = False) -> list[dict]:
    if as_asker or not is_reviewer(viewer):
        return [asker_view(r) for r in rows]
    docs = _current(conn, viewer, rows)
    return [reviewer_view(conn, r, docs) for r in rows]


def _row(conn: Conn, item_id: int) -> dict | None:
    return conn.execute(_SELECT + " WHERE r.id = %s", (item_id,)).fetchone()


def _visible_row(conn: Conn, item_id: int, viewer: Principal) -> dict:
    row = _row(conn, item_id)
    if row is None or (not is_reviewer(viewer) and row["principal_id"] != viewer.id):
        raise NotFound(f"no review item {item_id}")
    return row


def get(conn: Conn, item_id: int, viewer: Principal) -> dict:
    """One item as ``viewer`` may see it; NotFound when absent or someone else's (non-reviewers)."""
    return _view(conn, viewer, [_visible_row(conn, item_id, viewer)])[0]


def list_items(
    conn: Conn, viewer: Principal, *, status: str | Iterable[str] | None = None,
    source: str | None = None, mine: bool = False, limit: int = 100,
) -> list[dict]:
    """Reviewers: the queue (newest first), optionally filtered (``status``: one or several).
    Everyone else (or ``mine``): their own items."""
    wanted = [status] if isinstance(status, str) else list(status or [])
    for st in wanted:
        if st not in STATUSES:
            raise InvalidInput(f"unknown status {st!r}; valid: {', '.join(STATUSES)}")
    if source is not None and source not in SOURCES:
        raise InvalidInput(f"unknown source {source!r}; valid: {', '.join(SOURCES)}")
    own = mine or not is_reviewer(viewer)
    sql = _SELECT + " WHERE true"
    params: list[object] = []
    if own:
        sql += " AND r.principal_id = %s"
        params.append(viewer.id)
    if wanted:
        sql += " AND r.status = ANY(%s)"
        params.append(wanted)
    if source:
        sql += " AND r.source = %s"
        params.append(source)
    rows = conn.execute(sql + " ORDER BY r.id DESC LIMIT %s", [*params, max(1, min(limit, 500))]).fetchall()
    return _view(conn, viewer, rows, as_asker=own)


def counts(conn: Conn) -> dict[str, int]:
    """Items per status (for reviewers' dashboards)."""
    got = {r["status"]: r["n"] for r in conn.execute(
        "SELECT status, count(*) AS n FROM review_items GROUP BY status").fetchall()}
    return {s: int(got.get(s, 0)) for s in STATUSES}


# working on items ----------------------------------------------------------------------------
def _changed(conn: Conn, item_id: int, reviewer: Principal, action: str, row: dict | None,
             expected: str) -> dict:
    """The updated item, or the right error when the conditional update matched nothing."""
    if row is None:
        current = _visible_row(conn, item_id, reviewer)
        who = current["claimed_by_name"] or "someone"
        if current["status"] == "claimed":
            raise Conflict(f"review item {item_id} is claimed by {who}", status="claimed", claimed_by=who)
        raise Conflict(f"review item {item_id} is {current['status']}; only {expected} items can be {action}",
                       status=current["status"])
    audit.record(conn, f"review.{action}", actor_id=reviewer.id, target=f"review:{item_id}")
    return get(conn, item_id, reviewer)


def claim(conn: Conn, item_id: int, reviewer: Principal) -> dict:
    """Take an open item. Atomic: of two reviewers claiming at once, one gets Conflict."""
    _visible_row(conn, item_id, reviewer)
    _require_reviewer(reviewer)
    row = conn.execute(
        "UPDATE review_items SET status = 'claimed', claimed_by = %s, claimed_at = now(), updated_at = now()"
        " WHERE id = %s AND status = 'open' RETURNING id", (reviewer.id, item_id)).fetchone()
    return _changed(conn, item_id, reviewer, "claimed", row, "open")


def release(conn: Conn, item_id: int, reviewer: Principal) -> dict:
    """Put a claimed item back in the queue (its claimant, or an administrator)."""
    _visible_row(conn, item_id, reviewer)
    _require_reviewer(reviewer)
    row = conn.execute(
        "UPDATE review_items SET status = 'open', claimed_by = NULL, claimed_at = NULL, updated_at = now()"
        " WHERE id = %s AND status = 'claimed' AND (claimed_by = %s OR %s) RETURNING id",
        (item_id, reviewer.id, reviewer.is_admin)).fetchone()
    return _changed(conn, item_id, reviewer, "released", row, "your claimed")


_ACTIONABLE = "(status = 'open' OR (status = 'claimed' AND (claimed_by = %s OR %s)))"


def answer(conn: Conn, item_id: int, reviewer: Principal, text: str) -> dict:
    """Answer an open item, or one the reviewer claimed (administrators: any claimed item)."""
    text = text.strip()
    if not text:
        raise InvalidInput("the answer is empty")
    if len(text) > MAX_ANSWER_CHARS:
        raise InvalidInput(f"the answer is {len(text):,} characters; the limit is {MAX_ANSWER_CHARS:,}")
    _visible_row(conn, item_id, reviewer)
    _require_reviewer(reviewer)
    row = conn.execute(
        "UPDATE review_items SET status = 'answered', reviewer_answer = %s, answered_by = %s, answered_at = now(),"
        " claimed_by = coalesce(claimed_by, %s), claimed_at = coalesce(claimed_at, now()), updated_at = now()"
        f" WHERE id = %s AND {_ACTIONABLE} RETURNING id",
        (text, reviewer.id, reviewer.id, item_id, reviewer.id, reviewer.is_admin)).fetchone()
    return _changed(conn, item_id, reviewer, "answered", row, "open or your claimed")


def dismiss(conn: Conn, item_id: int, reviewer: Principal, reason: str) -> dict:
    """Close an item without an answer (a duplicate, out of scope, ...); the reason is required."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a dismissal needs a reason")
    _visible_row(conn, item_id, reviewer)
    _require_reviewer(reviewer)
    row = conn.execute(
        "UPDATE review_items SET status = 'dismissed', dismiss_reason = %s, dismissed_by = %s, dismissed_at = now(),"
        f" updated_at = now() WHERE id = %s AND {_ACTIONABLE} RETURNING id",
        (reason[:1000], reviewer.id, item_id, reviewer.id, reviewer.is_admin)).fetchone()
    return _changed(conn, item_id, reviewer, "dismissed", row, "open or your claimed")


def for_promotion(conn: Conn, item_id: int, reviewer: Principal) -> dict:
    """The answered, not yet promoted item (locked until the transaction ends) and the ``source_uri``
    of each evidence document both the reviewer and the asker may read now."""
    _visible_row(conn, item_id, reviewer)
    _require_reviewer(reviewer)
    row = one(conn.execute("SELECT * FROM review_items WHERE id = %s FOR UPDATE", (item_id,)))
    if row["status"] != "answered":
        raise Conflict(f"review item {item_id} is {row['status']}; only answered items can be promoted",
                       status=row["status"])
    if row["promoted"]:
        raise Conflict(f"review item {item_id} is already golden case {row['golden_case_id']!r}",
                       golden_case_id=row["golden_case_id"])
    from tether.store.principals import get_principal

    full = _row(conn, item_id)
    assert full is not None  # locked above
    asker = get_principal(conn, full["asked_by"])
    ids = [e["document_id"] for e in row["evidence"] or [] if _int(e.get("document_id")) is not None]
    uris: list[str] = []
    if ids:
        found = {r["id"]: r["source_uri"] for r in conn.execute(
            "SELECT id, source_uri FROM documents WHERE id = ANY(%s) AND acl && %s::text[] AND acl && %s::text[]",
            (ids, reviewer.acl_tokens, asker.acl_tokens)).fetchall()}
        for i in ids:
            if i in found and found[i] not in uris:
                uris.append(found[i])
    return {"id": item_id, "question": row["question"], "asker": asker.name, "answer": row["reviewer_answer"],
            "answered_by": full["answered_by_name"], "source_uris": uris}


def mark_promoted(conn: Conn, item_id: int, reviewer: Principal, case_id: str) -> dict:
    conn.execute("UPDATE review_items SET promoted = true, golden_case_id = %s, updated_at = now() WHERE id = %s",
                 (case_id, item_id))
    audit.record(conn, "review.promoted", actor_id=reviewer.id, target=f"review:{item_id}",
                 details={"golden_case_id": case_id})
    return get(conn, item_id, reviewer)
