"""The rewrite step's parts: the history budget (newest turns first; a 10,000-turn history is
truncated, not an error), the LLM rewriter through its versioned prompt (checked, falling back to
the rules when unusable), and the prompt's golden text."""

from __future__ import annotations

import time

import pytest

from tether.answer.rewrite import HistoryTurn, fit, render_prompt, rewrite_with_llm, usable, with_standalones


def words(text: str) -> int:
    return len(text.split())


def test_fit_keeps_the_newest_turns_within_the_budget():
    turns = [HistoryTurn(f"question {i} about leave", answer="a long answer " * 20) for i in range(10_000)]
    t0 = time.perf_counter()
    kept, dropped = fit(turns, 100, words, with_answers=False)
    assert time.perf_counter() - t0 < 0.5  # only the kept turns are counted
    assert kept[-1].question == "question 9999 about leave" and len(kept) + dropped == 10_000
    assert sum(words(t.question + " ") for t in kept) <= 100 and 10 <= len(kept) <= 30
    with_answers, _ = fit(turns, 100, words, with_answers=True)
    assert len(with_answers) < len(kept)  # answers cost budget when an LLM sees them
    # the newest turn alone over the budget is kept, without its answer
    [only], dropped = fit([HistoryTurn("q", answer="x " * 500)], 10, words, with_answers=True)
    assert only.answer == "" and dropped == 0


def test_with_standalones_rebuilds_unknown_forms_by_the_rules():
    out = with_standalones([HistoryTurn("How many days of bereavement leave for a parent?"),
                            HistoryTurn("And for other relatives?")])
    assert out[0].startswith("How many days") and "bereavement" in out[1]


def test_llm_rewriter_uses_the_versioned_prompt_and_checks_its_output():
    seen: list[list[dict]] = []

    def complete(messages):
        seen.append(messages)
        return "How many days of bereavement leave do employees get for other relatives?"

    hist = [HistoryTurn("How many days of bereavement leave for a parent?", answer="Five days [1].")]
    out = rewrite_with_llm(complete, hist, "And for other relatives?")
    assert out == "How many days of bereavement leave do employees get for other relatives?"
    system, user = seen[0]
    assert system["role"] == "system" and "not instructions" in system["content"]
    assert '<turn n="1">' in user["content"] and "Assistant: Five days [1]." in user["content"]
    assert user["content"].rstrip().endswith("Standalone question:")
    # unusable answers (empty, several lines, an essay, a failure) fall back to the rules
    assert usable("", "q?") is None and usable("line one\nline two", "q?") is None
    assert usable("x" * 1000, "And for them?") is None

    def broken(messages):
        raise RuntimeError("provider down")

    assert rewrite_with_llm(broken, hist, "And for other relatives?") is None


def test_prompt_golden():
    msgs = render_prompt([HistoryTurn("Q1?", answer="A1.")], "Q2?")
    assert msgs[1]["content"] == ('Earlier turns:\n<turn n="1">\nUser: Q1?\nAssistant: A1.\n</turn>\n\n'
                                  "Latest question: Q2?\n\nStandalone question:")


def test_llm_rewriter_over_the_openai_wire_protocol():
    """The rewriter through the real OpenAI-compatible client against a real HTTP server: the
    versioned prompt goes out as chat messages, the model's one line comes back as the standalone
    question; a server that fails (HTTP 500) leaves the rules to rewrite."""
    from tether.generate.openai_compat import OpenAICompatConfig, OpenAICompatGenerator
    from tether.testing.fake_openai import FakeOpenAI

    def model(messages) -> str:
        assert messages[0]["role"] == "system" and "Standalone question:" in messages[-1]["content"]
        return "How many days of bereavement leave do employees get for other relatives?"

    hist = [HistoryTurn("How many days of bereavement leave for a parent?", answer="Five days [1].")]
    with FakeOpenAI(script=model) as fake:
        gen = OpenAICompatGenerator(OpenAICompatConfig(base_url=fake.base_url, model="fake"))
        assert rewrite_with_llm(gen.complete, hist, "And for other relatives?") == (
            "How many days of bereavement leave do employees get for other relatives?")
        assert len(fake.requests) == 1 and fake.requests[0]["body"]["temperature"] == 0.0
        fake.forced_status = 500
        assert rewrite_with_llm(gen.complete, hist, "And for other relatives?") is None


def test_metered_rewriter_records_each_call_even_a_failed_one():
    """The LLM rewriter's calls reach the trace (and so the usage ledger and budgets) as
    ``rewrite`` calls with tokens and cost; a call that raises is recorded as failed."""
    from tether.answer.rewrite import metered
    from tether.observe.trace import Trace
    from tether.settings.generate import ModelConfig

    trace = Trace("ask")
    cfg = ModelConfig(kind="openai", price_in_per_mtok=1_000_000.0, price_out_per_mtok=2_000_000.0)
    ok = metered(lambda messages: "one two three", trace, "m", cfg, words)
    assert ok([{"role": "user", "content": "a b"}]) == "one two three"

    def broken(messages):
        raise RuntimeError("down")

    bad = metered(broken, trace, "m", cfg, words)
    with pytest.raises(RuntimeError):
        bad([{"role": "user", "content": "a b c d"}])
    first, second = trace.calls
    assert (first.kind, first.input_tokens, first.output_tokens, first.ok) == ("rewrite", 2, 3, True)
    assert first.cost_usd == 2 * 1.0 + 3 * 2.0
    assert (second.input_tokens, second.output_tokens, second.ok) == (4, 0, False)
