"""The record of an answer (trace, audit entry, usage events: one transaction) is durable before
the answer's last event, and a failure to store it fails the request visibly (issue 17, item 3).

The write is broken for real: a PostgreSQL trigger that raises is installed on ``audit_log`` (the
first insert of the record) or on ``usage_events`` (the last, so the trace and audit rows already
inserted must roll back with it). Then: ``/v1/ask`` answers 503 ``audit_failed`` with no answer
body; a stream (``/v1/ask`` SSE and the OpenAI-compatible one) ends with an ``error`` event
carrying ``audit_failed`` and never sends ``done``; and nothing of the record is half-stored. On the
normal path the trace, audit entry and usage events are read back, from another connection,
the moment ``done`` arrives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from .test_ask import h, sse_events

TABLES = ("audit_log", "usage_events")


def _url(server) -> str:
    return server.engine.settings.database_url


@contextmanager
def broken_record(server, table: str) -> Iterator[None]:
    """Every INSERT into ``table`` raises while the block runs (installed and removed by the test)."""
    with psycopg.connect(_url(server), autocommit=True) as conn:
        conn.execute("CREATE FUNCTION test_refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$"
                     " BEGIN RAISE EXCEPTION 'record refused by the test'; END $$")
        conn.execute(f"CREATE TRIGGER test_refuse BEFORE INSERT ON {table}"
                     " FOR EACH ROW EXECUTE FUNCTION test_refuse_insert()")
    try:
        yield
    finally:
        with psycopg.connect(_url(server), autocommit=True) as conn:
            conn.execute(f"DROP TRIGGER IF EXISTS test_refuse ON {table}")
            conn.execute("DROP FUNCTION IF EXISTS test_refuse_insert()")


def _counts(server) -> tuple[int, int, int]:
    with psycopg.connect(_url(server)) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[return-value]
                     for t in ("traces", "audit_log", "usage_events"))


def _record(server, trace_id: str) -> tuple[dict | None, list[dict], list[dict]]:
    """The trace row, the audit entries and the usage events of ``trace_id``, read by a connection
    of its own (so only what is committed is seen)."""
    with psycopg.connect(_url(server), row_factory=psycopg.rows.dict_row) as conn:
        trace = conn.execute("SELECT id, status, question FROM traces WHERE id = %s", (trace_id,)).fetchone()
        audit = conn.execute("SELECT action, details FROM audit_log WHERE details->>'trace_id' = %s",
                             (trace_id,)).fetchall()
        usage = conn.execute("SELECT kind, model FROM usage_events WHERE trace_id = %s", (trace_id,)).fetchall()
    return trace, audit, usage


def _assert_audit_failed(error: dict) -> None:
    assert error["code"] == "audit_failed", error
    assert "could not be recorded" in error["message"] and "record refused" not in error["message"]


@pytest.mark.parametrize("table", TABLES)
def test_ask_fails_typed_and_withholds_the_answer(live, table):
    server, keys = live
    before = _counts(server)
    with broken_record(server, table):
        r = httpx.post(server.url + "/v1/ask", headers=h(keys["eve"]), timeout=60,
                       json={"question": f"How many days of annual leave do employees accrue ({table})?"})
    assert r.status_code == 503, r.text
    assert r.headers.get("retry-after") and set(r.json()) == {"error"}
    _assert_audit_failed(r.json()["error"])
    assert "27" not in r.text and "annual leave" not in r.text.lower()
    assert _counts(server) == before  # one transaction: no trace, audit or usage row half-stored


@pytest.mark.parametrize("table", TABLES)
def test_stream_ends_with_error_event_instead_of_done(live, table):
    server, keys = live
    before = _counts(server)
    with broken_record(server, table):
        r = httpx.post(server.url + "/v1/ask", headers=h(keys["eve"]), timeout=60,
                       json={"question": f"How many days of annual leave accrue per year ({table})?", "stream": True})
    assert r.status_code == 200  # the stream had started; its end says what happened
    events = sse_events(r.text)
    kinds = [e["type"] for e in events]
    assert "done" not in kinds and kinds[-1] == "error", kinds
    assert "sources" in kinds  # the run got as far as answering: the failure is the record's
    _assert_audit_failed(events[-1]["error"])
    assert _counts(server) == before


def test_openai_endpoint_fails_typed_when_the_record_fails(live):
    server, keys = live
    body = {"model": "tether", "messages": [{"role": "user", "content": "How many leave days accrue yearly?"}]}
    with broken_record(server, "audit_log"):
        whole = httpx.post(server.url + "/v1/chat/completions", json=body, headers=h(keys["eve"]), timeout=60)
        streamed = httpx.post(server.url + "/v1/chat/completions", json={**body, "stream": True},
                              headers=h(keys["eve"]), timeout=60)
    assert whole.status_code == 503 and set(whole.json()) == {"error"}
    _assert_audit_failed(whole.json()["error"])
    chunks = [json.loads(ln[6:]) for ln in streamed.text.splitlines()
              if ln.startswith("data: ") and ln != "data: [DONE]"]
    assert not any(c.get("choices", [{}])[0].get("finish_reason") == "stop" for c in chunks if "choices" in c)
    assert "error" in chunks[-1] and "tether" not in chunks[-1]
    _assert_audit_failed(chunks[-1]["error"])


def test_the_record_is_stored_before_done_arrives(live):
    server, keys = live
    body = {"question": "How many days of annual leave do employees accrue each year?", "stream": True}
    seen: list[str] = []
    with httpx.stream("POST", server.url + "/v1/ask", json=body, headers=h(keys["eve"]), timeout=60) as r:
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            ev = json.loads(line[6:])
            seen.append(ev["type"])
            if ev["type"] == "done":
                trace, audit, usage = _record(server, ev["trace_id"])  # read before the stream is closed
                break
    assert seen[-1] == "done" and "token" in seen
    assert trace is not None and trace["status"] == "answered"
    assert [a["action"] for a in audit] == ["ask"] and audit[0]["details"]["stream"] is True
    assert {u["kind"] for u in usage} >= {"generate", "embed", "guard"}


def test_ask_json_is_recorded_when_it_returns(live):
    server, keys = live
    r = httpx.post(server.url + "/v1/ask", headers=h(keys["eve"]), timeout=60,
                   json={"question": "How many annual leave days does an employee accrue?"})
    assert r.status_code == 200, r.text
    trace, audit, usage = _record(server, r.json()["trace_id"])
    assert trace is not None and [a["action"] for a in audit] == ["ask"] and usage
