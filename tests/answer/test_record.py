"""The record of an answer run at the library level (answer/record.py): a question PostgreSQL's
text cannot hold (a NUL character: the reproduction of issue 17, item 3) still leaves its trace,
audit entry and usage events, stored before the last event; when the write itself fails,
``ask`` and ``ask_stream`` raise :class:`AuditFailed` and the stream sends no ``done``; a run
that fails for its own reason keeps that reason even when its error record cannot be stored."""

from __future__ import annotations

import psycopg
import pytest
from api.server import seed

from tether.engine import Tether
from tether.errors import AuditFailed, ConfigError, StoreUnavailable

LEAVE_Q = "How many days of annual leave do employees accrue?"


@pytest.fixture
def engine(settings, tmp_path):
    settings.cache.enabled = False
    t = Tether(settings)
    seed(t, tmp_path / "docs")
    yield t
    t.close()


def _record(engine: Tether, trace_id: str) -> tuple[dict | None, list[dict], int]:
    with psycopg.connect(engine.settings.database_url, row_factory=psycopg.rows.dict_row) as conn:
        trace = conn.execute("SELECT question, status FROM traces WHERE id = %s", (trace_id,)).fetchone()
        audit = conn.execute("SELECT action, details FROM audit_log WHERE details->>'trace_id' = %s",
                             (trace_id,)).fetchall()
        usage = conn.execute("SELECT count(*) AS n FROM usage_events WHERE trace_id = %s", (trace_id,)).fetchone()
    return trace, audit, int(usage["n"])


def test_a_nul_in_the_question_does_not_lose_the_streamed_record(engine):
    events = []
    for ev in engine.ask_stream(engine.principal("eve"), LEAVE_Q + "\x00"):
        events.append(ev)
        if ev["type"] == "done":  # the record is committed before this event is handed over
            trace, audit, usage = _record(engine, ev["trace_id"])
    assert events[-1]["type"] == "done" and not events[-1]["answer"]["abstained"]
    assert trace is not None and "\x00" not in trace["question"] and trace["question"].endswith("\ufffd")
    assert [a["action"] for a in audit] == ["ask"] and audit[0]["details"]["stream"] is True
    assert usage > 0


def test_a_failing_record_write_fails_ask_and_stream(engine):
    with psycopg.connect(engine.settings.database_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
                     " BEGIN RAISE EXCEPTION 'refused'; END $$")
        conn.execute("CREATE TRIGGER test_refuse BEFORE INSERT ON traces FOR EACH ROW EXECUTE FUNCTION test_refuse()")
    principal = engine.principal("eve")
    with pytest.raises(AuditFailed) as caught:
        engine.ask(principal, LEAVE_Q)
    assert isinstance(caught.value, StoreUnavailable) and caught.value.details["retry_after"] > 0
    kinds: list[str] = []
    with pytest.raises(AuditFailed):
        for ev in engine.ask_stream(principal, LEAVE_Q):
            kinds.append(ev["type"])
    assert "sources" in kinds and "done" not in kinds
    # a run that fails for its own reason keeps that reason (its error record failing too is logged)
    with pytest.raises(ConfigError):
        engine.ask(principal, LEAVE_Q, model="no-such-model")
    with pytest.raises(ConfigError):
        list(engine.ask_stream(principal, LEAVE_Q, model="no-such-model"))
