"""The router and the cascade through engine.ask, with two priced OpenAI-compatible models played
by FakeOpenAI: a rejected cheap answer escalates to the strong model, the trace records why, and
every call is costed at its own model's price."""

from __future__ import annotations

import re

import pytest
from api.server import seed

from tether.engine import Tether
from tether.observe import store as obs_store
from tether.settings import ModelConfig, RouterSettings
from tether.testing.fake_openai import FakeOpenAI, question, sources

SIMPLE = "How many days of annual leave do employees accrue?"
PRICES = {"cheap": (0.25, 1.0), "strong": (5.0, 15.0)}


def _best(messages) -> tuple[str, int]:
    """The source sentence (headings apart) sharing the most words with the question."""
    q = set(re.findall(r"\w+", question(messages).lower()))
    cands = [(len(q & set(re.findall(r"\w+", s.lower()))), -n, s.strip().rstrip("."), n)
             for n, body in sources(messages).items() for line in body.splitlines() if not line.startswith("#")
             for s in re.split(r"(?<=[.!?])\s+", line) if s.strip()]
    _, _, sentence, n = max(cands)
    return sentence, n


def quote(messages) -> str:
    sentence, n = _best(messages)
    return f"{sentence} [{n}]."


def wrong_number(messages) -> str:
    """The right sentence, then the same sentence with its number changed (grounding drops it)."""
    sentence, n = _best(messages)
    m = re.search(r"\d+", sentence)
    assert m, sentence
    return f"{sentence} [{n}]. {sentence[:m.start()]}{int(m.group(0)) + 7}{sentence[m.end():]} [{n}]."


@pytest.fixture
def engine(settings, tmp_path):
    t = Tether(settings)
    seed(t, tmp_path / "docs")
    yield t
    t.close()


@pytest.fixture
def models(settings):
    """Two fake servers registered as ``cheap`` and ``strong`` (both quote correctly until a test says otherwise)."""
    with FakeOpenAI(quote, model="cheap-m") as cheap, FakeOpenAI(quote, model="strong-m") as strong:
        for name, fake in (("cheap", cheap), ("strong", strong)):
            pin, pout = PRICES[name]
            settings.generate.models[name] = ModelConfig(kind="openai", base_url=fake.base_url, model=f"{name}-m",
                                                         price_in_per_mtok=pin, price_out_per_mtok=pout)
        settings.generate.router = RouterSettings(enabled=True, cheap="cheap", strong="strong")
        yield {"cheap": cheap, "strong": strong}


def _trace(engine, trace_id: str) -> dict:
    with engine.db.connection() as conn:
        return obs_store.get(conn, trace_id, viewer_id=None, admin=True)


def _spans(node: dict, name: str) -> list[dict]:
    own = [node] if node["name"] == name else []
    return own + [s for c in node["children"] for s in _spans(c, name)]


def _check_costs(t: dict, res) -> None:
    gen = [c for c in t["calls"] if c["kind"] == "generate"]
    for c in gen:
        pin, pout = PRICES[c["model"]]
        assert c["input_tokens"] > 0 and c["output_tokens"] > 0
        assert c["cost_usd"] == pytest.approx((c["input_tokens"] * pin + c["output_tokens"] * pout) / 1e6, rel=1e-5)
    assert res.cost_usd == pytest.approx(sum(c["cost_usd"] for c in t["calls"]), rel=1e-5)


def test_rejected_cheap_answer_escalates_to_the_strong_model(engine, models):
    models["cheap"].script = [wrong_number]
    res = engine.ask(engine.principal("eve"), SIMPLE)
    assert res.model == "strong" and not res.answer.abstained and "27 days" in res.answer.text
    sentences = res.answer.sentences
    assert all(v.supported for v in sentences), [(v.text, v.verdict, v.reasons) for v in sentences]
    assert len(models["cheap"].chat_requests) == 2  # the answer and its one regeneration
    assert len(models["strong"].chat_requests) == 1
    t = _trace(engine, res.trace_id)
    route = _spans(t["root"], "route")[0]["attrs"]
    assert (route["model"], route["reason"], route["escalate_to"]) == ("cheap", "fallback", "strong")
    assert route["question_type"] == "lookup" and route["cascade"] is True
    assert route["confidence"] >= 0.4 and route["sources"] >= 1 and route["words"] == len(SIMPLE.split())
    [esc] = _spans(t["root"], "route.escalate")
    assert esc["attrs"]["from"] == "cheap" and esc["attrs"]["to"] == "strong"
    assert any(r.startswith("dropped:") for r in esc["attrs"]["reasons"])
    grounds = _spans(t["root"], "ground")
    assert [g["attrs"]["model"] for g in grounds] == ["cheap", "strong"]
    assert [c["model"] for c in t["calls"] if c["kind"] == "generate"] == ["cheap", "cheap", "strong"]
    _check_costs(t, res)
    assert t["attrs"]["route"] == "fallback" and t["attrs"]["model"] == "strong"
    # the final answer's usage covers every generation of the request
    assert res.answer.usage.input_tokens == sum(c["input_tokens"] for c in t["calls"] if c["kind"] == "generate")


def test_simple_question_stays_on_the_cheap_model(engine, models):
    res = engine.ask(engine.principal("eve"), SIMPLE)
    assert res.model == "cheap" and not res.answer.abstained and "27 days" in res.answer.text
    assert len(models["cheap"].chat_requests) == 1 and not models["strong"].chat_requests
    t = _trace(engine, res.trace_id)
    assert _spans(t["root"], "route")[0]["attrs"]["escalate_to"] == "strong"
    assert not _spans(t["root"], "route.escalate")
    _check_costs(t, res)


def test_hard_question_goes_straight_to_the_strong_model_without_the_cascade(engine, models, settings):
    settings.generate.router.cascade = False
    res = engine.ask(engine.principal("eve"), "How many days of annual leave do employees accrue, and how many "
                                               "can be carried over?")
    assert res.model == "strong" and not models["cheap"].chat_requests
    route = _spans(_trace(engine, res.trace_id)["root"], "route")[0]["attrs"]
    assert (route["reason"], route["escalate_to"], route["question_type"]) == ("rule:hard_question", None, "multi_part")
    assert route["matched"] == {"question_type": ["analytical", "multi_part"], "cascade": False}
    assert route["cues"] == ["and how"]


def test_no_cascade_keeps_the_cheap_answer_with_its_rejected_sentence_dropped(engine, models, settings):
    settings.generate.router.cascade = False
    models["cheap"].script = [wrong_number]
    res = engine.ask(engine.principal("eve"), SIMPLE)
    assert res.model == "cheap" and not models["strong"].chat_requests
    assert "34 days" not in res.answer.text and any(r.startswith("dropped:") for r in res.answer.reasons)
    t = _trace(engine, res.trace_id)
    assert _spans(t["root"], "route")[0]["attrs"]["escalate_to"] is None
    assert not _spans(t["root"], "route.escalate")
