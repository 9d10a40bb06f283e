"""One trace per request, a span per stage.

    trace = Trace(kind="ask", principal=p)
    with trace.span("retrieve.keyword", k=100) as s:
        ...
        s.set(hits=len(hits))
    trace.record_call(kind="generate", model="cheap", ...)   # usage and cost of one model call
    trace.finish(status="answered")

Spans nest (a stack: the request path is synchronous; streaming runs in one thread too). A span
holds its start offset and duration in milliseconds, attributes (JSON values) and a status.
Attributes whose name starts with ``admin.`` are kept for administrators only: ``to_dict(admin=
False)`` drops them (e.g. how many chunks the permission filter removed: a count the asker must
not learn). ``NULL_TRACE`` records nothing, for callers that trace nothing (and the overhead
benchmark's baseline).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ADMIN_PREFIX = "admin."


@dataclass
class Span:
    name: str
    start_ms: float  # offset from the trace's start
    duration_ms: float = 0.0
    attrs: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | error
    children: list[Span] = field(default_factory=list)

    def set(self, **attrs: Any) -> Span:
        self.attrs.update(attrs)
        return self

    def to_dict(self, admin: bool = True) -> dict[str, Any]:
        attrs = self.attrs if admin else {k: v for k, v in self.attrs.items() if not k.startswith(ADMIN_PREFIX)}
        return {"name": self.name, "start_ms": round(self.start_ms, 3), "duration_ms": round(self.duration_ms, 3),
                "status": self.status, "attrs": attrs, "children": [c.to_dict(admin) for c in self.children]}

    def walk(self) -> Iterator[Span]:
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass
class Call:
    """One billable (or free but timed) model call: generation, embedding, reranking, guard."""

    kind: str  # generate | embed | rerank | guard
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ok: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cost_usd": round(self.cost_usd, 8),
                "latency_ms": round(self.latency_ms, 3), "ok": self.ok}


def cost_usd(input_tokens: int, output_tokens: int, price_in_per_mtok: float, price_out_per_mtok: float) -> float:
    return (input_tokens * price_in_per_mtok + output_tokens * price_out_per_mtok) / 1_000_000


class Trace:
    enabled = True

    def __init__(self, kind: str = "ask", *, principal_id: int | None = None, principal_name: str = "",
                 api_key_id: int | None = None, trace_id: str | None = None) -> None:
        self.id = uuid.uuid4().hex if trace_id is None else trace_id
        self.kind = kind
        self.principal_id = principal_id
        self.principal_name = principal_name
        self.api_key_id = api_key_id
        self.started_at = datetime.now(UTC)
        self._t0 = time.perf_counter()
        self.root = Span(kind, 0.0)
        self._stack: list[Span] = [self.root]
        self.calls: list[Call] = []
        self.status = "open"
        self.attrs: dict[str, Any] = {}  # question (redacted), model, route, cache, ...
        self.duration_ms = 0.0

    def _now_ms(self) -> float:
        return (time.perf_counter() - self._t0) * 1000

    @contextmanager
    def span(self, name: str, **attrs: Any) -> Iterator[Span]:
        s = Span(name, self._now_ms(), attrs=dict(attrs))
        self._stack[-1].children.append(s)
        self._stack.append(s)
        try:
            yield s
        except BaseException as exc:
            s.status = "error"
            s.attrs.setdefault("error", type(exc).__name__)
            code = getattr(exc, "code", None)
            if isinstance(code, str):
                s.attrs.setdefault("error.code", code)
            raise
        finally:
            s.duration_ms = self._now_ms() - s.start_ms
            if self._stack and self._stack[-1] is s:
                self._stack.pop()

    def add_span(self, name: str, duration_ms: float, *, start_ms: float | None = None, **attrs: Any) -> Span:
        """A span measured elsewhere (e.g. the retriever's own timings): it starts at
        ``start_ms`` (offset from the trace's start) or ends now."""
        start = start_ms if start_ms is not None else max(self._now_ms() - duration_ms, 0.0)
        s = Span(name, start, duration_ms, dict(attrs))
        self._stack[-1].children.append(s)
        return s

    def event(self, name: str, **attrs: Any) -> Span:
        """A zero-length span marking a decision (route chosen, fallback taken, cache hit)."""
        return self.add_span(name, 0.0, **attrs)

    def set(self, **attrs: Any) -> None:
        self.attrs.update(attrs)

    def record_call(self, call: Call) -> None:
        self.calls.append(call)

    @property
    def cost_usd(self) -> float:
        return sum(c.cost_usd for c in self.calls)

    @property
    def input_tokens(self) -> int:
        return sum(c.input_tokens for c in self.calls)

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.calls)

    def finish(self, status: str) -> None:
        self.status = status
        self.duration_ms = self._now_ms()
        self.root.duration_ms = self.duration_ms
        self.root.status = "error" if status == "error" else "ok"

    def spans(self) -> Iterator[Span]:
        return self.root.walk()

    def to_dict(self, admin: bool = True) -> dict[str, Any]:
        attrs = self.attrs if admin else {k: v for k, v in self.attrs.items() if not k.startswith(ADMIN_PREFIX)}
        return {
            "id": self.id, "kind": self.kind, "principal_id": self.principal_id,
            "principal": self.principal_name, "api_key_id": self.api_key_id,
            "started_at": self.started_at.isoformat(), "duration_ms": round(self.duration_ms, 3),
            "status": self.status, "attrs": attrs, "cost_usd": round(self.cost_usd, 8),
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "calls": [c.to_dict() for c in self.calls], "root": self.root.to_dict(admin),
        }


class _NullSpan(Span):
    def set(self, **attrs: Any) -> Span:
        return self


class NullTrace(Trace):
    """Records nothing (tracing off); same interface."""

    enabled = False

    def __init__(self, kind: str = "none", **who: Any) -> None:
        super().__init__(kind, trace_id="", **who)
        self._null = _NullSpan("null", 0.0)

    @contextmanager
    def span(self, name: str, **attrs: Any) -> Iterator[Span]:
        yield self._null

    def add_span(self, name: str, duration_ms: float, *, start_ms: float | None = None, **attrs: Any) -> Span:
        return self._null

    def set(self, **attrs: Any) -> None:
        return None


def null_trace() -> NullTrace:
    return NullTrace()
