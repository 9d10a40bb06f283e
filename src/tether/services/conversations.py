"""Conversations: threads with memory, each turn answered by the one answer pipeline from what
the asker may read *now*.

Every call names the acting principal; a thread belongs to one principal, and another's thread
id is the same NotFound as a missing one (the SQL names the owner, :mod:`tether.store.
conversations`). Each turn:

1. loads the newest ``conversations.max_history_turns`` turns and re-checks every document their
   answers (and LLM-written standalone questions) derive from against the asker's ACL tokens now;
2. builds the rewriter's history from them, withholding the answer of any turn that derives from
   a document the asker can no longer read (the question, the user's own text, stays);
3. runs the pipeline (``ask_run`` or ``stream_run``: streaming is a delivery mode) with that
   history, so the ``rewrite`` step makes the question standalone, traced;
4. stores the turn: question, standalone question, the answer as served, its documents, trace
   id and answer-cache key.

Showing a thread applies the same re-check: a turn whose answer derives from a document the
viewer can no longer read is shown with its answer redacted (no text, citations, quotes or
sentences; only the sources still readable). Deleting a thread deletes its turns and the cached
answers they produced or were served; ``purge`` does the same for threads older than
``conversations.retention_days``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator

from tether.answer import AnswerPipeline, AskResult, Run
from tether.answer.respond import Event
from tether.answer.rewrite import History, HistoryTurn
from tether.errors import InvalidInput
from tether.observe.trace import Trace
from tether.settings import Settings
from tether.store import conversations as sql
from tether.store import feedback as feedback_store
from tether.store.db import Database
from tether.types import Principal

#: What a redacted turn's answer says instead.
REDACTED = "(This answer is hidden: a document it was based on is no longer available to you.)"


def answer_documents(record: dict) -> set[int]:
    """Every document a stored answer record derives from (citations, sentences' citations, sources)."""
    ans = record.get("answer") or {}
    ids = {int(c["document_id"]) for c in ans.get("citations", []) if "document_id" in c}
    ids |= {int(c["document_id"]) for s in ans.get("sentences", []) for c in s.get("citations", [])
            if "document_id" in c}
    ids |= {int(s["document_id"]) for s in record.get("sources", []) if "document_id" in s}
    return ids


def redacted(record: dict, readable: set[int]) -> dict:
    """The answer record with everything derived from an unreadable document withheld."""
    if answer_documents(record) <= readable:
        return record
    ans = record.get("answer") or {}
    return {**record, "redacted": True, "sources": [s for s in record.get("sources", [])
                                                    if int(s.get("document_id", -1)) in readable],
            "answer": {"text": REDACTED, "abstained": bool(ans.get("abstained")), "citations": [], "sentences": [],
                       "data": None, "reasons": ["redacted:permissions_changed"], "escalate": False}}


class ConversationService:
    def __init__(self, db: Database, settings: Settings, answers: AnswerPipeline,
                 new_trace: Callable[[str, Principal], Trace]) -> None:
        self.db, self.settings, self.answers, self.new_trace = db, settings, answers, new_trace

    # threads ------------------------------------------------------------------------------
    def create(self, principal: Principal, title: str = "") -> dict:
        with self.db.transaction() as conn:
            return sql.create(conn, self._owner(principal), self._title(title))

    def list(self, principal: Principal, limit: int = 100) -> list[dict]:
        with self.db.connection() as conn:
            return sql.list_threads(conn, self._owner(principal), limit)

    def get(self, principal: Principal, cid: str) -> dict:
        """The thread with its turns as ``principal`` may see them now."""
        with self.db.connection() as conn:
            thread = sql.get(conn, self._owner(principal), cid)
            rows = sql.turns(conn, cid)
        readable = self._readable(principal, rows)
        return {**thread, "turns": [self._shown(r, readable) for r in rows]}

    def rename(self, principal: Principal, cid: str, title: str) -> dict:
        if not title.strip():
            raise InvalidInput("the title is empty")
        with self.db.transaction() as conn:
            return sql.rename(conn, self._owner(principal), cid, self._title(title))

    def delete(self, principal: Principal, cid: str) -> dict:
        with self.db.transaction() as conn:
            return {"id": str(cid), "deleted": True, **sql.delete(conn, self._owner(principal), cid)}

    def purge(self, older_than_days: float | None = None) -> dict:
        """Delete threads not updated for ``older_than_days`` (default ``retention_days``; 0: none)."""
        days = self.settings.conversations.retention_days if older_than_days is None else older_than_days
        if days <= 0:
            return {"conversations": 0, "cached_answers": 0, "retention_days": 0}
        with self.db.transaction() as conn:
            return {**sql.purge(conn, days), "retention_days": days}

    def rate(self, principal: Principal, cid: str, ordinal: int, rating: str, comment: str = "") -> dict:
        """Thumbs up/down on a turn: stored on the turn and as the answer's feedback (its trace)."""
        if rating not in feedback_store.RATINGS:
            raise InvalidInput(f"rating must be one of {', '.join(feedback_store.RATINGS)}, not {rating!r}")
        with self.db.transaction() as conn:
            sql.get(conn, self._owner(principal), cid, lock=True)
            row = sql.set_feedback(conn, cid, ordinal, rating)
            if not row["trace_id"]:
                return {"ordinal": ordinal, "rating": rating}
            return feedback_store.record(conn, principal, row["trace_id"], rating, comment,
                                         answer=(row["answer"] or {}).get("answer"), question=row["question"])

    # turns --------------------------------------------------------------------------------
    def history(self, principal: Principal, cid: str) -> History:
        """The rewriter's view of the thread: the newest turns, answers withheld where the asker
        can no longer read what they derive from."""
        cs = self.settings.conversations
        with self.db.connection() as conn:
            thread = sql.get(conn, self._owner(principal), cid)
            rows = sql.turns(conn, cid, last=cs.max_history_turns)
        readable = self._readable(principal, rows)
        turns, hidden = [], 0
        for r in rows:
            ok = set(r["answer_docs"]) <= readable
            rewrite_ok = set(r["rewrite_doc_ids"] or []) <= readable
            hidden += not ok
            turns.append(HistoryTurn(r["question"], r["standalone"] if rewrite_ok else "",
                                     ((r["answer"] or {}).get("answer") or {}).get("text", "") if ok else "",
                                     tuple(sorted(r["answer_docs"]))))
        return History(turns, skipped=max(0, int(thread["turn_count"]) - len(rows)), redacted=hidden)

    def ask(self, principal: Principal, cid: str, question: str, *, model: str | None = None) -> dict:
        """Continue the thread: the turn as stored and shown (``turn``) and the pipeline's result."""
        turn, result = self.answer_turn(principal, cid, question, model=model)
        return {"conversation_id": str(cid), "turn": turn, **result.to_dict()}

    def answer_turn(self, principal: Principal, cid: str, question: str, *,
                    model: str | None = None) -> tuple[dict, AskResult]:
        """Continue the thread; the stored turn and the pipeline's own result (the evaluation
        runner reads its retrieval and verdicts)."""
        run = self.answers.new_run(principal, question, self.new_trace("chat", principal), model=model,
                                   history=self.history(principal, cid))
        result = self.answers.ask_run(run)
        return self._store(principal, cid, question, run, result), result

    def stream(self, principal: Principal, cid: str, question: str, *, model: str | None = None) -> Iterator[Event]:
        """Continue the thread as events (the pipeline's, then ``turn`` once it is stored)."""
        history = self.history(principal, cid)  # NotFound before the first event
        run = self.answers.new_run(principal, question, self.new_trace("chat", principal), model=model,
                                   stream=True, history=history)

        def events() -> Iterator[Event]:
            done = None
            for ev in self.answers.stream_run(run):
                if ev.get("type") == "done":
                    done = ev
                    continue
                yield ev
            result = run.result()
            result.trace_id, result.cost_usd = run.trace.id or None, run.trace.cost_usd
            turn = self._store(principal, cid, question, run, result)
            yield {"type": "turn", "conversation_id": str(cid), "turn": turn}
            if done is not None:
                yield done

        return events()

    # helpers ------------------------------------------------------------------------------
    def _store(self, principal: Principal, cid: str, question: str, run: Run, result: AskResult) -> dict:
        record = {k: v for k, v in result.to_dict().items() if k not in ("timings_ms", "rewrite")}
        rw = result.rewrite or {}
        docs = answer_documents(record)
        rewrite_docs = run.rewrite.documents if run.rewrite is not None else ()
        with self.db.transaction() as conn:
            row = sql.add_turn(conn, self._owner(principal), cid, question=question,
                               standalone=rw.get("standalone", question), rewrite=rw, answer=record,
                               document_ids=docs, rewrite_doc_ids=rewrite_docs, trace_id=result.trace_id,
                               cache_key=result.cache_key, title=self._title(question))
        return self._shown(row, docs)

    def _readable(self, principal: Principal, rows: builtins.list[dict]) -> set[int]:
        for r in rows:
            r["answer_docs"] = set(r["document_ids"] or []) | answer_documents(r["answer"] or {})
        wanted = {d for r in rows for d in r["answer_docs"] | set(r["rewrite_doc_ids"] or [])}
        with self.db.connection() as conn:
            return sql.readable(conn, wanted, principal.acl_tokens)

    @staticmethod
    def _shown(row: dict, readable: set[int]) -> dict:
        docs = set(row.get("answer_docs") or row["document_ids"] or [])
        rewrite_ok = set(row["rewrite_doc_ids"] or []) <= readable
        return {"ordinal": row["ordinal"], "question": row["question"],
                "standalone": row["standalone"] if rewrite_ok else row["question"],
                "rewritten": bool((row["rewrite"] or {}).get("rewritten")) and rewrite_ok,
                "result": redacted(row["answer"] or {}, readable), "redacted": not docs <= readable,
                "trace_id": row["trace_id"], "feedback": row["feedback"], "created_at": row["created_at"]}

    def _title(self, title: str) -> str:
        t = " ".join(title.split())
        n = self.settings.conversations.max_title_chars
        return t if len(t) <= n else t[: n - 1].rstrip() + "…"

    @staticmethod
    def _owner(principal: Principal) -> int:
        if principal.is_system or not principal.id:
            raise InvalidInput("conversations belong to a user: act as one (--as NAME)")
        return int(principal.id)
