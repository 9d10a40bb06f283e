"""The MCP server end to end with the official SDK's client: ``tether mcp --as USER`` spawned over
stdio against a test database, and ``/mcp`` on a real uvicorn server on 127.0.0.1 with API keys.

The corpus (tests/api/server.py ``seed``): a public leave policy (collection ``handbook``) and a
restricted "Project Nightingale salary bands" document (collection ``hr``, group ``hr``); ana is in
hr, eve in no group. Everything eve gets back, in any field or error, is scanned for that
document's id, title, source and distinctive words.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.api.server import live_server

TOOLS = {"search", "ask", "get_document", "get_span", "list_collections"}
SECRET_WORDS = ("nightingale", "91,000", "118,000", "salary band")


@pytest.fixture(scope="module")
def live(pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory):
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("mcp")) as pair:
        yield pair


@pytest.fixture(scope="module")
def docs(live) -> dict[str, dict]:
    server, _ = live
    rows = server.engine.list_documents(server.engine.principal("root"), every=True)
    return {"leave": next(r for r in rows if r["collection"] == "handbook"),
            "secret": next(r for r in rows if r["collection"] == "hr")}


def _payload(result) -> dict:
    """A tool result's JSON (structured content, else its text), with its error flag."""
    text = "".join(getattr(c, "text", "") for c in result.content)
    if result.is_error:
        return {"is_error": True, "data": None, "text": text}
    data = result.structured_content if result.structured_content is not None else json.loads(text or "{}")
    # ``search`` echoes the caller's own query (a known echo field, dropped before any scan; the
    # text content is the same JSON, so it is parsed and stripped the same way)
    shown = json.loads(text) if text.startswith("{") else text
    for d in (data, shown):
        if isinstance(d, dict):
            d.pop("query", None)
    return {"is_error": False, "data": data, "text": shown}


def _assert_clean(blob: Any, secret: dict) -> None:
    s = json.dumps(blob, default=str, ensure_ascii=False).lower()
    for marker in (*SECRET_WORDS, secret["title"].lower(), secret["source_uri"].lower()):
        assert marker not in s, (marker, s[:2000])
    assert f'"document_id": {secret["id"]}' not in s and f"documents/{secret['id']}" not in s, s[:2000]


@asynccontextmanager
async def _stdio(live, user: str):
    settings = live[0].engine.settings
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "tether.cli.main", "mcp", "--as", user],
        env={"TETHER_DATABASE_URL": str(settings.database_url), "TETHER_DATA_DIR": str(settings.data_dir),
             "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PATH": os.environ.get("PATH", "")})
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


@asynccontextmanager
async def _http(live, key: str):
    server, _ = live
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120) as client, \
            streamable_http_client(f"{server.url}/mcp", http_client=client) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def _probe_everything(session: ClientSession, secret: dict) -> list[Any]:
    """Every tool and resource an outsider can reach, aimed at the restricted document."""
    out: list[Any] = []
    for q in ("Project Nightingale salary bands", "salary band senior engineer 91,000 euro"):
        out.append(_payload(await session.call_tool("search", {"query": q, "k": 10})))
        out.append(_payload(await session.call_tool("search", {"query": q, "collections": ["hr"]})))
    out.append(_payload(await session.call_tool("ask", {"question": "What is the salary band for a senior "
                                                                    "engineer in Project Nightingale?"})))
    out.append(_payload(await session.call_tool("list_collections", {})))
    out.append(_payload(await session.call_tool("get_document", {"document_id": secret["id"]})))
    out.append(_payload(await session.call_tool("get_span", {"document_id": secret["id"], "char_start": 0,
                                                             "char_end": 40})))
    out.append((await session.list_resources()).model_dump(mode="json"))
    try:
        out.append((await session.read_resource(f"tether://documents/{secret['id']}")).model_dump(mode="json"))
    except Exception as exc:  # noqa: BLE001 - an MCP error is what we expect; its text must be clean too
        out.append(str(exc))
    return out


# -- stdio ------------------------------------------------------------------------------------------
def test_stdio_lists_tools_and_answers_as_the_user(live, docs):
    async def run() -> None:
        async with _stdio(live, "ana") as s:
            tools = {t.name for t in (await s.list_tools()).tools}
            assert tools >= TOOLS, tools
            hits = _payload(await s.call_tool("search", {"query": "Nightingale salary band senior engineer"}))
            assert not hits["is_error"], hits
            top = hits["data"]["passages"][0]
            assert top["document_id"] == docs["secret"]["id"] and "91,000" in top["quote"]
            # the offsets are exact: get_span returns the quoted text
            where = {"document_id": top["document_id"], "char_start": top["char_start"], "char_end": top["char_end"]}
            span = _payload(await s.call_tool("get_span", where))
            assert span["data"]["text"] == top["quote"]
            ans = _payload(await s.call_tool("ask", {"question": "How many days of annual leave do employees accrue?"}))
            a = ans["data"]["answer"]
            assert not a["abstained"] and "27" in a["text"], a
            assert {c["document_id"] for c in a["citations"]} == {docs["leave"]["id"]}
            assert ans["data"]["trace_id"]

    anyio.run(run)


def test_stdio_outsider_gets_nothing_restricted(live, docs):
    async def run() -> list[Any]:
        async with _stdio(live, "eve") as s:
            return await _probe_everything(s, docs["secret"])

    out = anyio.run(run)
    _assert_clean(out, docs["secret"])
    search = out[0]
    assert not search["is_error"] and all(p["document_id"] == docs["leave"]["id"] for p in search["data"]["passages"])
    assert out[5]["data"] == {"collections": [{"name": "handbook", "documents": 1}]}
    assert out[6]["is_error"] and out[7]["is_error"]


def test_stdio_unknown_user_fails_on_stderr(live):
    import subprocess

    settings = live[0].engine.settings
    env = {**os.environ, "TETHER_DATABASE_URL": str(settings.database_url), "TETHER_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.run([sys.executable, "-m", "tether.cli.main", "mcp", "--as", "nobody"], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and proc.stdout == "" and "nobody" in proc.stderr


# -- streamable HTTP under the API ----------------------------------------------------------------------
def test_http_principal_per_request(live, docs):
    _, keys = live

    async def run() -> tuple[dict, dict, list[Any]]:
        async with _http(live, keys["ana"]) as s:
            assert {t.name for t in (await s.list_tools()).tools} >= TOOLS
            ana = _payload(await s.call_tool("get_document", {"document_id": docs["secret"]["id"]}))
            listed = (await s.list_resources()).resources
            assert {str(r.uri) for r in listed} == {f"tether://documents/{d['id']}" for d in docs.values()}
            read = await s.read_resource(f"tether://documents/{docs['secret']['id']}")
            assert "91,000" in read.contents[0].text
        async with _http(live, keys["eve"]) as s:
            eve_doc = _payload(await s.call_tool("get_document", {"document_id": docs["secret"]["id"]}))
            missing = _payload(await s.call_tool("get_document", {"document_id": 999_999}))
            everything = await _probe_everything(s, docs["secret"])
            return ana, {"eve": eve_doc, "missing": missing}, everything

    ana, eve, everything = anyio.run(run)
    assert not ana["is_error"] and "91,000" in ana["data"]["text"]
    # unreadable reads exactly like missing (same error, the id swapped)
    assert eve["eve"]["is_error"] and eve["missing"]["is_error"]
    assert eve["eve"]["text"].replace(str(docs["secret"]["id"]), "N") == eve["missing"]["text"].replace("999999", "N")
    _assert_clean([eve["eve"], everything], docs["secret"])


def test_http_requires_an_api_key(live):
    server, keys = live
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    with httpx.Client(base_url=server.url, timeout=30) as c:
        none = c.post("/mcp", json=body, headers=headers)
        bad = c.post("/mcp", json=body, headers={**headers, "Authorization": "Bearer tth_nope_nope"})
        ok = c.post("/mcp", json=body, headers={**headers, "Authorization": f"Bearer {keys['eve']}"})
    assert none.status_code == 401 and none.json()["error"]["code"] == "unauthenticated", none.text
    assert bad.status_code == 401
    assert ok.status_code == 200, ok.text
    assert {t["name"] for t in ok.json()["result"]["tools"]} >= TOOLS


def test_tool_calls_are_traced_and_audited(live, docs):
    server, keys = live
    engine = server.engine

    async def run() -> None:
        async with _http(live, keys["eve"]) as s:
            await s.call_tool("search", {"query": "annual leave carry over"})
            await s.call_tool("get_document", {"document_id": docs["secret"]["id"]})

    anyio.run(run)
    root = engine.principal("root")
    actions = [r["action"] for r in engine.audit.recent(root, user="eve", limit=20)]
    assert "mcp.search" in actions and "mcp.get_document" in actions, actions
    denied = next(r for r in engine.audit.recent(root, action="mcp.get_document", user="eve", limit=5))
    assert denied["details"]["error"] == "not_found"
    kinds = {t["kind"]: t for t in engine.traces.list(engine.principal("eve"), limit=20)}
    assert {"mcp.search", "mcp.get_document"} <= set(kinds), sorted(kinds)
    assert kinds["mcp.get_document"]["status"] == "error" and kinds["mcp.search"]["status"] == "ok"
