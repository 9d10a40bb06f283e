"""The deterministic follow-up rewriter: pronouns and ellipsis carry the previous topic; a
self-contained question or a topic switch is left alone; a rewrite that would not change the BM25
terms is skipped; a follow-up's own number or entity replaces the previous one."""

from __future__ import annotations

import re

import pytest

from tether.retrieve.analyzer import analyze
from tether.text.followups import is_follow_up, leading_pronoun, rewrite

PREV = ["How many days of bereavement leave do employees get for a parent?"]


@pytest.mark.parametrize("q", ["And for other relatives?", "What about contractors?", "Contractors?",
                               "How about part-timers?"])
def test_ellipsis_carries_the_topic(q):
    r = rewrite(q, PREV)
    assert r.rewritten and r.reason == "framed"
    assert {"bereavement", "leave"} <= {w.casefold() for w in r.carried}
    # the fragment fills the previous question's frame: a question that reads as asked on its own
    assert r.standalone.startswith("How many days of bereavement leave do employees get for ")
    fragment = q.rstrip("?").split(" ", 2)[-1] if q.count(" ") >= 2 else q.rstrip("?").split(" ")[-1]
    assert r.standalone.endswith(fragment + "?") and "(" not in r.standalone
    assert set(analyze(fragment)) < set(analyze(r.standalone))


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
    assert r.standalone == "What was the travel budget of the Munich office in 2024?"


@pytest.mark.parametrize(("prev", "q", "expected"), [
    # a noun phrase sharing the previous one's head replaces it
    ("How long is sabbatical leave for staff?", "And parental leave?", "How long is parental leave for staff?"),
    # a phrase opening with the same slot word replaces that phrase (new words are not outweighed)
    ("What is the daily allowance when working on a client site?", "And when working from home?",
     "What is the daily allowance when working from home?"),
    ("Which laptop can I order for a new engineer?", "And for a designer?", "Which laptop can I order for a designer?"),
    # no such phrase: the slot is appended
    ("What is the monthly phone allowance?", "And for managers?", "What is the monthly phone allowance for managers?"),
    # a bare noun phrase replaces the object of the last prepositional phrase
    ("How many days of leave do employees get for a wedding?", "What about a house move?",
     "How many days of leave do employees get for a house move?"),
])
def test_fragments_fill_the_slot_of_the_previous_question(prev, q, expected):
    r = rewrite(q, [prev])
    assert r.rewritten and r.reason == "framed" and r.standalone == expected


PRONOUN_CASES = [
    ("How many vacation days can I carry over?", "When do they expire?", "When do vacation days expire?"),
    ("What is the travel insurance policy for contractors?", "Who pays for it?",
     "Who pays for the travel insurance policy for contractors?"),
    # a possessive: the topic goes before its noun (the verb of "When does X renew?" is dropped),
    # its prepositional tail after it
    ("When does the Acme Freight contract renew?", "What is its notice period?",
     "What is the Acme Freight contract notice period?"),
    ("What is the Orion Data NDA about?", "How long do its obligations last?",
     "How long do the Orion Data NDA obligations last?"),
    ("How does the backup job run for the billing cluster?", "What is its schedule?",
     "What is the backup job schedule for the billing cluster?"),
]


@pytest.mark.parametrize(("prev", "q", "expected"), PRONOUN_CASES)
def test_pronouns_are_replaced_by_the_previous_topic_phrase(prev, q, expected):
    r = rewrite(q, [prev])
    assert r.rewritten and r.reason == "resolved" and r.standalone == expected


@pytest.mark.parametrize(("prev", "q"), [(p, q) for p, q, _ in PRONOUN_CASES]
                         + [(PREV[0], q) for q in ("And for other relatives?", "What about contractors?",
                                                   "Is it paid?", "And how many are paid?")]
                         + [("What is CANARY-X-1?", "What about the exact figures?"),
                            ("And what about CANARY-X-1?", "What about the exact figures?")])
def test_a_standalone_question_holds_only_words_the_asker_typed(prev, q):
    r = rewrite(q, [prev])
    typed = {w.casefold() for w in re.findall(r"[\w-]+", prev + " " + q)}
    assert r.rewritten and {w.casefold() for w in re.findall(r"[\w-]+", r.standalone)} <= typed


def test_a_full_question_after_a_connector_is_self_contained():
    q = "And what is the minimum password length for company accounts?"
    r = rewrite(q, PREV)
    assert not r.rewritten and r.reason == "self_contained" and r.standalone == q
    # a short one with its own verb still leans on the previous question: topic terms are carried
    r = rewrite("And how many are paid?", PREV)
    assert r.rewritten and r.reason == "carried" and "bereavement" in r.standalone


def test_chains_keep_the_topic_through_several_follow_ups():
    second = rewrite("And for other relatives?", PREV).standalone
    third = rewrite("What about cousins?", PREV + [second])
    assert third.rewritten and "bereavement" in third.standalone and "cousins" in third.standalone


@pytest.mark.parametrize(("prev", "q", "expected"), [
    # a pronoun before any noun of the question points outside it, however long the question is
    ("Which law governs the Brightwater Health agreement, and when must notice be given?",
     "Does it get anything beyond the standard Enterprise SLA?",
     "Does the Brightwater Health agreement get anything beyond the standard Enterprise SLA?"),
    # "they" is the organisation the previous question named
    ("What is the liability cap in the Halden Logistics contract?",
     "If they see 98.5% availability in a month, what credit do they get?",
     "If Halden Logistics see 98.5% availability in a month, what credit do they get?"),
    ("What is the liability cap in the Halden Logistics contract?", "Is it higher for data protection breaches?",
     "Is the liability cap in the Halden Logistics contract higher for data protection breaches?"),
])
def test_a_leading_pronoun_is_resolved_in_a_long_question(prev, q, expected):
    assert leading_pronoun(q)
    r = rewrite(q, [prev])
    assert r.rewritten and r.reason == "resolved" and r.standalone == expected


@pytest.mark.parametrize("q", ["Is it true that employees accrue 27 days of annual leave per year and more?",
                               "Is it possible to carry over unused leave days into the next calendar year?",
                               "How many days of annual leave does it give employees in their first year?"])
def test_an_empty_it_or_a_pronoun_after_the_questions_own_noun_is_not_leading(q):
    assert not leading_pronoun(q)
