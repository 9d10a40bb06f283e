"""Research mode end to end (``mode="research"``): real PostgreSQL, the bundled embedder, the
extractive generator and guards. A two-hop question (the directory names the VP's office, the
offices page that office's manager) and a multi-part one; limits; stream events; the trace; and
an outsider who must get nothing of a restricted document that would make a perfect bridge."""

from __future__ import annotations

import json

import pytest
from answer.helpers import all_spans, stored_trace

from tether.engine import Tether
from tether.errors import InvalidInput
from tether.store import principals

PEOPLE = ("# People directory\n\n- Keiko Vantress, VP Engineering, works in the Utrecht office.\n"
          "- Rafael Moutinho, General Counsel, works in the Lisbon office.\n")
OFFICES = ("# Offices\n\n## Utrecht\n\nThe Utrecht office is at Vredenburgkade 47. The Utrecht office manager is "
           "Sanne Bakker.\n\n## Lisbon\n\nThe Lisbon office is at Rua da Prata 210. The Lisbon office manager is "
           "Ines Carvalho.\n")
#: The same fact behind a pronoun: the second hop finds the passage, but the extractive answer
#: quotes the sentence naming the entity (the address), not the one saying "Its" (a known gap).
OFFICES_PRONOUN = OFFICES.replace("The Utrecht office manager is", "Its office manager is")
LEAVE = ("# Leave\n\nEmployees get 25 days of annual leave per year.\n\n## Carry over\n\n"
         "Up to 5 unused days can be carried over and must be used by 31 March.\n\n## Sick leave\n\n"
         "Sick leave is paid at full salary for up to 10 working days.\n")
SECRET = ("# Heron relocation plan\n\nUnder Project Heron the VP Engineering office moves from Utrecht to Zeist; "
          "the relocation budget is EUR 91,400 and Marta Quell runs it.\n")
SECRET_WORDS = ("zeist", "91,400", "91400", "marta quell", "quell")  # not in the question
TWO_HOP = "Who is the office manager of the office where the VP Engineering works?"


@pytest.fixture
def engine(settings, tmp_path):
    settings.cache.enabled = False
    settings.guard.injection_mode = "heuristics"
    t = Tether(settings)
    with t.db.transaction() as conn:
        principals.ensure_group(conn, "hr")
        principals.ensure_user(conn, "root", role="admin")
        for name in ("ana", "eve"):
            principals.ensure_user(conn, name)
        principals.add_member(conn, "ana", "hr")
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in (("people.md", PEOPLE), ("offices.md", OFFICES), ("leave.md", LEAVE), ("heron.md", SECRET)):
        (docs / name).write_text(text, encoding="utf-8")
    pub = t.enqueue_ingest([docs / "people.md", docs / "offices.md", docs / "leave.md"], collection="handbook",
                           acl=["public"], owner="root")
    sec = t.enqueue_ingest([docs / "heron.md"], collection="hr", acl=["group:hr"], owner="root",
                           classification="restricted")
    t.work(batch_id=pub.batch_id)
    t.work(batch_id=sec.batch_id)
    yield t
    t.close()


def test_two_hop_question_is_answered_from_both_hops(engine: Tether) -> None:
    res = engine.ask(engine.principal("eve"), TWO_HOP, mode="research")
    steps = res.research["steps"]
    assert res.research["planner"] == "embedded"
    hops = [s for s in steps if s["kind"] == "hop"]
    assert any(s["entity"] == "Utrecht" for s in hops), steps
    assert not res.answer.abstained and "Sanne Bakker" in res.answer.text
    assert {c.source_uri.rsplit("/", 1)[-1] for c in res.answer.citations} >= {"offices.md"}
    assert all(v.supported for v in res.answer.sentences)
    trace = stored_trace(engine, res.trace_id)
    spans = [s for s in all_spans(trace["root"]) if s["name"] == "research.step"]
    assert len(spans) == len(steps)
    traced_hops = [s["attrs"]["query"] for s in spans if s["attrs"]["kind"] == "hop"]
    assert traced_hops and all("[entity of chunk" in q for q in traced_hops)  # masked in the trace
    assert all("Utrecht" not in q and "Keiko" not in q for q in traced_hops)


@pytest.mark.xfail(strict=True, reason="a second-hop fact stated through a pronoun is not quoted (known gap)")
def test_two_hop_fact_behind_a_pronoun(engine: Tether, tmp_path) -> None:
    (tmp_path / "docs" / "offices.md").write_text(OFFICES_PRONOUN, encoding="utf-8")
    b = engine.enqueue_ingest([tmp_path / "docs" / "offices.md"], collection="handbook", acl=["public"], owner="root")
    engine.work(batch_id=b.batch_id)
    res = engine.ask(engine.principal("eve"), TWO_HOP, mode="research")
    assert "Sanne Bakker" in res.answer.text


def test_multi_part_question_runs_a_step_per_part(engine: Tether) -> None:
    q = "How many days of annual leave do employees get, and until when must carried over days be used?"
    res = engine.ask(engine.principal("eve"), q, mode="research")
    steps = res.research["steps"]
    assert [s["kind"] for s in steps] == ["question", "part", "part"]
    leave = next(d["id"] for d in engine.list_documents(engine.principal("root"), every=True)
                 if d["source_uri"].endswith("leave.md"))
    assert all(leave in s["documents"] for s in steps)  # each part found the leave policy
    assert res.answer.abstained or all(v.supported for v in res.answer.sentences)


def test_limits_stop_the_plan(engine: Tether) -> None:
    engine.settings.research.max_steps = 1
    res = engine.ask(engine.principal("eve"), TWO_HOP, mode="research")
    assert len(res.research["steps"]) == 1 and res.research["stopped_by"] == "max_steps"
    engine.settings.research.max_steps, engine.settings.research.max_tokens = 6, 1  # below the floor: a test
    res = engine.ask(engine.principal("eve"), TWO_HOP, mode="research")
    assert len(res.research["steps"]) == 1 and res.research["stopped_by"] == "max_tokens"


def test_stream_reports_plan_and_steps_before_the_answer(engine: Tether) -> None:
    events = list(engine.ask_stream(engine.principal("eve"), TWO_HOP, mode="research"))
    types = [e["type"] for e in events]
    assert types.index("plan") < types.index("step") < types.index("sources") < types.index("done")
    assert types[-1] == "done" and "Sanne Bakker" in events[-1]["answer"]["text"]
    assert sum(t == "step" for t in types) >= 2


def test_unknown_mode_is_a_typed_error(engine: Tether) -> None:
    with pytest.raises(InvalidInput, match="unknown mode"):
        engine.ask(engine.principal("eve"), TWO_HOP, mode="deep")


def test_outsider_gets_nothing_of_a_restricted_bridge(engine: Tether) -> None:
    q = "Where is the VP Engineering office moving under Project Heron, and what is the relocation budget?"
    # the probe can fail: a member of hr is answered from the restricted plan
    inside = engine.ask(engine.principal("ana"), q, mode="research")
    assert "zeist" in inside.answer.text.lower() or "91,400" in inside.answer.text
    eve = engine.principal("eve")
    res = engine.ask(eve, q, mode="research")
    events = list(engine.ask_stream(eve, q, mode="research"))
    shown = [res.to_dict(), events, engine.traces.get(eve, res.trace_id), stored_trace(engine, res.trace_id)]
    blob = json.dumps(shown, default=str).lower()
    for word in SECRET_WORDS:
        assert word not in blob, word
