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


def test_fault_plan_is_seeded_recorded_and_reproducible():
    from tether.testing import Faults

    def run(seed: int) -> list:
        faults = Faults(rate=0.5, seed=seed, latency_s=0.01, kinds=("latency", "500", "overflow"))
        with FakeOpenAI("quote", faults=faults) as fake:
            statuses = []
            for _ in range(30):
                r = httpx.post(fake.base_url + "/chat/completions",
                               json={"model": "m", "messages": [{"role": "user", "content": "Question: hi"}]})
                statuses.append(r.status_code)
                if r.status_code == 400:
                    assert r.json()["error"]["code"] == "context_length_exceeded"
                    assert "maximum context length" in r.json()["error"]["message"]
            return fake.faults_seen, statuses

    faults, statuses = run(3)
    assert run(3)[0] == faults != run(4)[0]
    assert 5 < sum(f is not None for f in faults) < 25
    for f, s in zip(faults, statuses):
        assert s == {None: 200, "latency": 200, "500": 500, "overflow": 400}[f]


def test_truncated_plain_reply_is_a_transport_error():
    import pytest

    from tether.errors import ProviderError
    from tether.generate import GenerationRequest, OpenAICompatConfig, OpenAICompatGenerator
    from tether.testing import Reply

    with FakeOpenAI(Reply(text="a long enough answer [1].", truncate_after=0)) as fake:
        gen = OpenAICompatGenerator(OpenAICompatConfig(base_url=fake.base_url, model="m"))
        with pytest.raises(ProviderError) as info:
            gen.generate(GenerationRequest("q"))
    assert "status" not in info.value.details
