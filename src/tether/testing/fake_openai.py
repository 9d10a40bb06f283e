"""A real, scriptable OpenAI-compatible HTTP server on 127.0.0.1 for tests.

    with FakeOpenAI(script="quote") as fake:
        gen = OpenAICompatGenerator(OpenAICompatConfig(base_url=fake.base_url, model="fake"))

Endpoints: ``POST /v1/chat/completions`` (JSON, or SSE ``data: {...}`` chunks ending in
``data: [DONE]``, with usage), ``POST /v1/embeddings`` (deterministic hashed bag-of-words
vectors, the same as :class:`~tether.testing.FakeEmbedder`'s), ``POST /v1/rerank`` (Cohere/Jina
shape, scored like :class:`~tether.testing.FakeReranker`) and ``GET /v1/models``.

Every endpoint: ``api_key="k"`` answers 401 (OpenAI's ``invalid_api_key`` body) to a request
without ``Authorization: Bearer k``; setting ``fake.forced_status = 500`` (or any status) answers
every request with that status until it is set back to None (an outage, then a recovery).
``script`` decides each chat reply:

- a behaviour name: ``quote`` (answers by quoting the best-matching source sentence with its
  citation), ``hallucinate_number``, ``foreign_citation``, ``no_citations``, ``invalid_json``,
  ``abstain``;
- a function ``messages -> str | Reply`` (the most flexible);
- a list of those, consumed one per chat request (the last one repeats).

A :class:`Reply` also scripts faults: ``delay_s``, an HTTP ``status`` (429 with
``Retry-After``, 500 ...), ``reset`` (the connection is reset before any response) and
``truncate_after`` (a stream stops after N chunks, without finish_reason or ``[DONE]``; a plain
JSON reply is cut off mid-body), and ``error`` (the JSON error body sent with ``status``);
``tool_calls`` makes a (non-streamed) reply call tools (OpenAI's ``message.tool_calls``).
Every request body and its headers (lower-cased names) are kept in ``.requests``.

Random faults: ``FakeOpenAI("quote", faults=Faults(rate=0.3, seed=7))`` gives a seeded,
reproducible share of chat calls one fault each (the plan depends only on the seed and the call's
number): ``latency``, ``429`` (with ``Retry-After``), ``500``, ``reset``, ``truncate``, ``garbage``
(invalid JSON for JSON requests, uncited gibberish otherwise) and ``overflow`` (HTTP 400 with
OpenAI's ``context_length_exceeded`` body). ``context_window=N`` answers that same 400 whenever
the prompt has more than N words. Each chat request records its fault (or None) under
``"fault"``; ``.faults_seen`` lists them in order.
"""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tether.testing.fake_embedder import hashed_vector
from tether.testing.fake_reranker import overlap_score

Messages = list[dict[str, Any]]


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    reset: bool = False
    truncate_after: int | None = None
    finish_reason: str = "stop"
    error: dict[str, Any] | None = None
    #: ``[{"name": ..., "arguments": {...}}]``: the reply calls these tools (non-streamed replies).
    tool_calls: list[dict[str, Any]] | None = None


FAULT_KINDS = ("latency", "429", "500", "reset", "truncate", "garbage", "overflow")
GARBAGE_JSON = '{"claims": [{"text": "unterminated'
GARBAGE_TEXT = "lorem ipsum ~~ zx#q vvv"


def overflow_error(window: int = 4096, requested: int = 5000) -> dict[str, Any]:
    """OpenAI's error body for a prompt longer than the context window."""
    return {"error": {
        "message": f"This model's maximum context length is {window} tokens. However, your messages "
                   f"resulted in {requested} tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}


@dataclass
class Faults:
    """A seeded plan of faults for a share (``rate``) of chat calls, one kind each (uniformly)."""

    rate: float = 0.3
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    latency_s: float = 0.3
    retry_after_s: int = 1
    #: A truncated stream stops after 0..max_truncate_after chunks (0: before any token).
    max_truncate_after: int = 2

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")

    def pick(self, call: int) -> tuple[str | None, random.Random]:
        """The fault of chat call number ``call`` (0-based), or None; and its random source."""
        rng = random.Random(f"{self.seed}:{call}")
        if not self.kinds or rng.random() >= self.rate:
            return None, rng
        return rng.choice(self.kinds), rng

    def apply(self, kind: str, reply: Reply, rng: random.Random, wants_json: bool) -> Reply:
        if kind == "latency":
            return replace(reply, delay_s=reply.delay_s + self.latency_s)
        if kind == "429":
            return Reply(status=429, headers={"Retry-After": str(self.retry_after_s)})
        if kind == "500":
            return Reply(status=500)
        if kind == "reset":
            return Reply(reset=True)
        if kind == "truncate":
            return replace(reply, truncate_after=rng.randint(0, self.max_truncate_after))
        if kind == "garbage":
            return replace(reply, text=GARBAGE_JSON if wants_json else GARBAGE_TEXT)
        return Reply(status=400, error=overflow_error())


Script = str | Callable[[Messages], str | Reply] | Reply
_SOURCE = re.compile(r'<source id="(\d+)"[^>]*>\n?(.*?)\n?</source>', re.DOTALL)


def sources(messages: Messages) -> dict[int, str]:
    """The numbered source texts in the prompt."""
    text = "\n".join(str(m.get("content", "")) for m in messages)
    return {int(n): body for n, body in _SOURCE.findall(text)}


def question(messages: Messages) -> str:
    text = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    m = re.search(r"Question:\s*(.*)", text)
    return m.group(1).strip() if m else ""


def best_sentence(messages: Messages) -> tuple[int, str]:
    """(source number, sentence) sharing the most words with the question."""
    q = set(re.findall(r"\w+", question(messages).lower()))
    best: tuple[float, int, str] = (-1.0, 1, "")
    for n, body in sources(messages).items():
        for s in re.split(r"(?<=[.!?])\s+", body.strip()):
            score = len(q & set(re.findall(r"\w+", s.lower())))
            if score > best[0]:
                best = (score, n, s.strip())
    return best[1], best[2]


def _wants_json(messages: Messages, body: dict[str, Any]) -> bool:
    return "response_format" in body or "guided_json" in body or "JSON schema" in str(messages[0].get("content", ""))


def behaviour(name: str, messages: Messages, body: dict[str, Any]) -> str:
    """The reply text of a named behaviour."""
    n, sentence = best_sentence(messages)
    if name == "abstain" or not sentence:
        return "I could not find this in the documents you can access."
    if name == "invalid_json":
        return '{"claims": [{"text": "unterminated'
    if name == "hallucinate_number":
        m = re.search(r"\d+", sentence)
        wrong = (sentence[: m.start()] + str(int(m.group(0)) + 7) + sentence[m.end():]) if m else (
            sentence + " It grew 42%.")
        claims = [(sentence, n), (wrong, n)]
    elif name == "foreign_citation":
        claims = [(sentence, len(sources(messages)) + 5)]
    elif name == "no_citations":
        claims = [(sentence, 0)]
    elif name == "quote":
        claims = [(sentence, n)]
    else:
        raise ValueError(f"unknown behaviour {name!r}; known: quote, hallucinate_number, "
                         "foreign_citation, no_citations, invalid_json, abstain")
    if _wants_json(messages, body):
        return json.dumps({"claims": [{"text": t, "citations": [c] if c else []} for t, c in claims]})
    return " ".join(f"{t} [{c}]" if c else t for t, c in claims)


class FakeOpenAI:
    def __init__(self, script: Script | list[Script] = "quote", model: str = "fake-model",
                 faults: Faults | None = None, context_window: int | None = None, *,
                 api_key: str | None = None) -> None:
        self.script = script if isinstance(script, list) else [script]
        self.model = model
        self.faults = faults
        self.context_window = context_window
        self.api_key = api_key
        #: When set, every request to any endpoint is answered with this HTTP status.
        self.forced_status: int | None = None
        self.requests: list[dict[str, Any]] = []
        self._calls = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first (use it as a context manager)"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    @property
    def faults_seen(self) -> list[str | None]:
        """The fault each chat request got (None: answered normally), in arrival order."""
        return [r.get("fault") for r in self.chat_requests]

    def __enter__(self) -> FakeOpenAI:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def next_reply(self, messages: Messages, body: dict[str, Any], record: dict[str, Any] | None = None) -> Reply:
        with self._lock:
            call = self._calls
            step = self.script[min(call, len(self.script) - 1)]
            self._calls += 1
        if isinstance(step, Reply):
            reply = step
        else:
            out = behaviour(step, messages, body) if isinstance(step, str) else step(messages)
            reply = out if isinstance(out, Reply) else Reply(text=out)
        fault: str | None = None
        if self.context_window is not None:
            words = sum(len(str(m.get("content", "")).split()) for m in messages)
            if words > self.context_window:
                fault, reply = "overflow", Reply(status=400, error=overflow_error(self.context_window, words))
        if fault is None and self.faults is not None:
            fault, rng = self.faults.pick(call)
            if fault is not None:
                reply = self.faults.apply(fault, reply, rng, _wants_json(messages, body))
        if record is not None:
            record["fault"] = fault
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # scripted resets and truncations are expected; keep test output clean


def _calls(reply: Reply) -> dict[str, Any]:
    return {"tool_calls": [{"id": f"call_{i}", "type": "function", "function": {
        "name": c["name"], "arguments": json.dumps(c.get("arguments", {}))}} for i, c in enumerate(reply.tool_calls)]
    } if reply.tool_calls else {}


def _embed(text: str, dim: int) -> list[float]:
    return [float(v) for v in hashed_vector(text, dim)]


def _refused(fake: FakeOpenAI, headers: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
    """The (status, body) that every endpoint answers while the fake is down or the key is wrong."""
    if fake.forced_status is not None:
        return fake.forced_status, {"error": {"message": f"fake error {fake.forced_status}", "type": "server_error"}}
    if fake.api_key is not None and headers.get("authorization") != f"Bearer {fake.api_key}":
        return 401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                               "code": "invalid_api_key"}}
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        refused = _refused(self.fake, {k.lower(): v for k, v in self.headers.items()})
        if refused is not None:
            self._json(*refused)
        elif self.path.rstrip("/").endswith("/models"):
            model = {"id": self.fake.model, "object": "model", "owned_by": "fake"}
            self._json(200, {"object": "list", "data": [model]})
        else:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        headers = {k.lower(): v for k, v in self.headers.items()}
        record: dict[str, Any] = {"path": self.path, "body": body, "headers": headers}
        self.fake.requests.append(record)
        refused = _refused(self.fake, headers)
        if refused is not None:
            self._json(*refused)
        elif self.path.endswith("/embeddings"):
            inputs = body.get("input", [])
            inputs = [inputs] if isinstance(inputs, str) else inputs
            dim = int(body.get("dimensions") or 384)
            data = [{"object": "embedding", "index": i, "embedding": _embed(t, dim)} for i, t in enumerate(inputs)]
            tokens = sum(len(str(t).split()) for t in inputs)
            self._json(200, {"object": "list", "data": data, "model": body.get("model", self.fake.model),
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        elif self.path.endswith("/rerank"):
            docs = body.get("documents") or body.get("texts") or []
            scores = [overlap_score(str(body.get("query", "")), str(d)) for d in docs]
            order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))[: int(body.get("top_n") or len(docs))]
            self._json(200, {"model": body.get("model", self.fake.model),
                             "results": [{"index": i, "relevance_score": scores[i]} for i in order]})
        elif self.path.endswith("/chat/completions"):
            self._chat(body, record)
        else:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def _chat(self, body: dict[str, Any], record: dict[str, Any]) -> None:
        messages = body.get("messages", [])
        reply = self.fake.next_reply(messages, body, record)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if reply.status != 200:
            error = reply.error or {"error": {"message": f"fake error {reply.status}", "type": "server_error"}}
            self._json(reply.status, error, reply.headers)
            return
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(reply.text.split())
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body.get("model", self.fake.model)}
        if not body.get("stream"):
            obj = {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": reply.finish_reason,
                 "message": {"role": "assistant", "content": reply.text, **_calls(reply)}}]}
            if reply.truncate_after is None:
                self._json(200, obj)
                return
            data = json.dumps(obj).encode()  # announce the whole body, send half, hang up
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        pieces = re.findall(r"\S+\s*|\s+", reply.text)
        chunk = {**base, "object": "chat.completion.chunk"}

        def send(obj: Any) -> None:
            self.wfile.write(f"data: {json.dumps(obj)}\n\n".encode())
            self.wfile.flush()

        send({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for i, piece in enumerate(pieces):
            if reply.truncate_after is not None and i >= reply.truncate_after:
                return  # the connection closes mid-answer
            send({**chunk, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        send({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            send({**chunk, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
