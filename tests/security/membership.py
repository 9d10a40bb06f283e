"""Leakage under membership changes mid-session (issue 23): a reader of a group's documents
warms every cache a read can leave behind (answers in the answer cache, a conversation whose
turn quotes the documents, a signed-in browser session and an API key), is then removed from
the group by the directory (SCIM) or by an administrator, and on the very next requests, with
the same session and key, asks, searches, lists, opens documents and re-reads the conversation.
Anything of the group's documents in what comes back is a leak (``Checker`` over the world as
it is after the change). Memberships that grant nothing alone (the user owns every document of
the group) are skipped; a user in no group is granted each group first, so every group is
covered. Every membership is as the manifest says afterwards.
"""

from __future__ import annotations

import dataclasses
import random
import time
from typing import Any

import anyio
import httpx
from mcp import Client

from tether.agents.mcp_server import build_server
from tether.types import Principal

from tests.security.agent_tools import _result
from tests.security.probes import Checker, Probe, World, document_ids, dumps
from tests.security.runner import cache_state, check_ask_result, check_turn, without_own_words


def after_removal(world: World, who: str, token: str) -> World:
    """The world once ``who`` has lost the ACL token ``token`` (``g:<id>``): what they may read
    shrinks, and every document they no longer read becomes secret to them."""
    tokens = {**world.tokens, who: world.tokens[who] - {token}}
    readable = {**world.readable, who: frozenset(d.id for d in world.docs.values() if d.acl & tokens[who])}
    w = dataclasses.replace(world, tokens=tokens, readable=readable, secrets=dict(world.secrets),
                            exempt_titles=dict(world.exempt_titles))
    visible = "\n".join(world.docs[i].body + "\n" + world.docs[i].title for i in readable[who]).lower()
    w.secrets[who] = {}
    w.exempt_titles[who] = []
    for i in w.unreadable(who):
        d = world.docs[i]
        markers = [d.source_uri] + ([d.canary] if d.canary else [])
        if d.title.lower() in visible:
            w.exempt_titles[who].append(d.title)
        else:
            markers.append(d.title)
        w.secrets[who][i] = markers
    return w


def plan(engine, newcomer: str = "eve") -> list[tuple[str, str, int, int, bool]]:
    """(user, group, user id, group id, granted) for every membership of a non-admin user, then
    ``newcomer`` (in no group) granted each group for the test (``granted``), to be taken away."""
    with engine.db.connection() as conn:  # the test reads the store directly
        rows = conn.execute("SELECT p.name AS who, g.name AS grp, p.id AS pid, g.id AS gid FROM memberships m"
                            " JOIN principals p ON p.id = m.principal_id JOIN groups g ON g.id = m.group_id"
                            " WHERE p.role <> 'admin' ORDER BY p.name, g.name").fetchall()
        new = conn.execute("SELECT g.name AS grp, g.id AS gid, p.id AS pid FROM groups g, principals p"
                           " WHERE p.name = %s ORDER BY g.name", (newcomer,)).fetchall()
    return ([(r["who"], r["grp"], int(r["pid"]), int(r["gid"]), False) for r in rows]
            + [(newcomer, r["grp"], int(r["pid"]), int(r["gid"]), True) for r in new])


def _questions(world: World, probes: list[Probe], token: str, who: str, n: int, rng: random.Random) -> list[Probe]:
    """Probes after the group's documents that ``who`` reads only through ``token``."""
    only_via = {d.id for d in world.docs.values() if token in d.acl and not (d.acl & (world.tokens[who] - {token}))}
    mine = [p for p in probes if p.targets and set(p.targets) <= only_via and p.question.strip()]
    rng.shuffle(mine)
    return mine[:n]


def run_membership(engine, base_url: str, world: World, probes: list[Probe], *, seed: int = 20260,
                   per_change: int = 9, warm: int = 2) -> tuple[dict[str, Any], list[Checker]]:
    """Every membership that alone grants some documents removed once (alternately by SCIM and
    by an administrator), probed on the next requests (API, engine, conversation, MCP tools),
    then restored; and a user in no group granted each group, reading, then removed. Returns
    (facts, one Checker per change)."""
    rng = random.Random(seed + 23)
    system = Principal.system()
    facts: dict[str, Any] = {"changes": [], "warm_reader_citations": 0, "warm_cache_hits": 0}
    checkers: list[Checker] = []
    client = httpx.Client(base_url=base_url, timeout=120)
    changes = [c for c in plan(engine) if _questions(world, probes, f"g:{c[3]}", c[0], 1, random.Random(0))]
    for n, (who, grp, pid, gid, granted) in enumerate(changes):
        token, via = f"g:{gid}", ("scim", "admin")[n % 2]
        qs = _questions(world, probes, token, who, per_change, rng)
        if granted:
            _grant(engine, via, who, grp, pid, gid)
        group_docs = sorted(d.id for d in world.docs.values() if token in d.acl)
        key = engine.accounts.create_key(system, who, name="membership-leakage")["key"]
        auth = {"Authorization": f"Bearer {key}"}
        browser = httpx.Client(base_url=base_url, timeout=120)
        assert browser.post("/v1/session", json={"api_key": key}).status_code == 200
        # before: the reader reads, and every cache fills
        reader = engine.principal(who)
        warm_entries: set[int] = set()
        for p in qs[:warm]:
            first = engine.ask(reader, p.question)
            facts["warm_reader_citations"] += sum(c.document_id in group_docs for c in first.answer.citations)
            again = client.post("/v1/ask", json={"question": p.question}, headers=auth).json()
            state, entry = cache_state(engine, again.get("trace_id"))
            facts["warm_cache_hits"] += int(state.startswith("hit"))
            if entry is not None:
                warm_entries.add(int(entry))
        thread = client.post("/v1/conversations", json={"title": "before the change"}, headers=auth).json()
        cid = thread.get("id")
        client.post(f"/v1/conversations/{cid}/turns", json={"question": qs[0].question}, headers=auth)
        t0 = time.perf_counter()
        if via == "scim":
            engine.provisioning.patch_group(str(gid), [("remove", [pid])])
        else:
            engine.accounts.remove_member(system, grp, who, via="leakage-test")
        after = after_removal(world, who, token)
        # the checker looks for every document the questions are after (else it proves nothing)
        assert {t for p in qs for t in p.targets} <= set(after.secrets[who]), (who, grp)
        chk = Checker(after)
        checkers.append(chk)
        try:
            assert engine.principal(who).group_names.count(grp) == 0
            _probe_after(engine, client, browser, auth, chk, who, qs, cid, group_docs, warm_entries)
        finally:
            if not granted:
                _grant(engine, via, who, grp, pid, gid)
        facts["changes"].append({"user": who, "group": grp, "via": via, "granted": granted, "questions": len(qs),
                                 "probes": chk.probes, "leaks": len(chk.leaks),
                                 "seconds": round(time.perf_counter() - t0, 1)})
    return facts, checkers


def _grant(engine, via: str, who: str, grp: str, pid: int, gid: int) -> None:
    if via == "scim":
        engine.provisioning.patch_group(str(gid), [("add", [pid])])
    else:
        engine.accounts.add_member(Principal.system(), grp, who, via="leakage-test")


def _probe_after(engine, client: httpx.Client, browser: httpx.Client, auth: dict[str, str], chk: Checker,
                 who: str, qs: list[Probe], cid: object, group_docs: list[int], warm_entries: set[int]) -> None:
    """The very next requests after the change, through every surface that reads; a cached
    answer the reader left behind must never be served again (it is checked by entry id)."""
    me = engine.principal(who)  # resolved fresh, as every request is
    for p in qs:
        chk.probe("membership.engine.ask")
        result = engine.ask(me, p.question)
        check_ask_result(chk, who, "membership.engine.ask", result, p)
        state, entry = cache_state(engine, result.trace_id)
        chk.checks += 1
        if entry is not None and int(entry) in warm_entries:
            chk._leak(who, "membership.engine.ask", p, -1, f"cache entry {entry} ({state})", result.answer.text)
        chk.probe("membership.engine.search")
        res = engine.search(me, p.question, k=10)
        chk.ids(who, "membership.engine.search", [x.document_id for x in res.passages], p)
        chk.text(who, "membership.engine.search", dumps([dataclasses.asdict(x) for x in res.passages]), p)
        chk.probe("membership.api.session_ask")
        r = browser.post("/v1/ask", json={"question": p.question})
        _scan(chk, who, "membership.api.session_ask", r, p)
        chk.probe("membership.api.key_search")
        r = client.post("/v1/search", json={"query": p.question, "k": 10}, headers=auth)
        _scan(chk, who, "membership.api.key_search", r, p, echo=("query",))
    _mcp_after(engine, chk, who, qs, group_docs)
    chk.probe("membership.api.conversation")
    r = client.get(f"/v1/conversations/{cid}", headers=auth)
    check_turn(chk, who, "membership.api.conversation", r.json(), None, [qs[0].question, "before the change"])
    chk.probe("membership.api.documents")
    _scan(chk, who, "membership.api.documents", browser.get("/v1/documents"), None)
    for doc_id in group_docs:
        chk.probe("membership.api.document")
        r = client.get(f"/v1/documents/{doc_id}", headers=auth)
        chk.checks += 1
        if r.status_code != 404:
            chk._leak(who, "membership.api.document", None, doc_id, f"HTTP {r.status_code}", r.text[:400])


def _scan(chk: Checker, who: str, surface: str, r: httpx.Response, p: Probe | None,
          echo: tuple[str, ...] = ()) -> None:
    if r.status_code >= 500:
        chk._leak(who, surface, p, -1, f"HTTP {r.status_code}", r.text[:400])
    payload: Any = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
    if isinstance(payload, dict):
        payload = {k: v for k, v in payload.items() if k not in echo}
        payload = without_own_words(payload, [p.question] if p else [])
    ids = document_ids(payload)
    if isinstance(payload, dict) and isinstance(payload.get("documents"), list):
        ids += [d["id"] for d in payload["documents"] if isinstance(d, dict) and isinstance(d.get("id"), int)]
    chk.ids(who, surface, ids, p, context=dumps(payload))
    chk.text(who, surface, dumps(payload) if not isinstance(payload, str) else payload, p)
    chk.text(who, surface + ".headers", dumps(dict(r.headers)), p)


def _mcp_after(engine, chk: Checker, who: str, qs: list[Probe], group_docs: list[int]) -> None:
    """The MCP tools on the next calls: the principal is resolved per call, as stdio and /mcp do."""
    async def work() -> None:
        async with Client(build_server(engine, lambda _ctx: engine.principal(who))) as c:
            for p in qs[:3]:
                for tool, args in (("search", {"query": p.question, "k": 10}), ("ask", {"question": p.question})):
                    surface = f"membership.mcp.{tool}"
                    chk.probe(surface)
                    got = _result(await c.call_tool(tool, args))[1]
                    chk.ids(who, surface, document_ids(got, ('document_id',)), p, context=dumps(got))
                    chk.text(who, surface, dumps(got), p)
            for doc_id in group_docs:
                chk.probe("membership.mcp.get_document")
                err, got = _result(await c.call_tool("get_document", {"document_id": doc_id}))
                chk.checks += 1
                if not err:
                    chk._leak(who, "membership.mcp.get_document", None, doc_id, "readable after removal",
                              dumps(got)[:400])

    anyio.run(work)
