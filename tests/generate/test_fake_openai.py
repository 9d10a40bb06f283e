"""The fake server speaks the wire format: models, embeddings, SSE chunks with usage."""

import json

import httpx
from openai import OpenAI

from tether.testing import FakeOpenAI


def test_models_and_embeddings_through_the_sdk():
    with FakeOpenAI() as fake:
        client = OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
        assert [m.id for m in client.models.list()] == ["fake-model"]
        emb = client.embeddings.create(model="e", input=["hello world", "hello world", "other"], dimensions=16)
    vecs = [d.embedding for d in emb.data]
    assert len(vecs) == 3 and len(vecs[0]) == 16 and vecs[0] == vecs[1] != vecs[2]
    assert abs(sum(v * v for v in vecs[0]) - 1) < 1e-6


def test_sse_stream_with_usage_and_done():
    with FakeOpenAI(lambda messages: "Hello there [1].") as fake:
        body = {"model": "m", "stream": True, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "hi"}]}
        r = httpx.post(fake.base_url + "/chat/completions", json=body)
    lines = [ln for ln in r.text.splitlines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln[6:]) for ln in lines[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello there [1]."
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert r.headers["content-type"].startswith("text/event-stream")
