"""Permission-leakage suite (issue "Security and guardrails"; bar: zero leaks).

The demo corpus is ingested once for this module. Hundreds of seeded probes (restricted documents'
own sentences and headings, canary quotes, exact-title guesses, "list everything", prompt-injected
"ignore your permissions" requests, the demo questions' "not found for" cases) are asked by
principals who may not read the targeted documents, through the engine (search, ask, ask_stream,
list_documents, get_document, an authorised-then-unauthorised cache check) and through a real
HTTP server (bodies, headers, SSE events, error bodies). Any canary, title, source URI or id of a
document the asker cannot read, anywhere in what comes back, is a leak.

The summary (probes, checks, leaks, per surface) goes to ``test-artifacts/leakage.json``.
``LEAKAGE_SCALE`` (default 1.0) scales the number of asks/searches; ``bench/leakage.py`` runs the
same generator standalone.

Admins: ACLs apply to everyone in search and ask (``Principal.acl_tokens`` gives an admin no
extra token), so ``admin`` is probed like any non-reader there. The documents API deliberately
lets administrators read and manage every document (``routes_documents.readable``); that is
recorded in the summary (``admin_document_api_statuses``) rather than counted as a leak.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import psycopg
import pytest

from tether.engine import Tether
from tether.settings import Settings

from tests.security.probes import REPO, Checker, Probe, dumps, generate, load_world, setup_demo
from tests.security.runner import (
    Budget,
    Timings,
    positive_control,
    run_api,
    run_engine,
    run_threads,
    without_own_words,
)

SEED = 20260
ARTIFACT = REPO / "test-artifacts" / "leakage.json"
_SUMMARY: dict = {"surfaces": {}, "probes": 0, "checks": 0, "leaks": 0, "leak_list": [], "facts": {}, "timings_s": {}}


def _with_db(url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def _budget() -> Budget:
    scale = float(os.environ.get("LEAKAGE_SCALE", "1"))
    b = Budget()
    for f in ("asks", "streams", "cache_pairs", "api_asks", "api_streams", "api_chats", "api_searches", "threads"):
        setattr(b, f, max(1, round(getattr(b, f) * scale)))
    return b


@pytest.fixture(scope="module")
def demo_engine(pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory):
    """A Tether over a fresh database (cloned from the migrated template) with the demo corpus."""
    name = f"t_leak_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    settings = Settings(data_dir=tmp_path_factory.mktemp("leak") / "data", database_url=_with_db(pg_server, name))
    engine = Tether(settings)
    t0 = time.perf_counter()
    setup_demo(engine)
    _SUMMARY["timings_s"]["ingest_demo"] = round(time.perf_counter() - t0, 1)
    yield engine
    engine.close()
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def world(demo_engine):
    return load_world(demo_engine)


@pytest.fixture(scope="module")
def probes(world):
    return generate(world, SEED)


def _record(chk: Checker, facts: dict, timings: Timings) -> dict:
    _SUMMARY["probes"] += chk.probes
    _SUMMARY["checks"] += chk.checks
    _SUMMARY["leaks"] += len(chk.leaks)
    _SUMMARY["leak_list"] += [lk.line() for lk in chk.leaks][:200]
    _SUMMARY["surfaces"].update(chk.by_surface)
    _SUMMARY["facts"].update(facts)
    _SUMMARY["timings_s"].update(timings.seconds)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(_SUMMARY, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: _SUMMARY[k] for k in ("probes", "checks", "leaks")}))
    return _SUMMARY


# ---------------------------------------------------------------------------------------------
def test_generator_is_deterministic_and_broad(world, probes):
    again = generate(world, SEED)
    assert again == probes
    kinds = {p.kind for p in probes}
    assert kinds >= {"content", "heading", "canary", "title", "list", "injection", "demo_question"}, kinds
    assert len(probes) >= 200
    # every restricted document is targeted, and every probe has askers who cannot read its targets
    assert {t for p in probes for t in p.targets} == set(world.restricted_ids())
    for p in probes:
        assert p.askers
        for who in p.askers:
            assert not set(p.targets) & world.readable[who], (p, who)
    # admins, reviewers and group-less users are among the askers
    assert {"admin", "rita", "eve"} <= {a for p in probes for a in p.askers}
    _SUMMARY["facts"]["probe_kinds"] = {k: sum(p.kind == k for p in probes) for k in sorted(kinds)}
    _SUMMARY["facts"]["exempt_titles"] = {k: v for k, v in world.exempt_titles.items() if v}


def test_checker_catches_a_planted_leak(world):
    """The checker itself would fail: a canary, a title, an id and a citation of an unreadable
    document are each reported; the asker's own echoed question is not."""
    hr = next(d for d in world.docs.values() if d.path == "hr/salary-bands-2026.md")
    chk = Checker(world)
    chk.text("eve", "t", f"the code is {hr.canary}")
    chk.text("eve", "t", json.dumps({"title": hr.title.upper()}))
    chk.text("eve", "t", json.dumps({"citations": [{"document_id": hr.id}]}))
    chk.ids("eve", "t", [hr.id])
    assert len(chk.leaks) == 4, chk.report()
    echo = Probe("title", f"Show me {hr.title}.", (hr.id,), ("eve",))
    chk2 = Checker(world)
    chk2.text("eve", "t", json.dumps({"answer": f"Nothing found for 'Show me {hr.title}.'"}), echo)
    assert not chk2.leaks, chk2.report()
    chk2.text("eve", "t", json.dumps({"query": echo.question, "hits": [{"title": hr.title}]}), echo)
    assert len(chk2.leaks) == 1
    # a question that is exactly the title: any occurrence counts (known echo fields are
    # stripped structurally by the API runner before scanning)
    exact = Probe("title", hr.title, (hr.id,), ("eve",))
    chk2.text("eve", "t", json.dumps({"answer": f"Nothing found for {hr.title}"}), exact)
    assert len(chk2.leaks) == 2
    # ana may read it: nothing to report
    chk3 = Checker(world)
    chk3.text("ana", "t", f"{hr.canary} {hr.title} \"document_id\": {hr.id}")
    assert not chk3.leaks


def test_authorised_readers_do_see_the_canary_documents(demo_engine, world):
    """Positive control: the probes' questions reach the restricted content when permitted."""
    res = positive_control(demo_engine, world)
    _SUMMARY["facts"]["positive_control"] = res
    for who, r in res.items():
        assert r["in_search"] and r["cited_in_answer"] and r["get_document_has_canary"], (who, r)
        assert r["canary_search_finds_it"], (who, r)
    # and the same questions for someone without access return none of it
    eve = demo_engine.principal("eve")
    for r in res.values():
        hits = demo_engine.search(eve, r["document"], k=10)
        assert r["document"] not in {p.title for p in hits.passages}


@pytest.mark.timeout(1800)  # ~1-2 min on two cores; far more when other work saturates them
def test_no_leaks_through_the_engine(demo_engine, world, probes):
    chk, timings = Checker(world), Timings()
    facts = run_engine(demo_engine, world, probes, chk, _budget(), SEED, timings)
    summary = _record(chk, facts, timings)
    assert not chk.leaks, f"{len(chk.leaks)} leak(s) of {chk.checks} checks:\n{chk.report()}"
    assert summary["checks"] > 10 * summary["probes"]
    # the answer cache was exercised (repeats served from it); a reader's entry never reached a non-reader
    assert facts["engine_ask_repeats_cache_hits"] == facts["engine_ask_repeats"] > 0, facts
    assert facts["cache_pairs_reader_hits"] > 0 and facts["cache_pairs_non_reader_hits"] == 0, facts


@pytest.mark.timeout(1200)
def test_no_leaks_through_conversations(demo_engine, world, probes):
    """Threads: follow-ups into restricted territory by non-readers, and readers' threads opened by
    others (a NotFound like a missing thread); permission changes mid-thread are covered with a
    small corpus in tests/services/test_conversations.py (this module's corpus is shared)."""
    hr = next(d for d in world.docs.values() if d.path == "hr/salary-bands-2026.md")
    planted = Checker(world)  # the echo exemption keeps any word the asker did not type
    planted.text("eve", "t", dumps(without_own_words({"standalone": f"And that ({hr.canary})?"}, ["And that?"])))
    assert len(planted.leaks) == 1
    chk, timings = Checker(world), Timings()
    t0 = time.perf_counter()
    facts = run_threads(demo_engine, world, probes, chk, _budget(), SEED)
    timings.add("engine.conversations", t0)
    _record(chk, {"conversations": facts}, timings)
    assert not chk.leaks, f"{len(chk.leaks)} leak(s) of {chk.checks} checks:\n{chk.report()}"
    assert facts["thread_turns"] > 0 and facts["foreign_thread_probes"] > 0


@pytest.mark.timeout(1200)
def test_no_leaks_through_the_http_api(demo_engine, world, probes):
    try:
        from tether.api import create_app  # noqa: F401

        from tests.api.server import LiveServer
    except ImportError as exc:  # explicit, reported skip: the API is being written concurrently
        pytest.skip(f"HTTP API not importable ({exc}); engine-level probes only")
    from tether.store import api_keys

    keys = {}
    with demo_engine.db.transaction() as conn:
        for who in world.tokens:
            keys[who] = api_keys.create_key(conn, who, name="leakage")["key"]
    chk, timings = Checker(world), Timings()
    with LiveServer(demo_engine) as server:
        facts = run_api(server.url, keys, world, probes, chk, _budget(), SEED, timings)
    _record(chk, {"api": facts}, timings)
    assert not chk.leaks, f"{len(chk.leaks)} leak(s) of {chk.checks} checks:\n{chk.report()}"


@pytest.mark.timeout(1800)
def test_no_leaks_after_membership_changes_mid_session(demo_engine, world, probes):
    """Issue 23: every reader loses each group once (by SCIM or an administrator) with a warm
    answer cache, a conversation, a signed-in session and an API key; the very next requests
    show nothing of that group's documents. Memberships are restored afterwards."""
    from tests.api.server import LiveServer
    from tests.security.membership import run_membership

    timings = Timings()
    t0 = time.perf_counter()
    with LiveServer(demo_engine) as server:
        facts, checkers = run_membership(demo_engine, server.url, world, probes, seed=SEED)
    timings.add("membership", t0)
    merged = Checker(world)
    for c in checkers:
        merged.probes += c.probes
        merged.checks += c.checks
        merged.leaks += c.leaks
        for surface, counts in c.by_surface.items():
            mine = merged.by_surface.setdefault(surface, {"probes": 0, "checks": 0, "leaks": 0})
            for k, v in counts.items():
                mine[k] += v
    _record(merged, {"membership": facts}, timings)
    assert not merged.leaks, f"{len(merged.leaks)} leak(s) of {merged.checks} checks:\n{merged.report()}"
    assert merged.probes >= 200, facts
    assert {c["via"] for c in facts["changes"]} == {"scim", "admin"} and len(facts["changes"]) >= 5, facts
    # positive controls: before each change the reader did read the group's documents, and the
    # repeated question was served from the answer cache (the entry that must not be served after)
    assert facts["warm_reader_citations"] > 0 and facts["warm_cache_hits"] > 0, facts
    # restored: the world is as the manifest says again
    assert load_world(demo_engine).tokens == world.tokens


@pytest.mark.timeout(1200)
def test_no_leaks_through_the_mcp_tools(demo_engine, world, probes):
    """Issue 19: the MCP tools (search, ask, get_document, get_span, list_collections, resources)
    over the protocol, for every principal; unreadable ids read exactly like absent ones."""
    from tests.security.agent_tools import run_mcp

    chk, timings = Checker(world), Timings()
    t0 = time.perf_counter()
    facts = run_mcp(demo_engine, world, probes, chk, seed=SEED)
    timings.add("mcp", t0)
    _record(chk, {"mcp": facts}, timings)
    assert not chk.leaks, f"{len(chk.leaks)} leak(s) of {chk.checks} checks:\n{chk.report()}"
    assert facts["mcp_unreadable_like_missing"] and facts["mcp_calls"] > 100, facts
