"""The router policy: question classifier, source count, ordered rules, cascade and JSON schema."""

from __future__ import annotations

import pydantic
import pytest

from tether.route.router import Features, choose, classify, count_sources, features
from tether.settings import GenerateSettings, ModelConfig, RouterSettings, RouteRule, RouteWhen, Settings
from tether.types import Passage


def _settings(**router) -> GenerateSettings:
    g = GenerateSettings()
    g.models["small"] = ModelConfig(kind="openai", base_url="http://x/v1", model="s", price_in_per_mtok=0.25)
    g.models["big"] = ModelConfig(kind="openai", base_url="http://x/v1", model="b", price_in_per_mtok=5,
                                  json_schema=True)
    g.router = RouterSettings(**{"enabled": True, "cheap": "small", "strong": "big", **router})
    return g


def _f(question: str = "How many days of annual leave do I get?", confidence: float = 0.6, sources: int = 1,
       json_schema: bool = False, model: str | None = None) -> Features:
    return Features(question, retrieval_confidence=confidence, passages=5, json_schema=json_schema,
                    requested_model=model, sources=sources)


def _p(doc: int, dense: float) -> Passage:
    return Passage(chunk_id=doc * 100 + int(dense * 100), document_id=doc, ordinal=0, text="t", char_start=0,
                   char_end=1, scores={"dense": dense})


@pytest.mark.parametrize("question", [
    "How many days of annual leave do employees get?",
    "When is the end-of-year deploy freeze?",
    "What are the RPO and RTO for the main database?",  # joined nouns are one question
    "Who approves travel and expense claims?",
    "What is the notice period for contractors?",
    "Is the Dublin office open on Good Friday?",
])
def test_simple_lookups(question):
    assert classify(question) == ("lookup", [])


@pytest.mark.parametrize("question", [
    "How many unused days can I carry over, and until when must I use them?",
    "How much does the plan cost and how many users does it allow?",
    "How many employees are there and in which offices?",
    "What is the parental leave? What is the sick leave?",
    "Summarise the policy; who signs it off?",
    "Answer these:\n- the leave days\n- the meal limit",
])
def test_multi_part(question):
    qtype, cues = classify(question)
    assert qtype == "multi_part" and cues


@pytest.mark.parametrize("question", [
    "Why are all offices closed on 11 September?",
    "Compare the Business and Enterprise tiers.",
    "What is the difference between a warning and a PIP?",
    "Summarize the security policy.",
    "List all reference codes in the contracts.",
    "Explain the on-call rota.",
    "If availability is 98.5% in a month, what credit applies?",
    "Does the customer get anything beyond the standard SLA?",
    "How does the merit budget affect salary bands?",
    "Should I use the VPN at home?",
])
def test_analytical(question):
    qtype, cues = classify(question)
    assert qtype == "analytical" and cues


def test_count_sources_counts_documents_close_to_the_best():
    ps = [_p(1, 0.70), _p(1, 0.69), _p(2, 0.67), _p(3, 0.50), _p(4, 0.66)]
    assert count_sources(ps, margin=0.05, top=6) == 3  # docs 1, 2, 4
    assert count_sources(ps, margin=0.05, top=2) == 1
    assert count_sources(ps, margin=0.25, top=6) == 4
    assert count_sources([], margin=0.05, top=6) == 0
    f = features(_settings(), "q?", ps, confidence=0.7, json_schema=True)
    assert (f.passages, f.sources, f.json_schema, f.retrieval_confidence) == (5, 3, True, 0.7)


def test_router_off_or_incomplete_uses_default_or_requested():
    g = _settings(enabled=False)
    assert choose(g, _f()).model == "extractive" and choose(g, _f()).reason == "default"
    assert choose(_settings(strong=""), _f()).reason == "default"
    r = choose(_settings(), _f(model="small"))
    assert (r.model, r.reason, r.escalate_to) == ("small", "requested", None)


def test_simple_confident_question_goes_cheap_with_cascade():
    r = choose(_settings(), _f())
    assert (r.model, r.reason, r.escalate_to) == ("small", "fallback", "big")
    d = r.details
    assert d["question_type"] == "lookup" and d["confidence"] == 0.6 and d["sources"] == 1
    assert d["words"] == 9 and d["cascade"] is True and "matched" not in d


@pytest.mark.parametrize("f,reason,matched", [
    (_f("Why is the office closed on Friday?"), "rule:hard_question", {"question_type": ["analytical", "multi_part"]}),
    (_f("What is the limit, and when does it reset?"), "rule:hard_question",
     {"question_type": ["analytical", "multi_part"]}),
    (_f(" ".join(["word"] * 30) + "?"), "rule:long_question", {"min_words": 30}),
    (_f(sources=3), "rule:many_sources", {"min_sources": 3}),
])
def test_default_rules_send_hard_requests_to_the_strong_model_without_the_cascade(f, reason, matched):
    r = choose(_settings(cascade=False), f)
    assert (r.model, r.reason, r.escalate_to) == ("big", reason, None)
    assert r.details["matched"] == {**matched, "cascade": False} and r.details["cascade"] is False
    # with the cascade on, grounding is the arbiter: the cheap model tries first
    r = choose(_settings(), f)
    assert (r.model, r.reason, r.escalate_to) == ("small", "fallback", "big")


def test_weak_retrieval_goes_strong_only_without_the_cascade():
    r = choose(_settings(cascade=False), _f(confidence=0.31))
    assert (r.model, r.reason, r.escalate_to) == ("big", "rule:weak_retrieval", None)
    assert r.details["matched"] == {"max_confidence": 0.4, "cascade": False}
    r = choose(_settings(), _f(confidence=0.31))  # with the cascade: grounding catches what it risks
    assert (r.model, r.reason, r.escalate_to) == ("small", "fallback", "big")
    assert choose(_settings(cascade=False), _f(confidence=0.4)).reason == "fallback"


def test_rules_are_ordered_first_match_wins_and_names_default_to_the_index():
    rules = [RouteRule(when=RouteWhen(min_confidence=0.5, max_sources=1), model="cheap", cascade=False),
             RouteRule(name="anything", model="strong")]
    g = _settings(rules=rules)
    r = choose(g, _f(confidence=0.5))
    assert (r.model, r.reason, r.escalate_to) == ("small", "rule:0", None)
    assert r.details["matched"] == {"min_confidence": 0.5, "max_sources": 1}
    assert choose(g, _f(confidence=0.49)).reason == "rule:anything"
    assert choose(g, _f(sources=2)).model == "big"


def test_rule_may_name_any_registered_model_and_cascade_from_it():
    g = _settings(rules=[RouteRule(when=RouteWhen(question_type=["lookup"]), model="extractive")])
    r = choose(g, _f())
    assert (r.model, r.escalate_to) == ("extractive", "big")


def test_cascade_off_globally_wins_over_rules():
    g = _settings(cascade=False, rules=[RouteRule(when=RouteWhen(max_words=100), model="cheap", cascade=True)])
    r = choose(g, _f())
    assert (r.model, r.escalate_to) == ("small", None) and r.details["cascade"] is False
    assert choose(_settings(cascade=False), _f()).escalate_to is None


def test_json_schema_needs_a_capable_model():
    g = _settings()
    r = choose(g, _f(json_schema=True))
    assert r.model == "big" and r.escalate_to is None and "small lacks json_schema" in r.details["json_schema_note"]
    g.models["small"].capabilities = ["json_schema"]
    r = choose(g, _f(json_schema=True))
    assert (r.model, r.escalate_to) == ("small", "big") and "json_schema_note" not in r.details
    g.models["big"].json_schema = False  # the strong model cannot: no cascade into it
    assert choose(g, _f(json_schema=True)).escalate_to is None
    g.models["small"].capabilities = []
    r = choose(g, _f(json_schema=True))
    assert r.model == "small" and "no routed model" in r.details["json_schema_note"]
    rules = [RouteRule(when=RouteWhen(json_schema=True), model="strong")]
    assert choose(_settings(rules=rules), _f(json_schema=True)).reason == "rule:0"


def test_rules_load_from_toml_and_env(tmp_path, monkeypatch):
    toml = tmp_path / "tether.toml"
    toml.write_text(
        "[generate.router]\nenabled = true\ncheap = 'small'\nstrong = 'big'\n"
        "[[generate.router.rules]]\nname = 'compare'\nmodel = 'strong'\n"
        "when = { question_type = ['analytical'], min_confidence = 0.3 }\n", encoding="utf-8")
    monkeypatch.setenv("TETHER_CONFIG", str(toml))
    s = Settings()
    assert s.generate.router.enabled and len(s.generate.router.rules) == 1
    assert s.generate.router.rules[0].when.question_type == ["analytical"]
    monkeypatch.setenv("TETHER_GENERATE__ROUTER__RULES", '[{"when": {"max_confidence": 0.5}, "model": "cheap"}]')
    assert Settings().generate.router.rules[0].when.max_confidence == 0.5
    with pytest.raises(pydantic.ValidationError):
        RouteWhen(question_type=["hard"])


def test_default_settings_keep_the_router_off():
    s = RouterSettings()
    assert not s.enabled and s.cascade and [r.name for r in s.rules] == [
        "hard_question", "long_question", "many_sources", "weak_retrieval"]
