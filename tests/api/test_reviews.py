"""The review queue and feedback over real HTTP: who sees what (evidence withheld from reviewers
who may not read it, 404 for others' items), the claim/answer/dismiss/promote flow, feedback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tether.evaluate.golden import load_golden
from tether.observe import store as obs_store
from tether.observe.trace import Trace

QUESTION = "How many days of annual leave do employees accrue?"
SECRET_Q = "What is the salary band for a senior engineer in Project Nightingale?"
SECRET_TITLE = "Project Nightingale salary bands"


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def k(live):
    """API keys by user: the seeded ones plus rita (reviewer, no group) and hana (reviewer, hr)."""
    server, keys = live
    out = dict(keys)
    for name, groups in (("rita", []), ("hana", ["hr"])):
        r = httpx.post(server.url + "/v1/users", json={"name": name, "role": "reviewer", "groups": groups},
                       headers=h(keys["root"]))
        assert r.status_code == 201, r.text
        r = httpx.post(server.url + "/v1/api-keys", json={"user": name}, headers=h(keys["root"]))
        out[name] = r.json()["key"]
    return out


def call(server, key: str, method: str, path: str, **kw) -> httpx.Response:
    return httpx.request(method, server.url + path, headers=h(key), timeout=60, **kw)


def ask(server, key: str, question: str) -> dict:
    r = call(server, key, "POST", "/v1/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()


def test_queue_withholds_evidence_a_reviewer_cannot_read(live, k):
    server, _ = live
    result = ask(server, k["ana"], SECRET_Q)
    assert "91,000" in result["answer"]["text"]  # ana (hr) may read it
    r = call(server, k["ana"], "POST", "/v1/reviews", json={"question": SECRET_Q, "answer": result["answer"],
                                                            "reason": "is this current?"})
    assert r.status_code == 201, r.text
    mine = r.json()
    rid = mine["id"]
    assert mine["view"] == "asker" and mine["status"] == "open" and "evidence" not in mine

    # rita (reviewer, not in hr): the item, but neither the evidence nor the draft
    listed = call(server, k["rita"], "GET", "/v1/reviews")
    item = next(i for i in listed.json()["reviews"] if i["id"] == rid)
    assert listed.json()["counts"]["open"] >= 1
    got = call(server, k["rita"], "GET", f"/v1/reviews/{rid}")
    for text in (got.text, json.dumps(item)):
        assert "91,000" not in text and "118,000" not in text and SECRET_TITLE not in text
    view = got.json()
    assert view["evidence"] and all(e == {"withheld": True, "note": "withheld: you cannot read this source"}
                                    for e in view["evidence"])
    assert view["draft_answer"]["withheld"] is True and view["question"] == SECRET_Q
    assert "document_id" not in json.dumps(view["evidence"])

    # hana (reviewer in hr): everything
    view = call(server, k["hana"], "GET", f"/v1/reviews/{rid}").json()
    assert view["withheld_sources"] == 0 and "91,000" in view["draft_answer"]["text"]
    assert {e["title"] for e in view["evidence"]} == {SECRET_TITLE}
    assert any("91,000" in e["text"] for e in view["evidence"])

    # eve (member): someone else's item is exactly like an absent one
    absent = call(server, k["eve"], "GET", "/v1/reviews/999999")
    other = call(server, k["eve"], "GET", f"/v1/reviews/{rid}")
    assert other.status_code == absent.status_code == 404 and other.json()["error"]["code"] == "not_found"
    assert re.sub(r"\d+", "#", other.text) == re.sub(r"\d+", "#", absent.text)
    assert call(server, k["eve"], "POST", f"/v1/reviews/{rid}/claim").status_code == 404
    assert all(i["id"] != rid for i in call(server, k["eve"], "GET", "/v1/reviews").json()["reviews"])
    assert all(i["id"] != rid for i in call(server, k["eve"], "GET", "/v1/review-requests").json()["review_requests"])
    # the asker: their own, asker view only
    own = call(server, k["ana"], "GET", f"/v1/reviews/{rid}").json()
    assert own["question"] == SECRET_Q and "draft_answer" not in own and "trace_id" not in own


def test_claim_answer_dismiss_and_conflicts(live, k):
    server, _ = live
    r = call(server, k["eve"], "POST", "/v1/review-requests", json={"question": "Can I bring my dog to work?"})
    assert r.status_code == 201 and r.json()["status"] == "open"
    rid = r.json()["id"]
    assert call(server, k["eve"], "POST", f"/v1/reviews/{rid}/claim").json()["error"]["code"] == "forbidden"
    assert call(server, k["ana"], "POST", f"/v1/reviews/{rid}/claim").status_code == 404
    claimed = call(server, k["rita"], "POST", f"/v1/reviews/{rid}/claim")
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "rita"
    lost = call(server, k["hana"], "POST", f"/v1/reviews/{rid}/claim")
    assert lost.status_code == 409 and lost.json()["error"]["code"] == "conflict"
    assert call(server, k["hana"], "POST", f"/v1/reviews/{rid}/answer", json={"answer": "No"}).status_code == 409
    assert call(server, k["rita"], "POST", f"/v1/reviews/{rid}/answer", json={"answer": ""}).status_code == 422
    done = call(server, k["rita"], "POST", f"/v1/reviews/{rid}/answer",
                json={"answer": "Dogs are not allowed in the office, except assistance dogs."})
    assert done.status_code == 200 and done.json()["status"] == "answered"
    mine = call(server, k["eve"], "GET", f"/v1/reviews/{rid}").json()
    assert mine["answer"].startswith("Dogs are not allowed") and mine["answered_by"] == "rita"
    assert call(server, k["rita"], "POST", f"/v1/reviews/{rid}/dismiss", json={"reason": "x"}).status_code == 409

    r = call(server, k["eve"], "POST", "/v1/reviews", json={"question": "Who won the world cup?"})
    other = r.json()["id"]
    assert call(server, k["hana"], "POST", f"/v1/reviews/{other}/dismiss", json={"reason": ""}).status_code == 422
    gone = call(server, k["hana"], "POST", f"/v1/reviews/{other}/dismiss", json={"reason": "not about our documents"})
    assert gone.json()["status"] == "dismissed"
    assert call(server, k["eve"], "GET", f"/v1/reviews/{other}").json()["dismiss_reason"] == "not about our documents"

    answered = call(server, k["rita"], "GET", "/v1/reviews", params={"status": "answered"}).json()["reviews"]
    assert rid in [i["id"] for i in answered] and all(i["status"] == "answered" for i in answered)
    assert call(server, k["rita"], "GET", "/v1/reviews", params={"source": "feedback", "status": "dismissed"}
                ).json()["reviews"] == []
    assert call(server, k["rita"], "GET", "/v1/reviews", params={"status": "nope"}).status_code == 422
    assert call(server, k["rita"], "POST", "/v1/reviews/999999/claim").status_code == 404


def test_promote_appends_a_case_tether_eval_reads(live, k):
    server, _ = live
    result = ask(server, k["eve"], QUESTION)
    rid = call(server, k["eve"], "POST", "/v1/reviews", json={"question": QUESTION, "answer": result["answer"]}
               ).json()["id"]
    assert call(server, k["rita"], "POST", f"/v1/reviews/{rid}/promote").status_code == 409  # not answered yet
    call(server, k["rita"], "POST", f"/v1/reviews/{rid}/answer",
         json={"answer": "Employees accrue 27 days of annual leave per year."})
    assert call(server, k["eve"], "POST", f"/v1/reviews/{rid}/promote").status_code == 403
    r = call(server, k["rita"], "POST", f"/v1/reviews/{rid}/promote")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["item"]["promoted"] is True and out["case"]["as"] == "eve" and out["case"]["key_facts"] == ["27 days"]
    gs = load_golden(Path(out["path"]))
    case = next(c for c in gs.cases if c.id == out["case"]["id"])
    assert case.question == QUESTION and case.principal == "eve" and case.source_uris and case.expected_answer
    assert Path(out["path"]).name == "reviewed.yaml" and Path(out["path"]).parent.name == "golden"
    assert call(server, k["hana"], "POST", f"/v1/reviews/{rid}/promote").status_code == 409


def _trace(server, key: str, user: str, question: str) -> tuple[str, dict]:
    """The trace id of an answer ``user`` got (stored by the engine; inserted here if not)."""
    result = ask(server, key, question)
    if result.get("trace_id"):
        return result["trace_id"], result["answer"]
    engine = server.server.config.app.state.engine
    p = engine.principal(user)
    trace = Trace("ask", principal_id=p.id, principal_name=p.name)
    trace.finish("answered")
    with engine.db.transaction() as conn:
        obs_store.save(conn, trace, question=question)
    return trace.id, result["answer"]


def test_feedback_only_from_the_asker_and_thumbs_down_reaches_reviewers(live, k):
    server, _ = live
    trace_id, answer = _trace(server, k["ana"], "ana", SECRET_Q)
    r = call(server, k["eve"], "POST", "/v1/feedback", json={"trace_id": trace_id, "rating": "down"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    unknown = {"trace_id": "f" * 32, "rating": "up"}
    assert call(server, k["ana"], "POST", "/v1/feedback", json=unknown).status_code == 404
    meh = {"trace_id": trace_id, "rating": "meh"}
    assert call(server, k["ana"], "POST", "/v1/feedback", json=meh).status_code == 422
    up = call(server, k["ana"], "POST", "/v1/feedback", json={"trace_id": trace_id, "rating": "up"})
    assert up.status_code == 201 and up.json()["review_id"] is None
    down = call(server, k["ana"], "POST", "/v1/feedback",
                json={"trace_id": trace_id, "rating": "down", "comment": "the band changed in March", "answer": answer})
    assert down.status_code == 200 and down.json()["review_id"]
    rid = down.json()["review_id"]
    item = call(server, k["hana"], "GET", f"/v1/reviews/{rid}").json()
    assert item["source"] == "feedback" and item["trace_id"] == trace_id
    assert item["reason"] == "the band changed in March"
    assert item["question"] and {e["title"] for e in item["evidence"]} == {SECRET_TITLE}
    hidden = call(server, k["rita"], "GET", f"/v1/reviews/{rid}")
    assert "91,000" not in hidden.text and SECRET_TITLE not in hidden.text
    assert rid in [i["id"] for i in call(server, k["ana"], "GET", "/v1/reviews").json()["reviews"]]

    everyone = call(server, k["root"], "GET", "/v1/feedback").json()
    assert everyone["counts"]["down"] >= 1 and any(f["review_id"] == rid for f in everyone["feedback"])
    assert call(server, k["eve"], "GET", "/v1/feedback").json() == {"feedback": [], "counts": {"up": 0, "down": 0}}
    assert call(server, k["root"], "GET", "/v1/feedback", params={"rating": "up"}).json()["feedback"] == []
