"""Conversations through the engine on a real PostgreSQL: threads, follow-ups rewritten before
retrieval, permissions re-checked every turn, another user's thread a NotFound like a missing one,
long histories truncated, deletion and retention purging cached answers too."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tether.engine import Tether
from tether.errors import InvalidInput, NotFound
from tether.store import principals

from tests.answer.helpers import all_spans, stored_trace

LEAVE = (
    "# Bereavement leave\n\nEmployees get five days of paid bereavement leave for the death of a parent, "
    "partner or child.\n\nFor other relatives, such as grandparents, siblings and in-laws, employees get two "
    "days of paid bereavement leave.\n\nContractors are not entitled to bereavement leave; their agency "
    "contract applies.\n"
)
BANDS = (
    "# Project Nightingale salary bands\n\nThe salary band for a senior engineer in Project Nightingale is "
    "between 91,000 and 118,000 euro. The salary band for a junior engineer in Project Nightingale is between "
    "52,000 and 64,000 euro.\n"
)


@pytest.fixture
def engine(settings, tmp_path: Path):
    t = Tether(settings)
    with t.db.transaction() as conn:
        principals.ensure_group(conn, "hr")
        for name in ("root", "ana", "eve"):
            principals.ensure_user(conn, name, role="admin" if name == "root" else "member")
        principals.add_member(conn, "ana", "hr")
    (tmp_path / "leave.md").write_text(LEAVE, encoding="utf-8")
    (tmp_path / "bands.md").write_text(BANDS, encoding="utf-8")
    for path, acl in (("leave.md", ["public"]), ("bands.md", ["group:hr"])):
        b = t.enqueue_ingest([tmp_path / path], collection="hr", acl=acl, owner="root")
        t.work(batch_id=b.batch_id)
    yield t
    t.close()


def doc_id(engine: Tether, title: str) -> int:
    with engine.db.connection() as conn:
        return int(conn.execute("SELECT id FROM documents WHERE title = %s", (title,)).fetchone()["id"])


def test_a_follow_up_is_rewritten_answered_and_stored(engine):
    ana = engine.principal("ana")
    conv = engine.conversations.create(ana)
    first = engine.conversations.ask(ana, conv["id"], "How many days of bereavement leave for a parent?")
    assert "five" in first["answer"]["text"] and not first["turn"]["rewritten"]
    second = engine.conversations.ask(ana, conv["id"], "And for other relatives?")
    rw = second["rewrite"]
    assert rw["rewritten"] and "bereavement" in rw["standalone"] and rw["rewriter"] == "rules"
    assert second["turn"]["standalone"] == rw["standalone"] and second["turn"]["question"] == "And for other relatives?"
    assert "two" in second["answer"]["text"] and second["answer"]["citations"]
    # the rewrite is a span of the turn's trace, with what was kept and dropped
    span = next(s for s in all_spans(stored_trace(engine, second["trace_id"])["root"]) if s["name"] == "rewrite")
    assert span["attrs"]["rewritten"] and span["attrs"]["kept_turns"] == 1 and span["attrs"]["dropped_turns"] == 0
    assert span["attrs"]["original"] == "And for other relatives?"
    # a topic switch is left alone
    third = engine.conversations.ask(ana, conv["id"], "What is the salary band for a junior engineer in Nightingale?")
    assert not third["rewrite"]["rewritten"] and third["rewrite"]["reason"] == "self_contained"
    got = engine.conversations.get(ana, conv["id"])
    assert [t["ordinal"] for t in got["turns"]] == [1, 2, 3] and got["turn_count"] == 3
    assert got["title"] == "How many days of bereavement leave for a parent?"
    assert got["turns"][1]["result"]["answer"]["citations"][0]["document_id"] == doc_id(engine, "Bereavement leave")


def test_streamed_turns_run_the_same_pipeline_and_are_stored(engine):
    ana = engine.principal("ana")
    conv = engine.conversations.create(ana, "leave")
    list(engine.conversations.stream(ana, conv["id"], "How many days of bereavement leave for a parent?"))
    events = list(engine.conversations.stream(ana, conv["id"], "What about contractors?"))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "rewrite" and kinds[-2:] == ["turn", "done"] and "sources" in kinds
    assert events[0]["rewritten"] and "bereavement" in events[0]["standalone"]
    assert "Contractors are not entitled" in events[-1]["answer"]["text"]
    assert events[-2]["turn"]["ordinal"] == 2
    assert engine.conversations.get(ana, conv["id"])["turns"][1]["result"]["answer"]["text"] == \
        events[-1]["answer"]["text"]


def test_another_users_thread_is_a_not_found_like_a_missing_one(engine):
    ana, eve = engine.principal("ana"), engine.principal("eve")
    conv = engine.conversations.create(ana, "mine")
    missing = str(uuid.uuid4())
    for call in (lambda c: engine.conversations.get(eve, c), lambda c: engine.conversations.rename(eve, c, "x"),
                 lambda c: engine.conversations.delete(eve, c), lambda c: engine.conversations.ask(eve, c, "Hi?"),
                 lambda c: engine.conversations.stream(eve, c, "Hi?"),
                 lambda c: engine.conversations.rate(eve, c, 1, "up")):
        with pytest.raises(NotFound) as theirs:
            call(conv["id"])
        with pytest.raises(NotFound) as absent:
            call(missing)
        assert theirs.value.to_dict()["error"]["message"].replace(conv["id"], "#") == \
            absent.value.to_dict()["error"]["message"].replace(missing, "#")
    with pytest.raises(NotFound):
        engine.conversations.get(ana, "not-a-uuid")
    assert engine.conversations.list(eve) == [] and [c["id"] for c in engine.conversations.list(ana)] == [conv["id"]]
    with pytest.raises(InvalidInput):
        engine.conversations.create(engine.principal("root").__class__.system())


def test_revoked_access_mid_thread_is_never_quoted_again(engine):
    ana = engine.principal("ana")
    conv = engine.conversations.create(ana)
    first = engine.conversations.ask(ana, conv["id"], "What is the salary band for a senior engineer in Nightingale?")
    assert "91,000" in first["answer"]["text"]
    with engine.db.transaction() as conn:  # ana leaves hr between turns
        principals.remove_member(conn, "ana", "hr")
    ana = engine.principal("ana")
    history = engine.conversations.history(ana, conv["id"])
    assert history.redacted == 1 and history.turns[0].answer == ""
    second = engine.conversations.ask(ana, conv["id"], "And for a junior engineer?")
    assert second["answer"]["abstained"] and "52,000" not in str(second) and "91,000" not in str(second)
    shown = engine.conversations.get(ana, conv["id"])
    assert shown["turns"][0]["redacted"] and "91,000" not in str(shown) and "Nightingale salary" not in str(shown)
    assert shown["turns"][0]["question"].startswith("What is the salary band")  # the user's own words stay


def test_a_deleted_document_is_redacted_from_the_thread(engine):
    ana = engine.principal("ana")
    conv = engine.conversations.create(ana)
    engine.conversations.ask(ana, conv["id"], "How many days of bereavement leave for a parent?")
    gone = doc_id(engine, "Bereavement leave")
    engine.delete_document(engine.principal("root"), gone)
    shown = engine.conversations.get(ana, conv["id"])
    assert shown["turns"][0]["redacted"] and "five days" not in str(shown)
    result = shown["turns"][0]["result"]
    assert result["answer"]["citations"] == [] and result["answer"]["sentences"] == []
    assert gone not in {s["document_id"] for s in result["sources"]}  # sources still readable stay


def test_a_ten_thousand_turn_history_is_truncated_not_an_error(engine):
    ana = engine.principal("ana")
    conv = engine.conversations.create(ana, "long")
    with engine.db.transaction() as conn:
        conn.execute(
            "INSERT INTO conversation_turns (conversation_id, ordinal, question, standalone, answer)"
            " SELECT %s, g, 'How many days of bereavement leave for a parent?',"
            " 'How many days of bereavement leave for a parent?', '{}'::jsonb FROM generate_series(1, 10000) g",
            (conv["id"],))
        conn.execute("UPDATE conversations SET turn_count = 10000 WHERE id = %s", (conv["id"],))
    out = engine.conversations.ask(ana, conv["id"], "And for other relatives?")
    assert out["rewrite"]["rewritten"] and out["turn"]["ordinal"] == 10001
    kept, dropped = out["rewrite"]["history"]["kept"], out["rewrite"]["history"]["dropped"]
    assert kept >= 1 and kept + dropped == 10000 and dropped >= 9950
    span = next(s for s in all_spans(stored_trace(engine, out["trace_id"])["root"]) if s["name"] == "rewrite")
    assert span["attrs"]["dropped_turns"] == dropped


def test_delete_and_purge_remove_turns_and_their_cached_answers(engine):
    ana = engine.principal("ana")
    q = "How many days of bereavement leave for a parent?"
    conv = engine.conversations.create(ana)
    engine.conversations.ask(ana, conv["id"], q)

    def cached() -> int:
        with engine.db.connection() as conn:
            return int(conn.execute("SELECT count(*) AS n FROM answer_cache").fetchone()["n"])

    assert cached() == 1
    out = engine.conversations.delete(ana, conv["id"])
    assert out == {"id": conv["id"], "deleted": True, "turns": 1, "cached_answers": 1} and cached() == 0
    with pytest.raises(NotFound):
        engine.conversations.get(ana, conv["id"])
    old, new = engine.conversations.create(ana, "old"), engine.conversations.create(ana, "new")
    engine.conversations.ask(ana, old["id"], q)
    with engine.db.transaction() as conn:
        conn.execute("UPDATE conversations SET updated_at = now() - interval '40 days' WHERE id = %s", (old["id"],))
    assert engine.conversations.purge()["conversations"] == 0  # retention 0: keep everything
    assert engine.conversations.purge(30) == {"conversations": 1, "cached_answers": 1, "retention_days": 30}
    assert [c["id"] for c in engine.conversations.list(ana)] == [new["id"]]


def test_rename_and_rate(engine):
    ana = engine.principal("ana")
    conv = engine.conversations.create(ana)
    assert engine.conversations.rename(ana, conv["id"], "  Leave   questions ")["title"] == "Leave questions"
    with pytest.raises(InvalidInput):
        engine.conversations.rename(ana, conv["id"], "  ")
    engine.conversations.ask(ana, conv["id"], "How many days of bereavement leave for a parent?")
    assert engine.conversations.rate(ana, conv["id"], 1, "up")["rating"] == "up"
    assert engine.conversations.get(ana, conv["id"])["turns"][0]["feedback"] == "up"
    with pytest.raises(InvalidInput):
        engine.conversations.rate(ana, conv["id"], 1, "meh")
    with pytest.raises(NotFound):
        engine.conversations.rate(ana, conv["id"], 7, "down")
