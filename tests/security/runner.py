"""Run the leakage probes against the engine (and, when given, a live HTTP server).

Shared by ``tests/security/test_leakage.py`` and ``bench/leakage.py``. Every surface's output is
handed to a :class:`~tests.security.probes.Checker`; the caller decides what to do with leaks.
"""

from __future__ import annotations

import dataclasses
import html
import json
import random
import re
import time
from dataclasses import dataclass, field

from tether.errors import NotFound
from tether.retrieve.filters import SearchFilter

from tests.security.probes import Checker, Probe, World, document_ids, dumps


# how much of each surface one run exercises (the defaults keep the test near 2-4 minutes on two
# busy cores; every probe is searched, asks are a deterministic stratified sample)
@dataclass
class Budget:
    search_askers: int = 2  # principals per probe for search (rotating over the probe's askers)
    asks: int = 100  # engine ask() calls over (probe, asker) pairs
    streams: int = 12  # engine ask_stream() calls
    cache_pairs: int = 6  # authorised-then-unauthorised questions (engine: 4 calls each; API: half, 3 each)
    api_asks: int = 16
    api_streams: int = 8
    api_chats: int = 6
    api_searches: int = 120
    threads: int = 6  # conversations by non-readers (probe + follow-ups), and readers' threads opened by others
    thread_follow_ups: int = 2


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, key: str, t0: float) -> None:
        self.seconds[key] = round(self.seconds.get(key, 0.0) + time.perf_counter() - t0, 2)


def _pairs(probes: list[Probe], n: int, rng: random.Random) -> list[tuple[Probe, str]]:
    """``n`` (probe, asker) pairs, round-robin over probe kinds so every kind is represented."""
    by_kind: dict[str, list[tuple[Probe, str]]] = {}
    for p in probes:
        by_kind.setdefault(p.kind, []).append((p, rng.choice(p.askers)))
    for v in by_kind.values():
        rng.shuffle(v)
    out: list[tuple[Probe, str]] = []
    kinds = sorted(by_kind)
    i = 0
    while len(out) < n and any(by_kind.values()):
        k = kinds[i % len(kinds)]
        if by_kind[k]:
            out.append(by_kind[k].pop())
        i += 1
    return out


def _passage_ids(passages) -> list[int]:
    return [p.document_id for p in passages]


def check_ask_result(chk: Checker, who: str, surface: str, result, probe: Probe | None) -> None:
    d = result.to_dict()
    ids = [c.document_id for c in result.answer.citations]
    ids += [c.document_id for s in result.answer.sentences for c in s.citations]
    ids += _passage_ids(result.passages)
    ids += [s["document_id"] for s in d.get("sources", [])]
    chk.ids(who, surface, ids, probe, context=dumps(d))
    chk.text(who, surface, result.answer.text, probe)
    chk.text(who, surface, dumps(d), probe)


def check_events(chk: Checker, who: str, surface: str, events: list[dict], probe: Probe | None) -> None:
    ids: list[int] = []
    for ev in events:
        for s in ev.get("sources", []) or []:
            ids.append(s["document_id"])
        for c in (ev.get("answer") or {}).get("citations", []) or []:
            ids.append(c["document_id"])
        for c in ev.get("citations", []) or []:
            if isinstance(c, dict) and "document_id" in c:
                ids.append(c["document_id"])
    chk.ids(who, surface, ids, probe, context=dumps(events))
    chk.text(who, surface, dumps(events), probe)


def check_trace(chk: Checker, engine, principal, who: str, surface: str, trace_id: str | None,
                probe: Probe | None) -> None:
    """The trace of a request as its asker sees it (admin-only attributes stripped): no id or
    text of a document the asker may not read, in any span."""
    from tether.observe import store as obs_store

    if not trace_id:
        return
    with engine.db.connection() as conn:
        t = obs_store.get(conn, trace_id, viewer_id=principal.id, admin=principal.is_admin)
    ids: list[int] = list(t["attrs"].get("cited_documents", []))

    def walk(node: dict) -> None:
        for h in node["attrs"].get("hits", []) or []:
            ids.append(h["document_id"])
        for c in node.get("children", []):
            walk(c)

    walk(t["root"])
    # the asker's own question, stored (redacted) with the trace, is a known echo
    t = {**t, "question": None, "attrs": {k: v for k, v in t["attrs"].items() if k != "question"}}
    chk.ids(who, surface, ids, probe, context=dumps(t))
    chk.text(who, surface, dumps(t), probe)


def cache_state(engine, trace_id: str | None) -> tuple[str, int | None]:
    """The answer cache's verdict on a request (``hit_exact`` | ``hit_semantic`` | ``miss`` | "")
    and the entry it served."""
    if not trace_id:
        return "", None
    with engine.db.connection() as conn:
        row = conn.execute(
            "SELECT attrs->>'cache' AS c, (SELECT (ch->'attrs'->>'entry')::bigint FROM jsonb_array_elements("
            " root->'children') ch WHERE ch->>'name' = 'cache' LIMIT 1) AS entry FROM traces WHERE id = %s",
            (trace_id,)).fetchone()
    return ((row["c"] or ""), row["entry"]) if row else ("", None)


def check_search(chk: Checker, who: str, surface: str, res, probe: Probe | None) -> None:
    chk.ids(who, surface, _passage_ids(res.passages), probe)
    chk.text(who, surface, dumps([dataclasses.asdict(p) for p in res.passages]), probe)


# ---------------------------------------------------------------------------------------------
# engine level
# ---------------------------------------------------------------------------------------------
def run_engine(engine, world: World, probes: list[Probe], chk: Checker, budget: Budget,
               seed: int = 20260, timings: Timings | None = None) -> dict:
    rng = random.Random(seed)
    timings = timings or Timings()
    people = {n: engine.principal(n) for n in world.tokens}
    facts: dict = {}

    # search: every probe, by a rotating subset of its askers
    t0 = time.perf_counter()
    for i, p in enumerate(probes):
        for j in range(min(budget.search_askers, len(p.askers))):
            who = p.askers[(i + j) % len(p.askers)]
            chk.probe("engine.search")
            check_search(chk, who, "engine.search", engine.search(people[who], p.question, k=10), p)
    # filtered search straight at the restricted collections and classifications
    restricted_colls = sorted({d.collection for d in world.docs.values() if d.restricted})
    for who, pr in people.items():
        for coll in restricted_colls:
            for q in ("reference code", f"{coll} documents"):
                chk.probe("engine.search_filtered")
                res = engine.search(pr, q, k=10, flt=SearchFilter(collections=(coll,)))
                check_search(chk, who, "engine.search_filtered", res, None)
        chk.probe("engine.search_filtered")
        res = engine.search(pr, "reference code salary contract budget runbook", k=10,
                            flt=SearchFilter(document_ids=tuple(world.unreadable(who))))
        check_search(chk, who, "engine.search_filtered", res, None)
        for prefix in sorted({d.source_uri.rsplit("/", 1)[0] + "/" for d in world.docs.values() if d.restricted}):
            chk.probe("engine.search_filtered")
            res = engine.search(pr, "reference code", k=10, flt=SearchFilter(source_prefix=prefix))
            check_search(chk, who, "engine.search_filtered", res, None)
        for cls in ("restricted", "confidential"):
            chk.probe("engine.search_filtered")
            res = engine.search(pr, "CANARY reference code", k=10, flt=SearchFilter(classifications=(cls,)))
            check_search(chk, who, "engine.search_filtered", res, None)
    timings.add("engine.search", t0)

    # ask: a stratified sample
    t0 = time.perf_counter()
    blocked = repeats = repeat_hits = 0
    for p, who in _pairs(probes, budget.asks, rng):
        chk.probe("engine.ask")
        r = engine.ask(people[who], p.question)
        blocked += bool(getattr(r, "blocked", False))
        check_ask_result(chk, who, "engine.ask", r, p)
        if not people[who].is_admin:
            chk.probe("engine.trace")
            check_trace(chk, engine, people[who], who, "engine.trace", r.trace_id, p)
        if not r.answer.abstained and not r.answer.escalate:  # cacheable: asked again, from the cache
            chk.probe("engine.ask.cached")
            again = engine.ask(people[who], p.question)
            repeats += 1
            repeat_hits += cache_state(engine, again.trace_id)[0].startswith("hit")
            check_ask_result(chk, who, "engine.ask.cached", again, p)
    facts["engine_asks_blocked_by_input_guard"] = blocked
    facts["engine_ask_repeats"], facts["engine_ask_repeats_cache_hits"] = repeats, repeat_hits
    timings.add("engine.ask", t0)

    t0 = time.perf_counter()
    for p, who in _pairs(probes, budget.streams, random.Random(seed + 1)):
        chk.probe("engine.ask_stream")
        check_events(chk, who, "engine.ask_stream", list(engine.ask_stream(people[who], p.question)), p)
    timings.add("engine.ask_stream", t0)

    # research mode (answer/research.py): the answer, its plan and step spans, and its stream
    t0 = time.perf_counter()
    for p, who in _pairs(probes, budget.streams, random.Random(seed + 3)):
        chk.probe("engine.ask.research")
        r = engine.ask(people[who], p.question, mode="research")
        check_ask_result(chk, who, "engine.ask.research", r, p)
        steps = (r.research or {}).get("steps", [])  # the plan: each step's documents (its text is in to_dict)
        chk.ids(who, "engine.ask.research", [i for s in steps for i in s.get("documents", [])], p,
                context=dumps(r.research))
        if not people[who].is_admin:
            check_trace(chk, engine, people[who], who, "engine.trace.research", r.trace_id, p)
        chk.probe("engine.ask_stream.research")
        check_events(chk, who, "engine.ask_stream.research",
                     list(engine.ask_stream(people[who], p.question, mode="research")), p)
    timings.add("engine.ask.research", t0)

    # cache: the same question first by an authorised reader, then by each of some non-readers
    t0 = time.perf_counter()
    targeted = [p for p in probes if p.targets and p.kind in ("content", "demo_question", "heading")]
    reader_hits = non_reader_hits = 0
    for p in random.Random(seed + 2).sample(targeted, min(budget.cache_pairs, len(targeted))):
        reader = world.readers(p.targets[0])
        reader = next(u for u in reader if world.roles[u] != "admin")
        engine.ask(people[reader], p.question)
        # the reader's repeat is a hit whenever the answer was cached: the entry the others must not get
        state, entry = cache_state(engine, engine.ask(people[reader], p.question).trace_id)
        reader_hits += state.startswith("hit")
        for who in p.askers[:2]:
            chk.probe("engine.cache")
            r = engine.ask(people[who], p.question)
            # (a hit on an entry of their own, from an earlier ask of theirs, is fine)
            non_reader_hits += entry is not None and cache_state(engine, r.trace_id)[1] == entry
            check_ask_result(chk, who, "engine.cache", r, p)
            check_trace(chk, engine, people[who], who, "engine.cache", r.trace_id, p)
        chk.probe("engine.cache")
        check_events(chk, p.askers[-1], "engine.cache",
                     list(engine.ask_stream(people[p.askers[-1]], p.question)), p)
    facts["cache_pairs_reader_hits"], facts["cache_pairs_non_reader_hits"] = reader_hits, non_reader_hits
    timings.add("engine.cache", t0)

    # list_documents, per collection too
    t0 = time.perf_counter()
    collections = sorted({d.collection for d in world.docs.values()})
    for who, pr in people.items():
        for coll in [None, *collections]:
            chk.probe("engine.list_documents")
            rows = engine.list_documents(pr, coll)
            chk.ids(who, "engine.list_documents", [r["id"] for r in rows], None, context=dumps(rows))
            chk.text(who, "engine.list_documents", dumps(rows))
            got = {int(r["id"]) for r in rows}
            want = {i for i in world.readable[who]
                    if coll is None or world.docs[i].collection == coll}
            # completeness: a filter that returned nothing would pass the leak checks trivially
            assert got == want, (who, coll, sorted(got ^ want))
    timings.add("engine.list_documents", t0)

    # get_document: every unreadable id is NotFound, with a message that names nothing
    t0 = time.perf_counter()
    missing = max(world.docs) + 1000
    for who, pr in people.items():
        for doc_id in [*world.unreadable(who), missing]:
            chk.probe("engine.get_document")
            try:
                row = engine.get_document(pr, doc_id)
            except NotFound as exc:
                msg = f"{exc} {getattr(exc, 'to_dict', lambda: {})()}"
                chk.text(who, "engine.get_document", msg)
                chk.checks += 1
                if msg.replace(str(doc_id), "#") != str(
                        _not_found_message(engine, pr, missing)).replace(str(missing), "#"):
                    chk._leak(who, "engine.get_document", None, doc_id, "message differs from an absent id", msg)
            except Exception as exc:  # noqa: BLE001 - any other error is itself a finding
                chk._leak(who, "engine.get_document", None, doc_id, f"{type(exc).__name__} not NotFound", str(exc))
            else:
                chk._leak(who, "engine.get_document", None, doc_id, "returned the document", dumps(row)[:400])
    timings.add("engine.get_document", t0)
    return facts


_NF_CACHE: dict = {}


def _not_found_message(engine, principal, doc_id: int) -> str:
    key = (id(engine), principal.name, doc_id)
    if key not in _NF_CACHE:
        try:
            engine.get_document(principal, doc_id)
            _NF_CACHE[key] = "<found>"
        except NotFound as exc:
            _NF_CACHE[key] = f"{exc} {exc.to_dict() if hasattr(exc, 'to_dict') else {}}"
    return _NF_CACHE[key]


def positive_control(engine, world: World) -> dict[str, dict]:
    """Authorised readers DO reach the canary-bearing documents (so the probes could fail)."""
    cases = [("ana", "hr/salary-bands-2026.md", "What is the midpoint of the L4 salary band in Lisbon?"),
             ("ben", "legal/contracts/msa-halden-logistics.pdf",
              "What is the liability cap in the Halden Logistics contract?"),
             ("fiona", "finance/budget-2026.pdf", "What are the 2026 targets for closing ARR and headcount?"),
             ("chloe", "engineering/on-call-rota-2026q1.csv", "How much are engineers paid for a week of on-call?")]
    by_path = {d.path: d for d in world.docs.values()}
    out = {}
    for who, path, q in cases:
        d = by_path[path]
        pr = engine.principal(who)
        hits = engine.search(pr, q, k=10)
        canary_hit = engine.search(pr, d.canary, k=10)
        ans = engine.ask(pr, q)
        out[who] = {
            "document": d.title,
            "in_search": d.id in {p.document_id for p in hits.passages},
            "canary_search_finds_it": any(d.canary in p.text for p in canary_hit.passages),
            "cited_in_answer": d.id in {c.document_id for c in ans.answer.citations}
                               or d.id in {p.document_id for p in ans.passages},
            "get_document_has_canary": d.canary in engine.get_document(pr, d.id)["body"],
        }
    return out


# ---------------------------------------------------------------------------------------------
# conversations
# ---------------------------------------------------------------------------------------------
FOLLOW_UPS = ("And what about that?", "What about the exact figures?", "Can you quote it?")


_ECHO_FIELDS = ("title", "question", "standalone", "carried")
_WORDS = re.compile(r"[\w-]+")


def without_own_words(obj, asked: list[str]):
    """``obj`` with the echo fields (title, question, standalone question, carried terms) blanked
    where every word in them is a word the asker typed in this thread: a rewrite that carries the
    asker's own words reveals nothing. A field with any other word is kept and scanned."""
    own = {w.casefold() for q in asked for w in _WORDS.findall(q)}
    if isinstance(obj, dict):
        return {k: ("" if k in _ECHO_FIELDS and {w.casefold() for w in _WORDS.findall(dumps(v))} <= own
                    else without_own_words(v, asked)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [without_own_words(v, asked) for v in obj]
    return obj


def check_turn(chk: Checker, who: str, surface: str, out, probe: Probe | None, asked: list[str]) -> None:
    """A conversation turn, thread or stream as its owner gets it: no id or text of an unreadable
    document (the asker's own words echoed in questions, titles and rewrites excepted)."""
    from tether.services.conversations import answer_documents

    events = out if isinstance(out, list) else [out]
    records = [r for o in events for r in [t["result"] for t in o.get("turns", [])]
               + ([o["turn"]["result"]] if "turn" in o else []) + ([o] if "answer" in o else [])]
    ids = [d for r in records for d in answer_documents(r)]
    ids += [s["document_id"] for o in events for s in o.get("sources", []) or []]
    shown = without_own_words(out, asked)
    chk.ids(who, surface, ids, probe, context=dumps(shown))
    chk.text(who, surface, dumps(shown), probe)


def run_threads(engine, world: World, probes: list[Probe], chk: Checker, budget: Budget, seed: int = 20260) -> dict:
    """Threads: a non-reader's follow-ups into restricted territory (the probe, then elliptical
    follow-ups rewritten from it); a reader's thread that quotes a restricted document, opened by
    each non-reader (NotFound, worded like a missing thread)."""
    import uuid

    people = {n: engine.principal(n) for n in world.tokens}
    conv = engine.conversations
    facts = {"thread_turns": 0, "foreign_thread_probes": 0}
    for p, who in _pairs(probes, budget.threads, random.Random(seed + 3)):
        cid = conv.create(people[who])["id"]
        asked = [p.question, *FOLLOW_UPS[: budget.thread_follow_ups]]
        for q in asked:
            chk.probe("engine.conversation.turn")
            check_turn(chk, who, "engine.conversation.turn", conv.ask(people[who], cid, q), p, asked)
            facts["thread_turns"] += 1
        chk.probe("engine.conversation.get")
        check_turn(chk, who, "engine.conversation.get", conv.get(people[who], cid), p, asked)
        chk.probe("engine.conversation.stream")
        events = list(conv.stream(people[who], cid, FOLLOW_UPS[0]))
        check_events(chk, who, "engine.conversation.stream", without_own_words(events, asked), p)
        check_turn(chk, who, "engine.conversation.stream", events, p, asked)
    targeted = [p for p in probes if p.targets and p.kind in ("content", "demo_question")]
    for p in random.Random(seed + 4).sample(targeted, min(budget.threads, len(targeted))):
        reader = next(u for u in world.readers(p.targets[0]) if world.roles[u] != "admin")
        cid = conv.create(people[reader], p.question[:40])["id"]
        conv.ask(people[reader], cid, p.question)
        missing = str(uuid.uuid4())
        for who in p.askers:
            for call in (conv.get, lambda pr, c: conv.ask(pr, c, FOLLOW_UPS[0]), conv.delete):
                chk.probe("engine.conversation.foreign")
                facts["foreign_thread_probes"] += 1
                msgs = []
                for c in (cid, missing):
                    try:
                        out = call(people[who], c)
                    except NotFound as exc:
                        msgs.append(str(exc.to_dict()).replace(c, "#"))
                    else:
                        chk._leak(who, "engine.conversation.foreign", p, p.targets[0], "thread returned",
                                  dumps(out)[:400])
                        msgs.append("")
                chk.checks += 1
                if len(set(msgs)) != 1:
                    chk._leak(who, "engine.conversation.foreign", p, p.targets[0], "message differs", str(msgs))
                chk.text(who, "engine.conversation.foreign", msgs[0], p)
    return facts


# ---------------------------------------------------------------------------------------------
# HTTP level
# ---------------------------------------------------------------------------------------------
def _sse_events(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data and data != "[DONE]":
                    out.append(json.loads(data))
    return out


def run_api(base_url: str, keys: dict[str, str], world: World, probes: list[Probe], chk: Checker,
            budget: Budget, seed: int = 20260, timings: Timings | None = None) -> dict:
    import httpx

    rng = random.Random(seed + 10)
    timings = timings or Timings()
    facts: dict = {"status_codes": {}}
    client = httpx.Client(base_url=base_url, timeout=120)

    def call(who: str, method: str, path: str, surface: str, probe: Probe | None = None,
             echo_fields: tuple[str, ...] = (), setup: bool = False, **kw) -> httpx.Response:
        """One request; its headers and body are scanned (``setup``: not counted as a probe)."""
        headers = {"Authorization": f"Bearer {keys[who]}", **kw.pop("headers", {})}
        r = client.request(method, path, headers=headers, **kw)
        if not setup:
            chk.probe(surface)
        codes = facts["status_codes"].setdefault(surface, {})
        codes[str(r.status_code)] = codes.get(str(r.status_code), 0) + 1
        chk.text(who, surface + ".headers", dumps(dict(r.headers)), probe)
        body = r.text
        if r.headers.get("content-type", "").startswith("text/html"):
            body = html.unescape(body)  # titles in pages are HTML-escaped
        if echo_fields and r.headers.get("content-type", "").startswith("application/json"):
            payload = r.json()
            dropped = {k: payload.pop(k) for k in echo_fields if k in payload}
            chk.checks += 1  # the echo is exactly what was sent
            if probe is not None and any(v != probe.question for v in dropped.values()):
                chk._leak(who, surface, probe, -1, "echo field differs from the question", dumps(dropped))
            body = dumps(payload)
        chk.text(who, surface + ".body", body, probe)
        if r.status_code >= 500:
            chk._leak(who, surface, probe, -1, f"HTTP {r.status_code}", r.text[:400])
        return r

    def body_ids(who: str, surface: str, payload, probe: Probe | None) -> None:
        chk.ids(who, surface, document_ids(payload), probe, context=dumps(payload))

    t0 = time.perf_counter()
    for i, (p, who) in enumerate(_pairs(probes, budget.api_searches, rng)):
        r = call(who, "POST", "/v1/search", "api.search", p, echo_fields=("query",),
                 json={"query": p.question, "k": 10, "mode": ("hybrid", "bm25", "dense")[i % 3]})
        if r.status_code == 200:
            body_ids(who, "api.search", r.json(), p)
    timings.add("api.search", t0)

    t0 = time.perf_counter()
    traced: list[tuple[str, str, Probe]] = []
    for p, who in _pairs(probes, budget.api_asks, random.Random(seed + 11)):
        r = call(who, "POST", "/v1/ask", "api.ask", p, json={"question": p.question})
        if r.status_code == 200:
            body_ids(who, "api.ask", r.json(), p)
            if r.json().get("trace_id") and world.roles[who] != "admin":
                traced.append((who, r.json()["trace_id"], p))
    for p, who in _pairs(probes, budget.api_streams, random.Random(seed + 12)):
        r = call(who, "POST", "/v1/ask", "api.ask_sse", p, json={"question": p.question},
                 headers={"Accept": "text/event-stream"})
        body_ids(who, "api.ask_sse", _sse_events(r.text), p)
    timings.add("api.ask", t0)

    # traces: the asker reads their own (the stored question is their own echo, set aside);
    # anyone else who is not an admin gets the same 404 as for an id that does not exist
    t0 = time.perf_counter()
    others = [u for u in world.tokens if world.roles[u] != "admin"]
    for n, (who, tid, p) in enumerate(traced):
        headers = {"Authorization": f"Bearer {keys[who]}"}
        r = client.get(f"/v1/traces/{tid}", headers=headers)
        chk.probe("api.trace")
        assert r.status_code == 200, (who, r.status_code, r.text[:200])
        t = r.json()
        t["question"] = None
        t["attrs"] = {k: v for k, v in t.get("attrs", {}).items() if k != "question"}
        assert not any(k.startswith("admin.") for k in t["attrs"]), "admin-only attributes shown to an asker"
        chk.text(who, "api.trace.body", dumps(t), p)
        body_ids(who, "api.trace", t, p)
        stranger = others[(others.index(who) + 1 + n) % len(others)]
        if stranger != who:
            r = call(stranger, "GET", f"/v1/traces/{tid}", "api.trace.foreign", p)
            assert r.status_code == 404, (stranger, "read another user's trace", r.status_code)
    for who in others:
        r = client.get("/v1/traces?limit=200", headers={"Authorization": f"Bearer {keys[who]}"})
        chk.probe("api.trace.list")
        rows = r.json().get("traces", [])
        assert all(row.get("principal") in (who, None) for row in rows), (who, "trace list shows others")
        for row in rows:  # their own questions are echoes; everything else is scanned
            row["question"] = None
            row["attrs"] = {k: v for k, v in (row.get("attrs") or {}).items() if k != "question"}
        chk.text(who, "api.trace.list", dumps(rows), None)
        body_ids(who, "api.trace.list", rows, None)
    timings.add("api.trace", t0)

    t0 = time.perf_counter()
    for i, (p, who) in enumerate(_pairs(probes, budget.api_chats, random.Random(seed + 13))):
        stream = i % 2 == 1
        r = call(who, "POST", "/v1/chat/completions", "api.chat", p,
                 json={"model": "tether", "stream": stream, "messages": [{"role": "user", "content": p.question}]})
        body_ids(who, "api.chat", _sse_events(r.text) if stream else r.json(), p)
    timings.add("api.chat", t0)

    # cache through the API: authorised first, then unauthorised
    t0 = time.perf_counter()
    targeted = [p for p in probes if p.targets and p.kind in ("content", "demo_question")]
    for p in random.Random(seed + 14).sample(targeted, min(max(1, budget.cache_pairs // 2), len(targeted))):
        reader = next(u for u in world.readers(p.targets[0]) if world.roles[u] != "admin")
        call(reader, "POST", "/v1/ask", "api.cache.authorised", None, setup=True, json={"question": p.question})
        r = call(p.askers[0], "POST", "/v1/ask", "api.cache", p, json={"question": p.question})
        if r.status_code == 200:
            body_ids(p.askers[0], "api.cache", r.json(), p)
        r = call(p.askers[-1], "POST", "/v1/ask", "api.cache", p, json={"question": p.question, "stream": True})
        body_ids(p.askers[-1], "api.cache", _sse_events(r.text), p)
    timings.add("api.cache", t0)

    # documents: lists, collections, get/download of unreadable ids (404 with a bare message)
    t0 = time.perf_counter()
    missing = max(world.docs) + 1000
    admin_views: dict = {}
    for who in world.tokens:
        is_admin = world.roles[who] == "admin"
        r = call(who, "GET", "/v1/documents", "api.list_documents")
        rows = r.json().get("documents", [])
        chk.ids(who, "api.list_documents", [d["id"] for d in rows], None, context=r.text)
        assert {d["id"] for d in rows} == set(world.readable[who]), (who, "API list is incomplete or too wide")
        r = call(who, "GET", "/v1/collections", "api.collections")
        counts = {c["name"]: c["documents"] for c in r.json().get("collections", [])}
        if not is_admin:
            want: dict[str, int] = {}
            for i in world.readable[who]:
                c = world.docs[i].collection
                want[c] = want.get(c, 0) + 1
            chk.checks += 1
            if counts != want:
                chk._leak(who, "api.collections", None, -1, "collection counts", f"{counts} != {want}")
        if not is_admin:
            r = call(who, "GET", "/v1/documents?all=true", "api.list_documents_all")
            chk.checks += 1
            if r.status_code != 403:
                chk._leak(who, "api.list_documents_all", None, -1, f"HTTP {r.status_code}", r.text[:400])
        for doc_id in [*world.unreadable(who), missing]:
            for path in (f"/v1/documents/{doc_id}", f"/v1/documents/{doc_id}/download",
                         f"/v1/documents/{doc_id}/download?original=true"):
                surface = "api.get_document"
                # the documents API lets administrators read and manage every document (by design,
                # see routes_documents.readable); that is recorded below, not scanned as a leak
                if is_admin and doc_id != missing:
                    r = client.get(path, headers={"Authorization": f"Bearer {keys[who]}"})
                    admin_views[path] = r.status_code
                    continue
                r = call(who, "GET", path, surface)
                chk.checks += 1
                is_json = r.headers.get("content-type", "").startswith("application/json")
                err = r.json().get("error", {}) if is_json else {}
                if r.status_code != 404 or err.get("code") != "not_found":
                    chk._leak(who, surface, None, doc_id, f"HTTP {r.status_code}", r.text[:400])
                chk.checks += 1
                absent = _api_missing(client, keys[who], path, doc_id, missing)
                if re.sub(r"\d+", "#", r.text) != re.sub(r"\d+", "#", absent):
                    chk._leak(who, surface, None, doc_id, "404 differs from an absent id", r.text[:400])
            for method, path, body in (("DELETE", f"/v1/documents/{doc_id}", None),
                                       ("POST", f"/v1/documents/{doc_id}/reindex", {})):
                if is_admin:
                    continue  # administrators may delete / reindex any document: never probed here
                r = call(who, method, path, "api.manage_document", json=body)
                chk.checks += 1
                if r.status_code != 404:
                    chk._leak(who, "api.manage_document", None, doc_id, f"HTTP {r.status_code}", r.text[:400])
    facts["admin_document_api_statuses"] = sorted(set(admin_views.values()))
    timings.add("api.documents", t0)

    # review requests: a reader's question + the answer it saw must not reach a reviewer who
    # cannot read the cited documents
    t0 = time.perf_counter()
    r = call("ana", "POST", "/v1/ask", "api.review.setup", None, setup=True,
             json={"question": "What is the midpoint of the L4 salary band in Lisbon?"})
    ans = r.json().get("answer") if r.status_code == 200 else None
    call("ana", "POST", "/v1/review-requests", "api.review.setup", None, setup=True,
         json={"question": "Is the L4 Lisbon midpoint right?", "reason": "check", "answer": ans})
    # the review queue (store/reviews.py, store/feedback.py): evidence and drafts are filtered by
    # each viewer's ACL; a thumbs-down on the answer ana saw puts it in the queue too. Askers' own
    # question texts reach reviewers by design (probes that abstain may be queued automatically),
    # so they are taken out before the scan; everything else in the response is scanned.
    rid = call("ana", "POST", "/v1/reviews", "api.review.setup", None, setup=True,
               json={"question": "Is the L4 Lisbon midpoint right?", "answer": ans}).json().get("id")
    if r.status_code == 200 and r.json().get("trace_id"):
        call("ana", "POST", "/v1/feedback", "api.review.setup", None, setup=True,
             json={"trace_id": r.json()["trace_id"], "rating": "down", "comment": "check", "answer": ans})

    def review_view(who: str, path: str, surface: str) -> None:
        chk.probe(surface)
        auth = {"Authorization": f"Bearer {keys[who]}"}
        resp = client.get(path, headers=auth)
        if resp.status_code >= 500:
            chk._leak(who, surface, None, -1, f"HTTP {resp.status_code}", resp.text[:400])
        queue = client.get("/v1/reviews?limit=500", headers=auth).json().get("reviews", [])
        mine = client.get("/v1/reviews?mine=true&limit=500", headers=auth).json().get("reviews", [])
        questions = sorted({i["question"] for i in [*queue, *mine]}, key=len, reverse=True)
        body = html.unescape(resp.text) if resp.headers.get("content-type", "").startswith("text/html") else resp.text
        if resp.headers.get("content-type", "").startswith("application/json"):
            payload = resp.json()
            for item in payload.get("reviews", payload.get("review_requests", [payload])):
                item.pop("question", None)
            body_ids(who, surface, payload, None)
            body = dumps(payload)
        for q in questions:
            body = body.replace(q, "")
        chk.text(who, surface + ".body", body)

    for who in ("rita", "admin", "eve"):
        review_view(who, "/v1/review-requests", "api.review_requests")
        review_view(who, "/v1/reviews", "api.reviews")
        review_view(who, "/ui/reviews", "ui.reviews")
        if rid is not None:
            review_view(who, f"/v1/reviews/{rid}", "api.reviews")
    timings.add("api.review", t0)

    # the browser UI (same authentication): document list, table fragment, document pages
    t0 = time.perf_counter()
    ui = client.get("/ui/documents", headers={"Authorization": f"Bearer {keys['eve']}"})
    facts["ui"] = "probed" if ui.status_code == 200 else f"not probed: GET /ui/documents -> {ui.status_code}"
    if ui.status_code == 200:
        for who in world.tokens:
            if world.roles[who] == "admin":
                continue  # the UI, like the documents API, shows administrators every document
            call(who, "GET", "/ui/documents", "ui.documents")
            call(who, "GET", "/ui/documents/table", "ui.documents")
            absent = call(who, "GET", f"/ui/documents/{missing}", "ui.document").text
            for doc_id in world.unreadable(who):
                r = call(who, "GET", f"/ui/documents/{doc_id}?start=0&end=40", "ui.document")
                chk.checks += 1
                page, absent_page = _without_csrf(r.text), _without_csrf(absent)
                if r.status_code != 404 or page.replace(str(doc_id), "#") != absent_page.replace(str(missing), "#"):
                    chk._leak(who, "ui.document", None, doc_id,
                              f"HTTP {r.status_code} / page differs from an absent id", r.text[:400])
    # metrics (an administrator's or a scraper's view): nothing document-derived in them (scanned
    # with eve's secrets, as they may reach a monitoring system anyone in operations reads)
    r = client.get("/metrics", headers={"Authorization": f"Bearer {keys['admin']}"})
    chk.probe("api.metrics")
    chk.text("eve", "api.metrics", r.text)
    timings.add("ui", t0)

    # unauthenticated and bad-key errors
    for path, method, body in (("/v1/ask", "POST", {"question": "What is CANARY-HR-?"}),
                               ("/v1/documents/1", "GET", None), ("/v1/search", "POST", {"query": "salary"})):
        for hdr in ({}, {"Authorization": "Bearer tth_bad_key"}):
            r = client.request(method, path, headers=hdr, json=body)
            chk.probe("api.unauthenticated")
            chk.checks += 1
            if r.status_code != 401:
                chk._leak("eve", "api.unauthenticated", None, -1, f"HTTP {r.status_code}", r.text[:400])
            chk.text("eve", "api.unauthenticated", r.text + dumps(dict(r.headers)))
    client.close()
    return facts


_API_NF: dict = {}


def _api_missing(client, key: str, path: str, doc_id: int, missing: int) -> str:
    """The body for the same route on an id that does not exist, with the id swapped in."""
    p = path.replace(f"/{doc_id}", f"/{missing}")
    if (key, p) not in _API_NF:
        _API_NF[(key, p)] = client.get(p, headers={"Authorization": f"Bearer {key}"}).text
    return _API_NF[(key, p)]



_CSRF = re.compile(r'(csrf[-_]token"\s+(?:content|value)="|"X-CSRF-Token":\s*")[^"]*')


def _without_csrf(page: str) -> str:
    """A page with its per-session CSRF token blanked: the token is random text (it may hold the
    digits of a document id) and is the same kind of value on every page, not content."""
    return _CSRF.sub(r"\1", page)
