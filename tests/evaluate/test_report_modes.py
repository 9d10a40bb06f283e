"""Research vs plain mode side by side in the eval report (evaluate/report.py ``_modes_section``)."""

from test_report import _run

from tether.evaluate.report import render


def _with_mode(run: dict, mode: str) -> dict:
    return {**run, "config": {**run.get("config", {}), "mode": mode}}


def test_side_by_side_when_both_modes_are_given() -> None:
    plain = _with_mode(_run("run-p", "EUR 40 a day.| Or more.", "", None), "plain")
    research = _with_mode(_run("run-r", "It is EUR 40 a day.| Or more.", "", None), "research")
    html = render([plain, research])
    assert "<h2>Research vs plain mode</h2>" in html
    assert "plain (run-p)" in html and "research (run-r)" in html
    assert "run-r (research)" in html  # charts label the research run
    section = html.split("<h2>Research vs plain mode</h2>")[1].split("<h2>")[0]
    assert "key_fact_recall" in section and "kind=restricted" in section


def test_no_section_with_one_mode() -> None:
    a = _with_mode(_run("run-a", "EUR 40 a day.| Or more.", "", None), "plain")
    b = _run("run-b", "EUR 40 a day.| Or more.", "", None)  # no mode recorded: plain
    assert "Research vs plain mode" not in render([a, b])
