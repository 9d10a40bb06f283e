"""An OpenAI-compatible ``POST /v1/chat/completions`` (and ``GET /v1/models``) so existing
clients and SDKs can ask Tether questions.

The last message is the question (it must be the user's); the earlier user and assistant
messages are the conversation's history, from which a follow-up is rewritten into a standalone
question (answer/rewrite.py); malformed ``messages`` are a typed 422. The principal is the API key's. The answer carries
its citations twice: as footnotes in the text (``[1] Title, chars a-b``) and, machine-readable,
in an extra top-level field ``"tether": {"citations": [...], "abstained": bool, "escalate": bool}``
(on the response, or on the final chunk when streaming). Both run the one answer pipeline
(``engine.ask`` / ``engine.ask_stream``). Streaming sends each sentence only after it has been
verified against its sources and screened by the output guard, so unsupported text never
reaches the client.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tether.answer.rewrite import History, HistoryTurn
from tether.api.auth import current_principal, get_engine
from tether.api.routes_ask import check_model, check_question, guarded
from tether.errors import InvalidInput
from tether.ground import parse_answer
from tether.types import Principal

router = APIRouter(prefix="/v1", tags=["openai"])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens ... are accepted and ignored
    model: str = "tether"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def text_of(m: ChatMessage, i: int) -> str:
    """A message's text (content parts of type ``text`` joined); InvalidInput naming the message
    when a part is malformed."""
    if not isinstance(m.content, list):
        return m.content or ""
    out = []
    for j, p in enumerate(m.content):
        if not isinstance(p.get("type"), str):
            raise InvalidInput(f"messages[{i}].content[{j}] has no 'type'", loc=["messages", i, "content", j])
        if p["type"] == "text":
            if not isinstance(p.get("text"), str):
                raise InvalidInput(f"messages[{i}].content[{j}].text must be a string",
                                   loc=["messages", i, "content", j, "text"])
            out.append(p["text"])
    return "\n".join(out)


def question_of(messages: list[ChatMessage]) -> str:
    """The question: the last message, which must be the user's."""
    dialogue = [(i, m) for i, m in enumerate(messages) if m.role in ("user", "assistant")]
    if not dialogue or dialogue[-1][1].role != "user":
        raise InvalidInput("the last message must be the user's question (role 'user')")
    i, m = dialogue[-1]
    return text_of(m, i)


def history_of(messages: list[ChatMessage]) -> History | None:
    """The earlier user messages, each with the assistant's reply that followed (None: none)."""
    turns: list[HistoryTurn] = []
    dialogue = [(i, m) for i, m in enumerate(messages) if m.role in ("user", "assistant")][:-1]
    for i, m in dialogue:
        if m.role == "user":
            turns.append(HistoryTurn(text_of(m, i)))
        elif turns and not turns[-1].answer:
            turns[-1] = HistoryTurn(turns[-1].question, answer=text_of(m, i))
    return History(turns) if turns else None


def footnotes(citations: list[dict]) -> str:
    seen: dict[int, dict] = {}
    for c in citations:
        seen.setdefault(int(c["number"]), c)
    lines = [f"[{n}] {c['title']}, chars {c['doc_start']}-{c['doc_end']}" for n, c in sorted(seen.items())]
    return ("\n\n" + "\n".join(lines)) if lines else ""


def tether_field(answer: dict, rewrite: dict | None = None) -> dict:
    cites = [{k: c.get(k) for k in ("number", "document_id", "title", "doc_start", "doc_end", "quote", "page")}
             for c in answer.get("citations", [])]
    return {"citations": cites, "abstained": bool(answer.get("abstained")), "escalate": bool(answer.get("escalate")),
            "reasons": list(answer.get("reasons", [])), **({"rewrite": rewrite} if rewrite else {})}


def _usage(answer: dict) -> dict:
    u = answer.get("usage") or {}
    i, o = int(u.get("input_tokens", 0)), int(u.get("output_tokens", 0))
    return {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}


@router.get("/models", summary="Models a chat completion may name ('tether' is the default)")
def models(request: Request, principal: Principal = Depends(current_principal)):
    names = ["tether", *sorted(get_engine(request).settings.generate.models)]
    return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "tether"} for n in names]}


@router.post("/chat/completions", summary="OpenAI-compatible chat completion over your documents")
def chat_completions(body: ChatRequest, request: Request, principal: Principal = Depends(current_principal)):
    question = check_question(request, question_of(body.messages))
    history = history_of(body.messages)
    model = check_model(request, body.model)
    engine, metrics = get_engine(request), request.app.state.metrics
    cid, created, name = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), body.model or "tether"
    if body.stream:
        events = engine.ask_stream(principal, question, model=model, history=history)
        return StreamingResponse(_stream(events, cid, created, name, metrics), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    result = engine.ask(principal, question, model=model, history=history)
    metrics.record_answer("chat", result.answer.abstained)
    answer = json.loads(json.dumps(result.answer.to_dict(), default=str))
    text = answer["text"] + ("" if answer["abstained"] else footnotes(answer["citations"]))
    return {
        "id": cid, "object": "chat.completion", "created": created, "model": name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": _usage(answer), "tether": tether_field(answer, result.rewrite),
    }


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None, **extra: object) -> str:
    data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _stream(events: Iterator[dict], cid: str, created: int, model: str, metrics) -> Iterator[str]:
    """Verified sentences as content deltas; footnotes and the ``tether`` field at the end."""
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
    buf, emitted_to, rewrite = "", 0, None
    for ev in guarded(events):
        kind = ev.get("type")
        if kind == "rewrite":
            rewrite = {k: v for k, v in ev.items() if k != "type"}
        elif kind == "token":
            buf += ev["text"]
        elif kind == "sentence" and ev.get("verdict") == "supported":
            sent = next((p for p in parse_answer(buf) if p.index == ev["index"]), None)
            if sent is None or sent.end <= emitted_to:
                continue
            gap = buf[emitted_to:sent.start]
            sep = "" if emitted_to == 0 else (gap if gap and not gap.strip() else " ")
            emitted_to = sent.end
            # the event's text has passed the output guard (the token buffer has not)
            text = ev.get("text") or buf[sent.start:sent.end]
            yield _chunk(cid, created, model, {"content": sep + text.strip()})
        elif kind == "done":
            answer = ev["answer"]
            metrics.record_answer("chat", bool(answer.get("abstained")))
            if answer.get("abstained"):
                tail = ("\n\n" if emitted_to else "") + answer["text"]
            else:  # an answer delivered whole (its sources' policy redacts) has had no sentences yet
                tail = ("" if emitted_to else answer["text"]) + footnotes(answer.get("citations", []))
            if tail:
                yield _chunk(cid, created, model, {"content": tail})
            yield _chunk(cid, created, model, {}, "stop", usage=_usage(answer), tether=tether_field(answer, rewrite))
        elif kind == "error":
            yield f"data: {json.dumps({'error': ev['error']})}\n\n"
    yield "data: [DONE]\n\n"
