"""Fuzzing every API route from its OpenAPI schema (issue 17): never a 500, always the documented
error shape, never a canary of a document the caller may not read.

Bounded for CI (a few examples per route and role, well under a minute once the corpus is
in); ``bench/fuzz.py`` runs the same generator for >= 20,000 requests. The corpus is the
demo's restricted (canary-carrying) documents plus two public ones, so every secret the
leakage suite knows is present here too.
"""

from __future__ import annotations

import os
import uuid

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.engine import Tether
from tether.settings import Settings

from tests.api.server import LiveServer
from tests.security.fuzzing import ADMIN_SKIP, ROLES, Generator, Result, check, operations, prepare, send

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))


def _with_db(url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="module")
def fuzz_server(pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory):
    """(server, keys by role, secrets by role, spec) over the demo corpus's restricted documents."""
    name = f"t_fuzz_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz") / "data", database_url=_with_db(pg_server, name))
    engine = Tether(settings)
    try:
        keys, secrets = prepare(engine)
        api = settings.api.model_copy(update={"auth_failures_per_minute": 0, "rate_limit_per_minute": 0})
        with LiveServer(engine, api) as server:
            spec = httpx.get(server.url + "/openapi.json", headers={"Authorization": f"Bearer {keys['admin']}"}).json()
            yield server, keys, secrets, spec
    finally:
        engine.close()
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_schema_covers_every_route(fuzz_server):
    _, _, _, spec = fuzz_server
    names = {op.name for op in operations(spec)}
    assert len(names) >= 35
    assert {"POST /v1/ask", "POST /v1/search", "POST /v1/reviews", "POST /v1/feedback", "GET /v1/usage",
            "POST /v1/documents", "POST /v1/chat/completions"} <= names


@pytest.mark.parametrize("role", ROLES)
def test_fixed_nasty_inputs_on_every_route(fuzz_server, role):
    """Deterministic first pass: every route, every string field NUL-laden, as each role."""
    server, keys, secrets, spec = fuzz_server
    gen, result = Generator(spec), Result()
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for op in operations(spec):
            if role == "admin" and ADMIN_SKIP.match(op.name):
                continue
            path = op.path
            for p in op.params:
                if p["in"] == "path":
                    path = path.replace("{" + p["name"] + "}", "1%00")
            query = {p["name"]: "\x00" for p in op.params if p["in"] == "query"}
            body = None
            if op.body is not None:
                props = gen.resolve(op.body).get("properties", {})
                body = {k: "a\x00" for k in props}
            r = send(client, op, role, {"path": path, "query": query, "body": body}, keys)
            check(op, role, r, secrets[role], result)
            if body:  # the same with the real path, so the body check is what answers
                real = op.path
                for p in op.params:
                    if p["in"] == "path":
                        real = real.replace("{" + p["name"] + "}", "1")
                check(op, role, send(client, op, role, {"path": real, "query": {}, "body": body}, keys),
                      secrets[role], result)
    assert not result.failures, "\n".join(result.failures)
    assert result.by_status[422] > 0


@pytest.fixture(scope="module")
def ops_by_name(fuzz_server):
    return {op.name: op for op in operations(fuzz_server[3])}


@settings(max_examples=EXAMPLES * 40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_requests_never_500_never_leak(fuzz_server, ops_by_name, data):
    server, keys, secrets, spec = fuzz_server
    op = ops_by_name[data.draw(st.sampled_from(sorted(ops_by_name)), label="operation")]
    role = data.draw(st.sampled_from(ROLES), label="role")
    if role == "admin" and ADMIN_SKIP.match(op.name):
        role = "member"
    req = data.draw(Generator(spec).request(op), label="request")
    result = Result()
    with httpx.Client(base_url=server.url, timeout=120) as client:
        problems = check(op, role, send(client, op, role, req, keys), secrets[role], result)
    assert not problems, result.failures
