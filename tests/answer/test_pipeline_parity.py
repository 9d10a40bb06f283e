"""``ask`` and ``ask_stream`` are one answer pipeline: on the same questions they give the same
sentences, citations (quotes included), verdicts and redactions, and leave traces with the same
span names; a streamed answer whose output guard changed anything is corrected by a ``replace``
event that carries the redacted text, sentences and citation quotes.

Real parts: PostgreSQL, the bundled embedder and guards, the extractive generator, and a real
OpenAI-compatible HTTP server (``FakeOpenAI``) for the answer that needs a retraction."""

from __future__ import annotations

import json

import pytest
from api.server import seed

from tether.engine import Tether
from tether.settings import ModelConfig, PiiPolicy
from tether.testing.fake_openai import FakeOpenAI

from .helpers import all_spans, stored_trace

LEAVE_Q = "How many days of annual leave do employees accrue?"
AWS_KEY = "AKIAZ7QWERTY12345678"
DOC_KEYS = (
    "# Deploy credentials\n\nThe deploy bot uses the access key " + AWS_KEY + " for the staging bucket.\n"
)
KEY_Q = "Which access key does the deploy bot use for the staging bucket?"
EMAIL = "jane.doe@corvane.example"
DOC_PAYROLL = (
    "# Payroll contacts\n\nThe payroll officer is Jane Doe, reachable at " + EMAIL + " on weekdays.\n"
)
PAYROLL_Q = "How can I reach the payroll officer?"
SUPPORTED = "Employees accrue 27 days of annual leave per year [1]."
UNSUPPORTED = "The office canteen serves free lunch every Friday [1]."


@pytest.fixture
def engine(settings, tmp_path):
    settings.cache.enabled = False  # both runs must do every step (a hit would skip them)
    t = Tether(settings)
    docs = tmp_path / "docs"
    seed(t, docs)
    (docs / "keys.md").write_text(DOC_KEYS, encoding="utf-8")
    (docs / "payroll.md").write_text(DOC_PAYROLL, encoding="utf-8")
    batch = t.enqueue_ingest([docs / "keys.md", docs / "payroll.md"], collection="ops", acl=["public"],
                             owner="root", classification="internal")
    t.work(batch_id=batch.batch_id)
    assert [r["status"] for r in t.batch_report(batch.batch_id)] == ["done", "done"]
    yield t
    t.close()




def _names(trace: dict) -> set[str]:
    """Every span name under the root (the root is named by the trace's kind)."""
    return {s["name"] for c in trace["root"]["children"] for s in all_spans(c)}


def _shown(answer: dict) -> dict:
    """What parity is about: the text, sentences, citations (with quotes), verdicts, redactions
    (reasons), not usage or timing."""
    answer = json.loads(json.dumps(answer, default=str))
    sentences = [{k: s[k] for k in ("index", "text", "verdict", "cited_numbers", "invalid_numbers", "reasons",
                                    "citations")} | {"score": round(float(s["score"]), 6)}
                 for s in answer["sentences"]]
    return {"text": answer["text"], "abstained": answer["abstained"], "escalate": answer["escalate"],
            "citations": answer["citations"], "sentences": sentences,
            "reasons": [r for r in answer["reasons"] if not r.startswith("latency_s:")]}


def _both(engine: Tether, who: str, question: str, model: str | None = None) -> tuple[dict, list[dict], dict, dict]:
    principal = engine.principal(who)
    res = engine.ask(principal, question, model=model)
    events = list(engine.ask_stream(principal, question, model=model))
    assert events[-1]["type"] == "done" and [e["type"] for e in events].count("done") == 1
    asked = json.loads(json.dumps(res.answer.to_dict(), default=str))
    return asked, events, stored_trace(engine, res.trace_id), stored_trace(engine, events[-1]["trace_id"])


def _assert_parity(asked: dict, streamed: dict, t_ask: dict, t_stream: dict) -> None:
    assert _shown(streamed) == _shown(asked)
    assert _names(t_stream) == _names(t_ask)
    guard = [next(s for s in all_spans(t["root"]) if s["name"] == "output_guard")["attrs"] for t in (t_ask, t_stream)]
    assert guard[0]["verdict"] == guard[1]["verdict"] and guard[0]["reasons"] == guard[1]["reasons"]
    assert t_ask["status"] == t_stream["status"] and t_stream["kind"] == "stream"


def test_default_policy_same_answer_and_spans(engine):
    asked, events, t_ask, t_stream = _both(engine, "eve", LEAVE_Q)
    assert not asked["abstained"] and "27 days" in asked["text"] and asked["citations"]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "sources" and "token" in kinds and "sentence" in kinds and "replace" not in kinds
    _assert_parity(asked, events[-1]["answer"], t_ask, t_stream)
    for stage in ("input_guard", "retrieve", "retrieve.keyword", "route", "pack", "context_guard", "budget",
                  "ground", "model.call", "output_guard"):
        assert stage in {s["name"] for s in all_spans(t_stream["root"])}, stage


def test_redacting_policy_same_redactions_and_no_live_tokens(engine, settings):
    settings.guard.policies["internal"] = PiiPolicy(redact_in_answers=True)
    asked, events, t_ask, t_stream = _both(engine, "eve", PAYROLL_Q)
    assert not asked["abstained"] and "redacted:pii" in asked["reasons"]
    _assert_parity(asked, events[-1]["answer"], t_ask, t_stream)
    # the answer was guarded as a whole before anything of it was shown
    assert [e["type"] for e in events] == ["sources", "done"]
    assert EMAIL not in json.dumps(events) and "[EMAIL]" in events[-1]["answer"]["text"]


def test_secret_quoted_from_a_source_is_redacted_alike(engine):
    asked, events, t_ask, t_stream = _both(engine, "eve", KEY_Q)
    assert not asked["abstained"] and "redacted:pii" in asked["reasons"]
    assert AWS_KEY not in json.dumps(asked)
    assert any(c["document_id"] for c in asked["citations"])
    _assert_parity(asked, events[-1]["answer"], t_ask, t_stream)
    assert AWS_KEY not in json.dumps(events[-1])


def test_retracted_sentence_same_verdicts(engine, settings):
    with FakeOpenAI(lambda messages: f"{SUPPORTED} {UNSUPPORTED}") as fake:
        settings.generate.models["scripted"] = ModelConfig(kind="openai", base_url=fake.base_url, model="m")
        asked, events, t_ask, t_stream = _both(engine, "eve", LEAVE_Q, model="scripted")
    retracts = [e for e in events if e["type"] == "retract"]
    assert len(retracts) == 1 and retracts[0]["index"] == 1
    verdicts = [s["verdict"] for s in asked["sentences"]]
    assert verdicts[0] == "supported" and verdicts[1] != "supported"
    assert "canteen" not in asked["text"] and "dropped:1" in asked["reasons"] and asked["escalate"]
    _assert_parity(asked, events[-1]["answer"], t_ask, t_stream)


def test_stream_replace_event_carries_redacted_citation_quotes(engine):
    """The old stream redacted only the text: a secret quoted from a source stayed in the
    citation quotes. Now the replace event carries the guarded answer, quotes included, and the
    sentence events are screened before they are sent."""
    events = list(engine.ask_stream(engine.principal("eve"), KEY_Q))
    assert AWS_KEY in "".join(e["text"] for e in events if e["type"] == "token")  # shown live, then replaced
    replace = [e for e in events if e["type"] == "replace"]
    assert len(replace) == 1 and replace[0]["reason"] == "output_guard"
    ev = replace[0]
    quotes = [c["quote"] for c in ev["citations"]] + [c["quote"] for s in ev["sentences"] for c in s["citations"]]
    assert quotes and all(AWS_KEY not in q for q in quotes) and all("[SECRET]" in q for q in quotes)
    assert AWS_KEY not in ev["text"] and all(AWS_KEY not in s["text"] for s in ev["sentences"])
    assert {k: ev[k] for k in ("text", "sentences", "citations")} == \
        {k: events[-1]["answer"][k] for k in ("text", "sentences", "citations")}
    for s in (e for e in events if e["type"] == "sentence"):
        assert AWS_KEY not in json.dumps(s)


def test_stream_is_served_from_the_cache_like_ask(engine, settings):
    """Same cache rules: an answer ``ask`` stored is replayed to the stream (no model call)."""
    settings.cache.enabled = True
    eve = engine.principal("eve")
    res = engine.ask(eve, LEAVE_Q)
    events = list(engine.ask_stream(eve, LEAVE_Q))
    assert [e["type"] for e in events][:2] == ["sources", "token"] and events[-1]["type"] == "done"
    assert _shown(events[-1]["answer"]) == _shown(json.loads(json.dumps(res.answer.to_dict(), default=str)))
    t = stored_trace(engine, events[-1]["trace_id"])
    assert t["attrs"]["cache"] == "hit_exact" and "ground" not in {s["name"] for s in all_spans(t["root"])}
