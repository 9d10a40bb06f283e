"""``/v1/conversations`` and the OpenAI-compatible endpoint's history, over a real server."""

from __future__ import annotations

import uuid

import httpx
import openai

from tests.api.test_ask import QUESTION, SECRET_Q, h, sse_events

FOLLOW_UP = "Can they carry it over to the next year?"


def test_thread_crud_and_turns(live):
    server, keys = live
    c = httpx.Client(base_url=server.url, headers=h(keys["ana"]), timeout=60)
    r = c.post("/v1/conversations", json={"title": "leave"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    first = c.post(f"/v1/conversations/{cid}/turns", json={"question": QUESTION}).json()
    assert "27" in first["answer"]["text"] and first["turn"]["ordinal"] == 1
    second = c.post(f"/v1/conversations/{cid}/turns", json={"question": FOLLOW_UP}).json()
    assert second["rewrite"]["rewritten"] and "annual" in second["rewrite"]["standalone"]
    assert "five days" in second["answer"]["text"]
    r = c.post(f"/v1/conversations/{cid}/turns", json={"question": "And what about the year after?", "stream": True})
    events = sse_events(r.text)
    assert r.headers["content-type"].startswith("text/event-stream")
    assert events[0]["type"] == "rewrite" and [e["type"] for e in events][-2:] == ["turn", "done"]
    got = c.get(f"/v1/conversations/{cid}").json()
    assert [t["ordinal"] for t in got["turns"]] == [1, 2, 3] and got["turns"][1]["standalone"] != FOLLOW_UP
    assert c.patch(f"/v1/conversations/{cid}", json={"title": "Annual leave"}).json()["title"] == "Annual leave"
    assert [x["title"] for x in c.get("/v1/conversations").json()["conversations"]] == ["Annual leave"]
    r = c.post(f"/v1/conversations/{cid}/turns/1/feedback", json={"rating": "up"})
    assert r.status_code == 201, r.text
    assert c.post(f"/v1/conversations/{cid}/turns/1/feedback", json={"rating": "meh"}).status_code == 422
    d = c.delete(f"/v1/conversations/{cid}").json()
    assert d["deleted"] and d["turns"] == 3
    assert c.get(f"/v1/conversations/{cid}").status_code == 404


def test_another_users_thread_is_the_same_404_as_a_missing_one(live):
    server, keys = live
    cid = httpx.post(server.url + "/v1/conversations", headers=h(keys["ana"]), json={}).json()["id"]
    httpx.post(server.url + f"/v1/conversations/{cid}/turns", headers=h(keys["ana"]), json={"question": SECRET_Q},
               timeout=60)
    missing = str(uuid.uuid4())
    eve = httpx.Client(base_url=server.url, headers=h(keys["eve"]), timeout=60)
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"title": "x"}), ("DELETE", "", None),
                                 ("POST", "/turns", {"question": "And for juniors?"}),
                                 ("POST", "/turns", {"question": "And for juniors?", "stream": True}),
                                 ("POST", "/turns/1/feedback", {"rating": "down"})):
        theirs = eve.request(method, f"/v1/conversations/{cid}{suffix}", json=body)
        absent = eve.request(method, f"/v1/conversations/{missing}{suffix}", json=body)
        assert theirs.status_code == absent.status_code == 404, (method, suffix, theirs.text)
        assert theirs.text.replace(cid, "#") == absent.text.replace(missing, "#")
        assert "91,000" not in theirs.text and "Nightingale" not in theirs.text
    assert eve.get("/v1/conversations").json() == {"conversations": []}


def test_openai_endpoint_honours_the_message_history(live):
    server, keys = live
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=keys["eve"], max_retries=0, timeout=60)
    resp = client.chat.completions.create(model="tether", messages=[
        {"role": "user", "content": QUESTION}, {"role": "assistant", "content": "27 days [1]"},
        {"role": "user", "content": FOLLOW_UP}])
    extra = resp.to_dict()["tether"]
    assert extra["rewrite"]["rewritten"] and "annual" in extra["rewrite"]["standalone"]
    assert "five days" in resp.choices[0].message.content
    # a 10,000-message history is truncated, not an error
    many = [{"role": "user" if i % 2 == 0 else "assistant", "content": QUESTION if i % 2 == 0 else "27 days"}
            for i in range(10_000)] + [{"role": "user", "content": FOLLOW_UP}]
    r = httpx.post(server.url + "/v1/chat/completions", headers=h(keys["eve"]), timeout=120,
                   json={"model": "tether", "messages": many})
    assert r.status_code == 200, r.text[:300]
    hist = r.json()["tether"]["rewrite"]["history"]
    assert hist["kept"] + hist["dropped"] == 5000 and hist["dropped"] > 4900


def test_malformed_messages_are_a_typed_422(live):
    server, keys = live
    for messages in ([{"role": "wizard", "content": "hi"}], [{"role": "user", "content": [{"text": "no type"}]}],
                     [{"role": "user", "content": [{"type": "text", "text": 3}]}],
                     [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "27"}], [],
                     [{"content": "no role"}], "not a list"):
        r = httpx.post(server.url + "/v1/chat/completions", headers=h(keys["eve"]), timeout=60,
                       json={"model": "tether", "messages": messages})
        assert r.status_code == 422, (messages, r.text)
        assert r.json()["error"]["code"] == "invalid_input"
