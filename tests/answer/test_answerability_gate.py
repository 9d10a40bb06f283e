"""The answerability gate in the one answer run, with the shipped verifier, real PostgreSQL and
the extractive default.

- A question the readable passages do not answer abstains before any model is called, with the
  weak-retrieval answer (reason ``not_answerable``), for ``ask`` and ``ask_stream`` alike, and a
  review item is opened as for any abstention.
- Leakage: a question answered only in a document the asker may not read gets the identical
  abstention text and the same trace shape as a question answered nowhere; the gate's span names
  only chunks the asker may read, and no text.
- The span records score, threshold, decision and per-passage scores by chunk id; the threshold
  setting moves the decision; ``enabled = false`` turns it off (span ``decision: off``).
"""

from __future__ import annotations

import pytest

from tether.engine import Tether
from tether.store import principals

from .helpers import all_spans, stored_trace
from tests.ground.helpers import verifier_missing_reason

pytestmark = pytest.mark.skipif(verifier_missing_reason() is not None, reason=verifier_missing_reason() or "")

PUBLIC = """# Leave policy

Employees accrue 25 days of annual leave per calendar year. Leave is requested in the HR system.

Up to 5 unused days may be carried over; carried-over days must be used by 31 March.

## Sick leave

You may self-certify sickness for up to 3 consecutive calendar days. From day 4 a medical certificate is required.
"""
RESTRICTED = """# Leaving the company

Employees who resign must give four weeks of written notice to their line manager.

Final pay is settled in the payroll run after the last working day.
"""
ANSWERED = "How many days of annual leave do employees accrue per year?"
ONLY_RESTRICTED = "How many weeks of notice must an employee give when they resign?"
NOWHERE = "How many sick days are paid at full salary?"


@pytest.fixture
def engine(settings, tmp_path):
    settings.cache.enabled = False
    t = Tether(settings)
    with t.db.transaction() as conn:
        principals.ensure_group(conn, "hr")
        principals.ensure_user(conn, "root", role="admin")
        for name in ("ana", "eve"):
            principals.ensure_user(conn, name)
        principals.add_member(conn, "ana", "hr")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text(PUBLIC, encoding="utf-8")
    (docs / "leaving.md").write_text(RESTRICTED, encoding="utf-8")
    for name, acl in (("leave.md", ["public"]), ("leaving.md", ["group:hr"])):
        batch = t.enqueue_ingest([docs / name], collection="hr" if name == "leaving.md" else "handbook", acl=acl,
                                 owner="root", classification="restricted" if name == "leaving.md" else "internal")
        t.work(batch_id=batch.batch_id)
    yield t
    t.close()




def _gate(trace: dict) -> dict:
    (span,) = [s for s in all_spans(trace["root"]) if s["name"] == "answerable"]
    return span["attrs"]


def _shape(trace: dict) -> list[tuple[str, tuple[str, ...]]]:
    """Span names in order, each with its attribute names (values differ: scores, timings)."""
    return [(s["name"], tuple(sorted(s["attrs"]))) for s in all_spans(trace["root"])]


def _restricted_chunks(engine: Tether) -> set[str]:
    with engine.db.connection() as conn:
        rows = conn.execute("SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
                            "WHERE d.source_uri LIKE %s", ("%leaving.md",)).fetchall()
    return {str(r["id"] if isinstance(r, dict) else r[0]) for r in rows}


def test_an_answered_question_passes_and_records_its_scores(engine):
    res = engine.ask(engine.principal("eve"), ANSWERED)
    assert not res.answer.abstained and "25 days" in res.answer.text
    gate = _gate(stored_trace(engine, res.trace_id))
    assert gate["decision"] == "answerable" and gate["score"] >= gate["threshold"]
    assert gate["threshold"] == round(engine.scorer.verifier.thresholds.answers, 4)  # the calibrated default
    assert gate["scores"] and set(gate["scores"]) <= {str(p.chunk_id) for p in res.passages}
    assert res.answerability == {k: gate[k] for k in ("score", "threshold", "decision", "anchors_missing",
                                                        "words_unseen")}


def test_restricted_only_and_nowhere_get_the_same_abstention_and_trace_shape(engine):
    eve = engine.principal("eve")
    hidden = engine.ask(eve, ONLY_RESTRICTED)
    nowhere = engine.ask(eve, NOWHERE)
    for res in (hidden, nowhere):
        assert res.answer.abstained and res.answer.reasons == ["not_answerable"]
        assert res.answer.text == engine.settings.ground.abstain_text and not res.answer.citations
    assert hidden.answer.to_dict() == nowhere.answer.to_dict()
    t_hidden, t_nowhere = stored_trace(engine, hidden.trace_id), stored_trace(engine, nowhere.trace_id)
    assert _shape(t_hidden) == _shape(t_nowhere)
    restricted = _restricted_chunks(engine)
    assert restricted and not restricted & set(_gate(t_hidden)["scores"])  # the gate saw readable passages only
    assert "four weeks" not in str(t_hidden) and "resign" not in str(_gate(t_hidden))
    # the reader of the restricted document gets the answer
    ana = engine.ask(engine.principal("ana"), ONLY_RESTRICTED)
    assert not ana.answer.abstained and "four weeks" in ana.answer.text


def test_the_stream_abstains_the_same_way_without_showing_sources(engine):
    eve = engine.principal("eve")
    events = list(engine.ask_stream(eve, ONLY_RESTRICTED))
    assert [e["type"] for e in events] == ["done"]
    done = events[-1]["answer"]
    assert done == engine.ask(eve, ONLY_RESTRICTED).answer.to_dict()
    assert _gate(stored_trace(engine, events[-1]["trace_id"]))["decision"] == "not_answerable"


def test_an_abstention_opens_a_review_item(engine):
    res = engine.ask(engine.principal("eve"), NOWHERE)
    items = engine.reviews.list(engine.principal("root"), source="abstention")
    assert any(i.get("trace_id") == res.trace_id for i in items)


def test_threshold_and_switch(engine):
    eve = engine.principal("eve")
    engine.settings.ground.answerability.threshold = 0.0
    unseen = engine.ask(eve, NOWHERE)  # no document eve may read speaks of sick days: the gate still stops it
    assert unseen.answer.reasons == ["not_answerable"]
    assert _gate(stored_trace(engine, unseen.trace_id))["words_unseen"] >= 1
    engine.settings.ground.answerability.min_unseen_share = 0.0
    res = engine.ask(eve, NOWHERE)
    assert "not_answerable" not in res.answer.reasons
    assert _gate(stored_trace(engine, res.trace_id))["threshold"] == 0.0
    engine.settings.ground.answerability.threshold = 1.0
    assert engine.ask(eve, ANSWERED).answer.reasons == ["not_answerable"]
    engine.settings.ground.answerability.enabled = False
    off = engine.ask(eve, ANSWERED)
    assert not off.answer.abstained and off.answerability is None
    assert _gate(stored_trace(engine, off.trace_id)) == {"decision": "off", "reason": "disabled"}
