"""The embedded research planner (agents/plan.py) on its own: decomposition, bridge entities,
second-hop queries and the pooling of step results (no database, no model)."""

from __future__ import annotations

from tether.agents.plan import bridge_entities, decompose, hop_query
from tether.answer.research import pooled
from tether.types import Passage


def _p(chunk: int, text: str) -> Passage:
    return Passage(chunk_id=chunk, document_id=chunk, ordinal=0, text=text, char_start=0, char_end=len(text))


def test_a_one_part_question_is_one_step() -> None:
    steps = decompose("How many days of annual leave do employees get?")
    assert [s.kind for s in steps] == ["question"]


def test_a_multi_part_question_gets_a_step_per_part() -> None:
    steps = decompose("How long is the probation period, and when does my manager hold the first probation review?")
    assert [s.kind for s in steps] == ["question", "part", "part"]
    assert steps[1].query == "How long is the probation period?"
    assert steps[2].query.startswith("When does my manager hold the first probation review?")


def test_a_part_that_leans_on_the_question_gets_its_subject() -> None:
    steps = decompose("For how many days can I self-certify sickness, how many sick days are paid at full salary, "
                      "and what is paid after that?")
    last = steps[-1].query
    assert last.startswith("What is paid after that?") and "(" in last  # the first part's terms added
    assert "sickness" in last.lower() or "self-certify" in last.lower()


def test_bridge_entities_are_named_next_to_the_question_terms() -> None:
    directory = _p(1, "people[8].name: Keiko Vantress\npeople[8].title: VP Engineering\n"
                      "people[8].office: Utrecht\n\npeople[9].name: Chloe Dubois\npeople[9].title: SRE\n"
                      "people[9].office: Dublin")
    noise = _p(2, "The canteen in Lisbon serves lunch. Maren Okafor opened it.")
    found = bridge_entities("Who is the office manager of the office where the VP Engineering works?",
                            [directory, noise], limit=2)
    names = [e for e, _s in found]
    assert names == ["Keiko Vantress", "Utrecht"]
    assert "VP Engineering" in found[1][1]  # the bridge sentence comes with it
    assert bridge_entities("Who leads flow-api?", [directory], limit=0) == []


def test_identifiers_bridge_but_ordinary_hyphenated_words_do_not() -> None:
    p = _p(1, "- flow-ratelimit: per-key API rate limiting, owned by Core Platform, Tier 0.\n"
              "- Maren Okafor is the co-founder of the rate limiting team.")
    names = [e for e, _s in bridge_entities("What tier is the API rate limiting service?", [p], limit=5)]
    assert "flow-ratelimit" in names and "co-founder" not in names


def test_hop_query_keeps_what_the_bridge_does_not_say() -> None:
    q = "Who is the office manager of the office where the VP Engineering works?"
    query = hop_query(q, "Utrecht", "people[8].title: VP Engineering people[8].office: Utrecht")
    assert query.startswith("Utrecht") and "manager" in query and "VP" not in query


def test_pooled_takes_each_steps_best_first_without_repeats() -> None:
    a, b, c, d = (_p(i, f"text {i}") for i in range(1, 5))
    assert [p.chunk_id for p in pooled([[a, b, c], [d, a]])] == [1, 4, 2, 3]
    assert pooled([]) == []
