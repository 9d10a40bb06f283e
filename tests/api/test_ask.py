"""Asking over JSON, Server-Sent Events and the OpenAI-compatible endpoint (real openai SDK)."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

QUESTION = "How many days of annual leave do employees accrue?"
SECRET_Q = "What is the salary band for a senior engineer in Project Nightingale?"


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sse_events(text: str) -> list[dict]:
    out = []
    for block in text.strip().split("\n\n"):
        data = [ln[6:] for ln in block.split("\n") if ln.startswith("data: ")]
        if data:
            out.append(json.loads(data[0]))
    return out


def test_ask_json_cites_a_readable_span(live):
    server, keys = live
    r = httpx.post(server.url + "/v1/ask", json={"question": QUESTION}, headers=h(keys["eve"]), timeout=60)
    assert r.status_code == 200, r.text
    ans = r.json()["answer"]
    assert not ans["abstained"] and "27" in ans["text"]
    cite = ans["citations"][0]
    doc = httpx.get(server.url + f"/v1/documents/{cite['document_id']}", headers=h(keys["eve"])).json()
    assert doc["body"][cite["doc_start"]:cite["doc_end"]] == cite["quote"]


def test_ask_streams_events_and_abstains_without_access(live):
    server, keys = live
    r = httpx.post(server.url + "/v1/ask", json={"question": QUESTION, "stream": True}, headers=h(keys["eve"]),
                   timeout=60)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "sources" and "token" in kinds and "sentence" in kinds and kinds[-1] == "done"
    assert events[-1]["answer"]["citations"]

    r = httpx.post(server.url + "/v1/ask", json={"question": SECRET_Q}, timeout=60,
                   headers={**h(keys["eve"]), "Accept": "text/event-stream"})
    events = sse_events(r.text)
    assert events[-1]["type"] == "done" and events[-1]["answer"]["abstained"]
    assert "Nightingale" not in json.dumps(events[-1]["answer"]["citations"]) and "91,000" not in r.text


def test_search_respects_permissions(live):
    server, keys = live
    hits = httpx.post(server.url + "/v1/search", json={"query": "salary band Nightingale", "k": 5},
                      headers=h(keys["eve"])).json()["hits"]
    assert all("Nightingale" not in x["title"] for x in hits)
    hits = httpx.post(server.url + "/v1/search", json={"query": "salary band Nightingale", "k": 5},
                      headers=h(keys["ana"])).json()["hits"]
    assert hits[0]["title"] == "Project Nightingale salary bands"


@pytest.fixture
def client(live):
    server, keys = live
    return openai.OpenAI(base_url=server.url + "/v1", api_key=keys["eve"], max_retries=0, timeout=60)


def test_openai_sdk_chat_completion(client):
    resp = client.chat.completions.create(
        model="tether", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": QUESTION}])
    text = resp.choices[0].message.content
    assert "27" in text and "[1] Annual leave policy, chars " in text
    extra = resp.to_dict()["tether"]
    assert extra["abstained"] is False and extra["citations"][0]["title"] == "Annual leave policy"
    assert [m.id for m in client.models.list()][0] == "tether"


def test_openai_sdk_chat_completion_streaming(client):
    stream = client.chat.completions.create(model="tether", stream=True,
                                            messages=[{"role": "user", "content": QUESTION}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "27" in text and "[1] Annual leave policy" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].to_dict()["tether"]["citations"]


def test_openai_sdk_abstains_and_errors(client):
    resp = client.chat.completions.create(model="tether", messages=[{"role": "user", "content": SECRET_Q}])
    assert resp.to_dict()["tether"]["abstained"] is True
    assert "91,000" not in resp.choices[0].message.content
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": QUESTION}])
    bad = openai.OpenAI(base_url=str(client.base_url), api_key="tth_bad_key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="tether", messages=[{"role": "user", "content": QUESTION}])


def test_review_request_is_recorded(live):
    server, keys = live
    r = httpx.post(server.url + "/v1/review-requests", json={"question": SECRET_Q, "reason": "weak_retrieval"},
                   headers=h(keys["eve"]))
    assert r.status_code == 201 and r.json()["status"] == "open"
    mine = httpx.get(server.url + "/v1/review-requests", headers=h(keys["eve"])).json()["review_requests"]
    assert [x["question"] for x in mine] == [SECRET_Q]
    assert httpx.get(server.url + "/v1/review-requests", headers=h(keys["ana"])).json()["review_requests"] == []


def test_search_metadata_filters_source_and_dates(live):
    server, keys = live
    base = {"query": "annual leave days", "k": 10}
    url = server.url + "/v1/search"
    everything = httpx.post(url, json=base, headers=h(keys["ana"])).json()["hits"]
    leave_uri = next(x for x in everything if "leave" in x["title"].lower())
    source = httpx.post(url, json={**base, "source": "file:///nowhere/"}, headers=h(keys["ana"])).json()["hits"]
    assert source == []
    docs = httpx.get(server.url + "/v1/documents", headers=h(keys["ana"])).json()["documents"]
    uri = next(d["source_uri"] for d in docs if d["id"] == leave_uri["document_id"])
    only = httpx.post(url, json={**base, "source": uri}, headers=h(keys["ana"])).json()["hits"]
    assert only and {x["document_id"] for x in only} == {leave_uri["document_id"]}
    past = httpx.post(url, json={**base, "date_to": "2000-01-01T00:00:00Z"}, headers=h(keys["ana"])).json()["hits"]
    assert past == []
    recent = httpx.post(url, json={**base, "date_from": "2000-01-01T00:00:00Z"}, headers=h(keys["ana"])).json()["hits"]
    assert {x["chunk_id"] for x in recent} == {x["chunk_id"] for x in everything}
    bad = httpx.post(url, json={**base, "date_from": "2030-01-01T00:00:00Z", "date_to": "2020-01-01T00:00:00Z"},
                     headers=h(keys["ana"]))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"


def test_warm_up_loads_the_answer_models(live, monkeypatch):
    """``Tether.warm_up`` (run by the app's startup) loads the embedder, scores a text with the
    injection classifier and builds Presidio (the default policies redact confidential answers),
    so a server's first requests do not queue behind model loads."""
    from collections import OrderedDict

    from tether.guard import injection, pii

    server, _keys = live
    monkeypatch.setattr(pii, "_engine", None)
    monkeypatch.setattr(injection, "_score_cache", OrderedDict())
    server.engine.warm_up()
    assert pii._engine is not None
    assert [part for _dir, part in injection._score_cache] == ["warm up"]
