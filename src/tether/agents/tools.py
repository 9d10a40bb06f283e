"""What an agent may do with Tether, as plain functions of (engine, principal, arguments).

The MCP server (``agents/mcp_server.py``) is only a transport over these: the permission rules,
limits, tracing and auditing live here, so stdio and streamable HTTP cannot drift apart.

Every call, whatever the tool:

- acts as the principal: search and ask run inside its ACL, documents and spans are read by
  ACL only (administrators get nothing extra, as in search and ask); an unreadable document
  is ``NotFound`` with the same message as a missing one;
- counts against the principal's per-minute rate limit (``[api] rate_limit_per_minute``, the
  same counter the HTTP API uses) before it does anything;
- is traced and audited: ``ask`` through the answer pipeline (which also checks the budget);
  the other tools store a trace of kind ``mcp.<tool>`` with an ``mcp.<tool>`` audit record;
- returns bounded output (``[api] max_search_k``, ``max_snippet_chars``, ``max_question_chars``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tether.answer.record import finish_trace
from tether.errors import InvalidInput, NotFound, QuestionTooLong, TetherError
from tether.observe.trace import Span
from tether.retrieve.filters import SearchFilter
from tether.types import Principal

if TYPE_CHECKING:
    from tether.engine import Tether

#: ``get_document`` returns at most this many characters of the body per call (page with ``offset``).
MAX_DOCUMENT_CHARS = 20_000


class AgentTools:
    """The agent-facing operations of one engine; every method takes the acting principal."""

    def __init__(self, engine: Tether) -> None:
        self.engine = engine
        self.limits = engine.settings.api

    # plumbing ---------------------------------------------------------------------------------
    def _admit(self, principal: Principal) -> None:
        if self.limits.rate_limit_per_minute > 0 and not principal.is_system:
            self.engine.accounts.count_request(principal, self.limits.rate_limit_per_minute)

    @contextmanager
    def _traced(self, tool: str, principal: Principal, text: str, details: dict) -> Iterator[Span]:
        """One trace (kind ``mcp.<tool>``) and one audit record per call, stored even when the
        call fails (status ``error`` with the error's code, never its message)."""
        e = self.engine
        trace = e.new_trace(f"mcp.{tool}", principal)
        status = "ok"
        try:
            with trace.span(f"mcp.{tool}", **details) as span:
                yield span
        except TetherError as exc:
            status, details = "error", {**details, "error": exc.code}
            raise
        finally:
            finish_trace(e.db, e.settings.guard, e.trace_listeners, trace, status, text, "", details,
                         action=f"mcp.{tool}")

    def _text(self, value: str, what: str) -> str:
        if not value or not value.strip():
            raise InvalidInput(f"the {what} is empty")
        limit = self.limits.max_question_chars
        if len(value) > limit:
            raise QuestionTooLong(f"the {what} is {len(value):,} characters; the limit is {limit:,}", limit=limit)
        return value

    def _cut(self, text: str) -> str:
        return text[: self.limits.max_snippet_chars]

    # tools ------------------------------------------------------------------------------------
    def search(self, principal: Principal, query: str, k: int = 10,
               collections: list[str] | None = None) -> dict[str, Any]:
        """Passages the principal may read, best first, with exact offsets in their document."""
        self._admit(principal)
        self._text(query, "query")
        if k < 1:
            raise InvalidInput("k must be at least 1")
        k = min(k, self.limits.max_search_k)
        flt = SearchFilter(collections=tuple(collections)) if collections else None
        with self._traced("search", principal, query, {"k": k, "collections": list(collections or [])}) as span:
            res = self.engine.search(principal, query, k=k, flt=flt)
            span.set(documents=sorted({p.document_id for p in res.passages}), hits=len(res.passages))
        passages = [
            {"rank": i + 1, "document_id": p.document_id, "title": self._cut(p.title), "chunk_id": p.chunk_id,
             "char_start": p.char_start, "char_end": p.char_end, "section": [self._cut(s) for s in p.section_path],
             "page": p.page, "quote": self._cut(p.text), "truncated": len(p.text) > self.limits.max_snippet_chars}
            for i, p in enumerate(res.passages)
        ]
        return {"query": query, "passages": passages}

    def ask(self, principal: Principal, question: str, collections: list[str] | None = None) -> dict[str, Any]:
        """The answer pipeline's grounded answer with citations, or its abstention (traced,
        audited and budgeted by the pipeline itself)."""
        self._admit(principal)
        self._text(question, "question")
        flt = SearchFilter(collections=tuple(collections)) if collections else None
        result = self.engine.ask(principal, question, flt=flt, trace=self.engine.new_trace("mcp.ask", principal))
        out = json.loads(json.dumps(result.to_dict(), default=str))
        out.pop("timings_ms", None)
        return out

    def _document(self, principal: Principal, doc_id: int) -> dict:
        if isinstance(doc_id, bool) or not isinstance(doc_id, int) or doc_id < 1:
            raise NotFound(f"document {doc_id} not found")
        return self.engine.documents.get(principal, doc_id)  # by ACL; NotFound when unreadable

    def get_document(self, principal: Principal, document_id: int, offset: int = 0) -> dict[str, Any]:
        """A readable document's metadata and up to ``MAX_DOCUMENT_CHARS`` of its text from
        ``offset``; NotFound (the same error) when it is missing or unreadable."""
        self._admit(principal)
        with self._traced("get_document", principal, "", {"document_id": document_id}):
            doc = self._document(principal, document_id)
        body: str = doc.get("body") or ""
        if offset < 0 or offset > len(body):
            raise InvalidInput(f"offset must be between 0 and {len(body)}")
        end = min(len(body), offset + MAX_DOCUMENT_CHARS)
        return {**describe(doc), "length": len(body), "offset": offset, "text": body[offset:end],
                "next_offset": end if end < len(body) else None}

    def get_span(self, principal: Principal, document_id: int, char_start: int, char_end: int) -> dict[str, Any]:
        """The exact text ``[char_start, char_end)`` of a readable document (a citation's or a
        search hit's offsets); NotFound (the same error) when missing or unreadable."""
        self._admit(principal)
        with self._traced("get_span", principal, "", {"document_id": document_id, "char_start": char_start,
                                                      "char_end": char_end}):
            doc = self._document(principal, document_id)
        body: str = doc.get("body") or ""
        if not 0 <= char_start < char_end <= len(body):
            raise InvalidInput(f"need 0 <= char_start < char_end <= {len(body)} (the document's length)")
        if char_end - char_start > MAX_DOCUMENT_CHARS:
            raise InvalidInput(f"a span is at most {MAX_DOCUMENT_CHARS:,} characters")
        return {"document_id": doc["id"], "title": doc["title"], "char_start": char_start, "char_end": char_end,
                "text": body[char_start:char_end]}

    def list_collections(self, principal: Principal) -> dict[str, Any]:
        """Collections holding documents the principal may read, with how many (by ACL only)."""
        self._admit(principal)
        with self._traced("list_collections", principal, "", {}) as span:
            counts: dict[str, int] = {}
            for d in self.engine.documents.list(principal):
                counts[d["collection"]] = counts.get(d["collection"], 0) + 1
            span.set(collections=len(counts))
        return {"collections": [{"name": n, "documents": c} for n, c in sorted(counts.items())]}

    def readable_documents(self, principal: Principal) -> list[dict[str, Any]]:
        """The documents the principal may read (by ACL), for the resource list (not audited
        per listing: it is the same view ``list_collections`` counts)."""
        self._admit(principal)
        return [describe(d) for d in self.engine.documents.list(principal)]


def describe(doc: dict) -> dict[str, Any]:
    """A document's metadata as agents see it (never its ACL)."""
    return {"document_id": doc["id"], "title": doc["title"], "collection": doc["collection"],
            "source_uri": doc["source_uri"], "classification": doc.get("classification"),
            "version": doc.get("version"),
            "updated_at": str(doc["updated_at"]) if doc.get("updated_at") is not None else None}
