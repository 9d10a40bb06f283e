"""Span resolution to document offsets and per-sentence verdicts."""

from tether.ground import GroundConfig, ground_answer

from .helpers import DOC1, DOC2, passages


def test_citation_resolves_to_exact_document_span(embedder):
    ps = passages()
    g = ground_answer("Acme Corp reported revenue of $3.5 million in 2023 [1].", ps, embedder)
    (s,) = g.sentences
    assert s.verdict == "supported", s.reasons
    (c,) = s.citations
    assert (c.number, c.document_id, c.title) == (1, 1, "Acme annual report")
    assert DOC1[c.doc_start : c.doc_end] == c.quote == "Acme Corp reported revenue of $3.5 million in 2023."
    p = ps[0]
    assert p.text[c.doc_start - p.char_start : c.doc_end - p.char_start] == c.quote


def test_claim_joining_two_sentences_gets_both_spans(embedder):
    g = ground_answer("The Oberoi Group has its head office in Delhi and runs 30 hotels [2].", passages(), embedder)
    (s,) = g.sentences
    assert s.verdict == "supported", s.reasons
    assert [DOC2[c.doc_start : c.doc_end] for c in s.citations] == [
        "The Oberoi Group is a hotel company with its head office in Delhi.",
        "It runs 30 hotels.",
    ]


def test_hard_checks_reject_with_reasons(embedder):
    text = (
        "Acme Corp reported revenue of $4.2 million in 2023 [1]. "
        "The company paid a dividend [1]. "
        "Its chief executive is John Smith [1]. "
        "The Oberoi Group has its head office in Mumbai [2]."
    )
    got = {s.index: (s.verdict, s.reasons) for s in ground_answer(text, passages(), embedder).sentences}
    assert got[0][0] == "unsupported" and "number_missing:4.2" in got[0][1]
    assert got[1][0] == "unsupported" and "negation_dropped" in got[1][1]
    assert got[2][0] == "unsupported" and "name_missing:John Smith" in got[2][1]
    assert got[3][0] == "unsupported" and "name_missing:Mumbai" in got[3][1]


def test_foreign_and_missing_citations_are_uncited(embedder):
    text = "Acme Corp reported revenue of $3.5 million [7]. Acme Corp reported revenue [1][9]. Delhi is big."
    g = ground_answer(text, passages(), embedder)
    assert [s.verdict for s in g.sentences] == ["uncited", "uncited", "uncited"]
    assert g.sentences[0].reasons == ("invalid_citation:7",)
    assert g.sentences[0].invalid_numbers == (7,) and not g.sentences[0].citations
    assert g.sentences[2].reasons == ("no_citation",)
    assert g.citations == []


def test_config_switches_checks_off(embedder):
    cfg = GroundConfig(check_numbers=False, min_coverage=0.0, support_threshold=0.0)
    g = ground_answer("Acme Corp reported revenue of $4.2 million in 2023 [1].", passages(), embedder, cfg)
    assert g.sentences[0].verdict == "supported"
