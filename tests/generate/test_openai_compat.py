"""The OpenAI-compatible generator against the fake server: errors, timeouts, secrets."""

import logging

import pytest

from tether.errors import ProviderError, ProviderTimeout
from tether.generate import GenerationRequest, Generator, OpenAICompatConfig, OpenAICompatGenerator
from tether.testing import FakeOpenAI, Reply
from tether.types import Passage

REQ = GenerationRequest("What is X?", [Passage(1, 1, 0, "X is a letter.", 0, 14)], max_tokens=64)
KEY = "sk-very-secret-value"


def _gen(fake: FakeOpenAI, **kw) -> OpenAICompatGenerator:
    return OpenAICompatGenerator(OpenAICompatConfig(base_url=fake.base_url, model="m", **kw), api_key=KEY)


def test_generate_and_stream_agree():
    with FakeOpenAI("quote") as fake:
        gen = _gen(fake)
        assert isinstance(gen, Generator)
        g = gen.generate(REQ)
        streamed = "".join(gen.stream(REQ))
    assert g.text == streamed == "X is a letter. [1]"
    assert g.finish_reason == "stop" and g.output_tokens == 5 and g.latency_s > 0
    assert fake.chat_requests[0]["body"]["max_tokens"] == 64


@pytest.mark.parametrize(
    "reply, status",
    [(Reply(status=429, headers={"Retry-After": "7"}), 429), (Reply(status=500), 500)],
)
def test_http_errors_are_translated(reply, status):
    with FakeOpenAI(reply) as fake, pytest.raises(ProviderError) as info:
        _gen(fake).generate(REQ)
    assert info.value.details["status"] == status and info.value.__cause__ is not None
    if status == 429:
        assert info.value.details["retry_after"] == "7"


def test_timeout_and_reset():
    with FakeOpenAI([Reply(text="late", delay_s=1.0), Reply(reset=True)]) as fake:
        with pytest.raises(ProviderTimeout):
            _gen(fake, timeout_s=0.2).generate(REQ)
        with pytest.raises(ProviderError):
            _gen(fake).generate(REQ)


def test_key_never_leaks(caplog):
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI(Reply(status=401)) as fake:
        gen = _gen(fake)
        with pytest.raises(ProviderError) as info:
            gen.generate(REQ)
    assert KEY not in repr(gen) and KEY not in str(info.value) and KEY not in str(info.value.to_dict())
    assert KEY not in caplog.text
