"""Leakage probes through the MCP tools (agents/mcp_server.py), spoken over the real protocol.

Each probe's askers call ``search`` (plain and aimed at restricted collections), ``ask``,
``get_document`` / ``get_span`` on every document they cannot read, ``list_collections`` and the
resource list, through the SDK's in-process ``Client`` on the server ``build_server`` makes (the
same server stdio and ``/mcp`` run). Every result, error text included, goes to the Checker; an
unreadable id must read exactly like an absent one. ``search`` results echo the caller's query in
``query``: that known echo field is dropped before scanning.
"""

from __future__ import annotations

import json
import random

import anyio
from mcp import Client

from tether.agents.mcp_server import build_server

from tests.security.probes import Checker, Probe, World, document_ids, dumps


def _result(res) -> tuple[bool, dict | str]:
    text = "".join(getattr(c, "text", "") for c in res.content)
    if res.is_error:
        return True, text
    data = res.structured_content if res.structured_content is not None else json.loads(text)
    data = dict(data)
    data.pop("query", None)
    return False, data


def _ids(payload) -> list[int]:
    return document_ids(payload, ("document_id",))


def run_mcp(engine, world: World, probes: list[Probe], chk: Checker, *, searches: int = 40, asks: int = 8,
            seed: int = 20260) -> dict:
    """Returns facts: calls made, and whether unreadable and absent ids gave the same error."""
    rng = random.Random(seed)
    people = {n: engine.principal(n) for n in world.tokens}
    facts = {"mcp_calls": 0, "mcp_unreadable_like_missing": True}
    picked = rng.sample(probes, min(searches, len(probes)))
    restricted_colls = sorted({d.collection for d in world.docs.values() if d.restricted})
    missing = max(world.docs) + 1000

    async def as_user(who: str, work) -> None:
        async with Client(build_server(engine, lambda _ctx: people[who])) as client:
            await work(client)

    def check(who: str, surface: str, payload, probe: Probe | None) -> None:
        facts["mcp_calls"] += 1
        chk.probe(surface)
        chk.ids(who, surface, _ids(payload), probe, context=dumps(payload))
        chk.text(who, surface, dumps(payload), probe)

    async def everything() -> None:
        for who in world.tokens:
            async def work(c: Client, who: str = who) -> None:
                mine = [(p, i) for i, p in enumerate(picked) if who in p.askers]
                for p, i in mine:
                    check(who, "mcp.search", _result(await c.call_tool("search", {"query": p.question, "k": 10}))[1], p)
                    if i < asks:
                        check(who, "mcp.ask", _result(await c.call_tool("ask", {"question": p.question}))[1], p)
                for coll in restricted_colls:
                    res = await c.call_tool("search", {"query": f"{coll} reference code", "collections": [coll]})
                    check(who, "mcp.search_filtered", _result(res)[1], None)
                check(who, "mcp.list_collections", _result(await c.call_tool("list_collections", {}))[1], None)
                check(who, "mcp.resources", (await c.list_resources()).model_dump(mode="json"), None)
                absent = _result(await c.call_tool("get_document", {"document_id": missing}))[1]
                for doc_id in world.unreadable(who):
                    err, got = _result(await c.call_tool("get_document", {"document_id": doc_id}))
                    check(who, "mcp.get_document", got, None)
                    same = err and str(got).replace(str(doc_id), "N") == str(absent).replace(str(missing), "N")
                    facts["mcp_unreadable_like_missing"] &= bool(same)
                    err, got = _result(await c.call_tool("get_span", {"document_id": doc_id, "char_start": 0,
                                                                      "char_end": 50}))
                    check(who, "mcp.get_span", got, None)
                    facts["mcp_unreadable_like_missing"] &= err
            await as_user(who, work)

    anyio.run(everything)
    return facts
