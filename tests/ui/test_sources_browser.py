"""Official and unofficial sources in the chat UI (issue 17: answers prefer authoritative sources
and label the others), in Chromium against a live server.

A public note on booking leave sits in ``facilities``, where members may write; the leave policy
is in ``handbook``. While no collection is authoritative nothing is labelled. Once ``handbook``
is, an answer quoting the note while the official policy was among its sources labels the note's
citation "not an official source" (its chip too), streamed and again when the stored thread is
reopened; an answer citing the policy marks it "official". The API says the same as the page.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tether.types import Principal

from .conftest import shot

NOTE = "# Leave tips\n\nAnnual leave is booked in the HR portal, and the line manager approves it within five days.\n"
BOOKED = "Where is annual leave booked?"


@pytest.fixture(scope="module")
def with_note(live, tmp_path_factory):
    server, keys = live
    path = tmp_path_factory.mktemp("note") / "leave-tips.md"
    path.write_text(NOTE, encoding="utf-8")
    batch = server.engine.enqueue_ingest([path], collection="facilities", acl=["public"], owner="eve")
    server.engine.work(batch_id=batch.batch_id)
    return server, keys


def _ask(page, question: str):
    box = page.get_by_label("Question")
    box.fill(question)
    box.press("Enter")


def test_unofficial_sources_are_labelled_once_an_official_one_exists(with_note, new_page):
    server, keys = with_note
    page = new_page("ana")  # before any collection is authoritative: no labels
    _ask(page, BOOKED)
    expect(page.get_by_test_id("answer")).to_contain_text("HR portal", timeout=60_000)
    expect(page.get_by_role("list", name="Sources")).to_contain_text("Leave tips")
    expect(page.get_by_test_id("unofficial")).to_have_count(0)
    expect(page.get_by_test_id("official")).to_have_count(0)

    server.engine.documents.set_policy(Principal.system(), "handbook", authoritative=True)
    api = httpx.post(server.url + "/v1/ask", headers={"Authorization": f"Bearer {keys['eve']}"},
                     json={"question": BOOKED}, timeout=120).json()
    assert [(c["title"], c["authoritative"]) for c in api["answer"]["citations"]] == [("Leave tips", False)]
    assert {s["title"]: s["authoritative"] for s in api["sources"]}["Annual leave policy"] is True

    page = new_page("eve")
    _ask(page, BOOKED)
    expect(page.get_by_test_id("answer")).to_contain_text("HR portal", timeout=60_000)
    note = page.get_by_role("list", name="Sources").get_by_role("listitem").filter(has_text="Leave tips")
    expect(note.get_by_test_id("unofficial")).to_have_text("not an official source")
    expect(note.get_by_test_id("official")).to_have_count(0)
    expect(page.locator("a.chip.unofficial")).to_have_attribute("title", "Leave tips (not an official source)")
    shot(page, "chat-unofficial-source")
    expect(page).to_have_url(re.compile(r"/ui/chat\?c="), timeout=30_000)
    page.reload()  # the stored thread keeps the label
    expect(page.get_by_test_id("unofficial")).to_have_text("not an official source")

    _ask(page, "How many days of annual leave do employees accrue?")
    turn = page.get_by_test_id("turn").last
    expect(turn.get_by_test_id("answer")).to_contain_text("27", timeout=60_000)
    leave = turn.get_by_role("list", name="Sources").get_by_role("listitem").filter(has_text="Annual leave policy")
    expect(leave.get_by_test_id("official")).to_have_text("official")
    expect(leave.get_by_test_id("unofficial")).to_have_count(0)
