"""The extractive default: verbatim quotes with citations, abstains when nothing matches."""

from tether.generate import ExtractiveGenerator, GenerationRequest, Generator
from tether.ground import answer, ground_answer
from tether.types import Passage

PS = [
    Passage(1, 1, 0, "The Eiffel Tower is in Paris. It was completed in 1889. Paris hosts many museums.", 0, 83),
    Passage(2, 2, 0, "Bananas are rich in potassium. They grow in tropical regions.", 0, 61),
]


def test_quotes_best_sentences_verbatim_with_citations(embedder):
    gen = ExtractiveGenerator(embedder)
    assert isinstance(gen, Generator)
    out = gen.generate(GenerationRequest("When was the Eiffel Tower completed?", PS))
    assert "It was completed in 1889. [1]" in out.text or "The Eiffel Tower is in Paris. [1]" in out.text
    assert "Bananas" not in out.text
    g = ground_answer(out.text, PS, embedder)
    assert g.sentences and all(s.verdict == "supported" for s in g.sentences)
    for s in g.sentences:
        for c in s.citations:
            assert c.quote in PS[c.number - 1].text
    assert "".join(gen.stream(GenerationRequest("When was the Eiffel Tower completed?", PS))) == out.text


def test_abstains_when_nothing_matches(embedder):
    gen = ExtractiveGenerator(embedder)
    assert gen.generate(GenerationRequest("How do I reset my VPN password?", PS)).text == ""
    a = answer("How do I reset my VPN password?", PS, gen, embedder)
    assert a.abstained and not a.escalate


def test_source_reference_marks_are_not_mistaken_for_citations(embedder):
    ps = [Passage(1, 1, 0, "Potassium is an essential mineral [12]. It helps muscles.", 0, 56)]
    out = ExtractiveGenerator(embedder).generate(GenerationRequest("Is potassium an essential mineral?", ps))
    assert "[12]" not in out.text and out.text.startswith("Potassium is an essential mineral. [1]")
