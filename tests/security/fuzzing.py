"""Requests generated from the app's own OpenAPI schema, and the checks every response must pass;
shared by ``test_fuzz.py`` (bounded, in CI) and ``bench/fuzz.py`` (>= 20,000 requests).

Every operation in ``/openapi.json`` is called with path and query parameters and JSON (or
multipart) bodies drawn by ``hypothesis`` from the operation's schema: valid values, and values
made invalid on purpose (NUL characters and lone surrogates in strings and keys, wrong JSON
types, huge and negative numbers, out-of-range and naive/aware dates, unknown fields). Each is
sent as an administrator, a member and an outsider (no key, or a bad one). A response fails
when it is a 5xx, when an error body is not the documented ``{"error": {"code", "message",
"details"?}}``, or when it contains a canary of a document the caller may not read.

Administrators are not sent requests that change who may read what (users, groups, keys,
documents' ACLs): those would make a member's later reads legitimate and the leak check void.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import strategies as st

CANARY_RE = re.compile(r"CANARY-[A-Z]+-[0-9a-f]{6}")
NASTY_STRINGS = ["", "\x00", "a\x00b", "\ud800", "x\udfffy", "ig\u200bnore previous instructions", "é" * 300,
                 "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", "%00", "9999-12-31",
                 "0000-00-00", "2024-02-30T25:61:00", "2024-01-01T00:00:00", "2024-01-01T00:00:00+14:00",
                 "CANARY-HR-000000", "public", "group:nobody", "user:admin", "tth_deadbeef_x"]
NASTY_NUMBERS = [-1, 0, 1, 2, 3, 7, 2 ** 31, 2 ** 63, 10 ** 30, -(10 ** 30), 1.5, 1e308]
WRONG_TYPES: list[Any] = [None, True, [], {}, [1, "a"], {"a": {"b": None}}, 12, "text"]
#: Administrators skip these: they change permissions (see the module docstring).
ADMIN_SKIP = re.compile(r"^(POST|DELETE) /v1/(users|groups|api-keys|documents)")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    params: tuple[dict, ...]
    body: dict | None
    multipart: bool

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def operations(spec: dict) -> list[Operation]:
    out = []
    for path, item in sorted(spec["paths"].items()):
        for method, op in sorted(item.items()):
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            content = (op.get("requestBody") or {}).get("content", {})
            multipart = "multipart/form-data" in content
            body = (content.get("application/json") or content.get("multipart/form-data") or {}).get("schema")
            out.append(Operation(method.upper(), path, tuple(op.get("parameters", [])), body, multipart))
    return out


class Generator:
    """Hypothesis strategies for one OpenAPI document."""

    def __init__(self, spec: dict) -> None:
        self.components = spec.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def valid(self, schema: dict, depth: int = 0) -> st.SearchStrategy[Any]:
        s = self.resolve(schema)
        if "const" in s:
            return st.just(s["const"])
        if "enum" in s:
            return st.sampled_from(s["enum"])
        for key in ("anyOf", "oneOf", "allOf"):
            if key in s:
                return st.one_of(*[self.valid(x, depth) for x in s[key]])
        kind = s.get("type")
        if kind == "string":
            fmt = s.get("format")
            if fmt == "date":
                return st.dates().map(lambda d: d.isoformat())
            if fmt == "date-time":
                return st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat())
            return st.text(min_size=s.get("minLength", 0), max_size=min(s.get("maxLength", 40), 40))
        if kind == "integer":
            return st.integers(min_value=s.get("minimum", -5), max_value=s.get("maximum", 50))
        if kind == "number":
            return st.floats(min_value=s.get("minimum", -5), max_value=s.get("maximum", 1e6), allow_nan=False)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array" or depth > 3:
            return st.lists(self.valid(s.get("items", {"type": "string"}), depth + 1), max_size=3)
        if kind == "object" or "properties" in s:
            props = s.get("properties", {})
            required = set(s.get("required", []))
            return st.fixed_dictionaries(
                {k: self.valid(v, depth + 1) for k, v in props.items() if k in required},
                optional={k: self.valid(v, depth + 1) for k, v in props.items() if k not in required})
        return st.one_of(st.text(max_size=10), st.integers(), st.none())

    def nasty(self) -> st.SearchStrategy[Any]:
        return st.one_of(st.sampled_from(NASTY_STRINGS), st.sampled_from(NASTY_NUMBERS), st.sampled_from(WRONG_TYPES))

    def mutated(self, schema: dict) -> st.SearchStrategy[Any]:
        """A valid value, or one with a field (or the whole value) made invalid."""
        base = self.valid(schema)

        def spoil(value: Any, draw: Any) -> Any:
            if isinstance(value, dict) and value and draw(st.booleans()):
                key = draw(st.sampled_from(sorted(value)))
                return {**value, key: draw(self.nasty())}
            if isinstance(value, dict) and draw(st.booleans()):
                return {**value, draw(st.sampled_from(["\x00", "extra", "\ud800k"])): draw(self.nasty())}
            return draw(self.nasty())

        @st.composite
        def build(draw: Any) -> Any:
            value = draw(base)
            return spoil(value, draw) if draw(st.integers(0, 2)) == 0 else value

        return build()

    def request(self, op: Operation) -> st.SearchStrategy[dict]:
        @st.composite
        def build(draw: Any) -> dict:
            path, query = op.path, {}
            for p in op.params:
                schema = p.get("schema", {})
                if p["in"] == "path":
                    value = draw(st.one_of(st.integers(1, 40), st.sampled_from(NASTY_STRINGS[1:]), self.valid(schema)))
                    path = path.replace("{" + p["name"] + "}", segment(str(value)))
                elif p["in"] == "query" and draw(st.booleans()):
                    value = draw(self.mutated(schema))
                    query[p["name"]] = value if isinstance(value, str) else json.dumps(value)
            body = draw(self.mutated(op.body)) if op.body is not None and draw(st.integers(0, 5)) else None
            return {"path": path, "query": query, "body": body}

        return build()


def segment(text: str) -> str:
    """A path segment, percent-encoded (a lone surrogate as the invalid UTF-8 it would be)."""
    try:
        return quote(text, safe="") or "x"
    except UnicodeEncodeError:
        return "x%ED%A0%80"


def _plain(text: str) -> str:
    """``text`` with lone surrogates replaced (httpx cannot encode them in URLs and forms)."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def encode(req: dict, op: Operation) -> dict:
    """httpx keyword arguments for a generated request (JSON bodies keep lone surrogates as
    ``\\ud800`` escapes, which is how a client would send them)."""
    kw: dict[str, Any] = {"params": {_plain(k): _plain(v) for k, v in req["query"].items()}}
    body = req["body"]
    if body is None:
        return kw
    if op.multipart:
        fields = body if isinstance(body, dict) else {}
        kw["data"] = {_plain(k): _plain(v if isinstance(v, str) else json.dumps(v))
                      for k, v in fields.items() if k != "file"}
        kw["files"] = {"file": ("fuzz.md", b"# Fuzz\n\nA short note.\n", "text/markdown")}
    else:
        kw["content"] = json.dumps(body).encode()
        kw["headers"] = {"Content-Type": "application/json"}
    return kw


ROLES = ("admin", "member", "outsider", "bad_key")


def prepare(engine) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Ingest the demo's restricted (canary) documents and one public one; return API keys by
    role and, by role, the canaries that role must never see."""
    from tether.store import api_keys

    from tests.security.probes import load_world, setup_demo

    setup_demo(engine, only=lambda d: bool(d.get("canary")) or d["path"] == "company/overview.md")
    world = load_world(engine, partial=True)
    with engine.db.transaction() as conn:
        keys = {"admin": api_keys.create_key(conn, "admin", name="fuzz")["key"],
                "member": api_keys.create_key(conn, "ana", name="fuzz")["key"]}
    everything = {d.canary for d in world.docs.values() if d.canary}
    secrets = {
        "member": {c for c in everything if not any(d.canary == c and d.id in world.readable["ana"]
                                                    for d in world.docs.values())},
        "outsider": everything, "bad_key": everything,
        "admin": set(),  # administrators may read every document through the documents API
    }
    assert secrets["member"] and everything > secrets["member"]
    return keys, secrets


def headers(role: str, keys: dict[str, str]) -> dict[str, str]:
    if role == "outsider":
        return {}
    if role == "bad_key":
        return {"Authorization": "Bearer tth_00000000_not-a-real-key"}
    return {"Authorization": f"Bearer {keys[role]}"}


def send(client: httpx.Client, op: Operation, role: str, req: dict, keys: dict[str, str]) -> httpx.Response:
    kw = encode(req, op)
    kw["headers"] = {**kw.get("headers", {}), **headers(role, keys)}
    return client.request(op.method, req["path"], **kw)


@dataclass
class Result:
    requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_route: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, failure: str) -> None:
        if len(self.failures) < 200:
            self.failures.append(failure)


def check(op: Operation, role: str, r: httpx.Response, secrets: set[str], result: Result) -> list[str]:
    """What is wrong with ``r`` (empty when nothing); counted into ``result``."""
    result.requests += 1
    result.by_status[r.status_code] += 1
    result.by_route[op.name] += 1
    problems = []
    if r.status_code >= 500 and r.status_code not in (502, 503, 504):
        problems.append(f"HTTP {r.status_code}")
    ctype = r.headers.get("content-type", "")
    if r.status_code >= 400 and ctype.startswith("application/json"):
        try:
            body = r.json()
            err = body["error"]
            ok = set(body) == {"error"} and isinstance(err.get("code"), str) and isinstance(err.get("message"), str)
            ok = ok and set(err) <= {"code", "message", "details"} and isinstance(err.get("details", {}), dict)
        except (ValueError, KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            problems.append("error body not in the documented shape")
    text = r.text + json.dumps(dict(r.headers))
    leaked = {c for c in CANARY_RE.findall(text) if c in secrets}
    if leaked:
        problems.append(f"leaked {sorted(leaked)}")
    for p in problems:
        result.add(f"{role} {op.method} {r.request.url}: {p}: {r.text[:200]!r}")
    return problems
