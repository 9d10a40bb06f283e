"""The deterministic follow-up rewriter: pronouns and ellipsis carry the previous topic; a
self-contained question or a topic switch is left alone; a rewrite that would not change the BM25
terms is skipped; a follow-up's own number or entity replaces the previous one."""

from __future__ import annotations

import pytest

from tether.retrieve.analyzer import analyze
from tether.text.followups import is_follow_up, rewrite

PREV = ["How many days of bereavement leave do employees get for a parent?"]


@pytest.mark.parametrize("q", ["And for other relatives?", "What about contractors?", "Contractors?",
                               "How about part-timers?"])
def test_ellipsis_carries_the_topic(q):
    r = rewrite(q, PREV)
    assert r.rewritten and r.reason == "carried"
    assert {"bereavement", "leave"} <= {w.casefold() for w in r.carried}
    assert r.standalone.startswith(q.rstrip("?"))
    assert set(analyze(r.standalone)) > set(analyze(q))


@pytest.mark.parametrize("q", ["How many days is that?", "Is it paid?", "Does it apply to contractors?"])
def test_pronouns_carry_the_topic(q):
    r = rewrite(q, PREV)
    assert r.rewritten and "bereavement" in r.standalone


@pytest.mark.parametrize("q", ["What is the expense limit for hotel stays in London?",
                               "Which laptop models can new engineers order from the IT catalogue?",
                               "Is it true that employees accrue 27 days of annual leave per year?"])
def test_self_contained_questions_and_topic_switches_are_left_alone(q):
    r = rewrite(q, PREV)
    assert not r.rewritten and r.reason == "self_contained" and r.standalone == q
    assert not is_follow_up(q)


def test_no_history_and_no_change():
    assert rewrite("And for other relatives?", []).reason == "no_history"
    # everything the previous question would add is already there: retrieval would not change
    r = rewrite("And bereavement leave days for employees with a parent?", PREV)
    assert not r.rewritten and r.reason in ("no_change", "self_contained")


def test_a_follow_ups_own_number_or_entity_replaces_the_previous_one():
    prev = ["What was the travel budget of the Berlin office in 2024?"]
    r = rewrite("And in 2025?", prev)
    assert "2025" in r.standalone and "2024" not in r.standalone and "Berlin" in r.standalone
    r = rewrite("What about Munich?", prev)
    assert "Munich" in r.standalone and "Berlin" not in r.standalone and "2024" in r.standalone


def test_chains_keep_the_topic_through_several_follow_ups():
    second = rewrite("And for other relatives?", PREV).standalone
    third = rewrite("What about cousins?", PREV + [second])
    assert third.rewritten and "bereavement" in third.standalone and "cousins" in third.standalone
