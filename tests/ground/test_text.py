"""Citation parsing and the features the support checks compare (sentence splitting itself is
tested in tests/text/test_sentences.py)."""

from tether.ground.analysis import names, names_missing, negation_mismatch, numbers, numbers_supported
from tether.ground.citations import parse_answer


def test_parse_citation_forms():
    text = (
        "## Answer\n\n- **Paris** is the capital [1].\n- It has 2,000,000 people [1][2]. "
        "Lyon is second [1, 3]. Berlin is big. [2-4]\n[5]\nThe [docs](http://x.y) say so[^6]."
    )
    got = [(p.claim, p.numbers) for p in parse_answer(text)]
    assert got == [
        ("Paris is the capital.", (1,)),
        ("It has 2,000,000 people.", (1, 2)),
        ("Lyon is second.", (1, 3)),
        ("Berlin is big.", (2, 3, 4, 5)),
        ("The docs say so.", (6,)),
    ]
    for p in parse_answer(text):
        assert text[p.start : p.end] == p.raw


def test_numbers_are_normalised():
    assert numbers("It cost $3.5 million, 2,000,000 people, 50% and 12 percent in 1991 [2].") == {
        "3.5", "2000000", "50%", "12%", "1991"
    }
    assert numbers_supported("three of 2,000,000 rose 50%", "3 of 2000000 rose 50 percent") == []
    assert numbers_supported("In 1992 it was 3.5", "In 1991 it was 3.5") == ["1992"]


def test_names():
    assert names("President Richard Nixon met the Bank of England in New York.") == [
        "President Richard Nixon", "Bank of England", "New York"
    ]
    assert names_missing("It is based in Mumbai.", "The head office is in Delhi.") == ["Mumbai"]
    assert names_missing("Played by Amy Johnson.", "Played by actress Amy Jo Johnson.") == []
    assert names_missing("Sung by Brooks Garth.", "Sung by Garth Brooks.") == ["Brooks Garth"]


def test_negation_scope():
    dropped = negation_mismatch("The company paid a dividend.", ["The company did not pay a dividend."])
    assert dropped == "negation_dropped"
    assert negation_mismatch("The company never paid a dividend.", ["The company paid a dividend."]) == "negation_added"
    assert negation_mismatch("It did not pay a dividend.", ["The company did not pay a dividend."]) is None
    assert negation_mismatch("Revenue grew.", ["Revenue grew. Costs did not fall."]) is None
