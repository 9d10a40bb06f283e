"""The web UI end to end in Chromium: sign-in, upload, ask, citations, abstention, permissions."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import shot

SECRET_TITLE = "Project Nightingale salary bands"


def test_sign_in_rejects_a_bad_key(browser, live):
    server, _ = live
    ctx = browser.new_context(base_url=server.url)
    page = ctx.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/ui/sign-in$"))
    page.get_by_label("API key").fill("tth_wrong_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid or expired")
    ctx.close()


def test_upload_shows_progress_and_ingests(new_page, tmp_path):
    page = new_page("ana")
    page.get_by_role("link", name="Documents").click()
    doc = tmp_path / "canteen.md"
    doc.write_text("# Canteen hours\n\nThe canteen opens at 08:00 and closes at 15:30 on weekdays.\n", encoding="utf-8")
    page.get_by_label("File").set_input_files(str(doc))
    page.get_by_label("Collection").fill("facilities")
    page.get_by_label("Who may read it").fill("group:hr")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_test_id("upload-status")).to_contain_text("Ingested canteen.md", timeout=60_000)
    expect(page.locator("#progress")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("documents")).to_contain_text("Canteen hours")
    shot(page, "documents-after-upload")


def test_ask_streams_and_citation_opens_highlighted_span(new_page):
    page = new_page("eve")
    box = page.get_by_label("Question")
    box.fill("How many days of annual leave do employees accrue?")
    box.press("Enter")
    answer = page.get_by_test_id("answer")
    expect(answer).to_contain_text("27", timeout=60_000)
    chip = page.get_by_test_id("citation").first
    shot(page, "chat-answer")
    chip.click()
    expect(page).to_have_url(re.compile(r"/ui/documents/\d+\?start=\d+&end=\d+#cite$"))
    mark = page.locator("mark#cite")
    expect(mark).to_contain_text("27 days of annual leave")
    expect(mark).to_be_in_viewport()
    shot(page, "document-cited-span")


def test_user_without_access_sees_abstention_and_never_the_title(new_page, live):
    server, keys = live
    import httpx

    docs = httpx.get(server.url + "/v1/documents", headers={"X-API-Key": keys["ana"]}).json()["documents"]
    secret_id = next(d["id"] for d in docs if d["title"] == SECRET_TITLE)
    page = new_page("eve")
    box = page.get_by_label("Question")
    box.fill("What is the salary band for a senior engineer in Project Nightingale?")
    box.press("Enter")
    expect(page.get_by_test_id("abstained")).to_contain_text("Not found in your documents", timeout=60_000)
    page.get_by_test_id("ask-human").click()
    expect(page.get_by_test_id("abstained")).to_contain_text("Sent to a reviewer")
    shot(page, "chat-abstained")
    answer_area = page.get_by_test_id("log").inner_text()
    assert "91,000" not in answer_area and SECRET_TITLE not in page.content().replace(
        "What is the salary band for a senior engineer in Project Nightingale?", "")
    page.goto("/ui/documents")
    expect(page.get_by_test_id("documents")).to_contain_text("Annual leave policy")
    assert SECRET_TITLE not in page.content()
    page.goto(f"/ui/documents/{secret_id}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert SECRET_TITLE not in page.content() and "salary" not in page.content().lower()


def test_owner_edits_readers_from_the_document_page(new_page, live):
    server, keys = live
    page = new_page("root")
    page.goto("/ui/documents")
    expect(page.get_by_test_id("documents")).to_contain_text(SECRET_TITLE)  # admins manage every document
    page.get_by_role("link", name=SECRET_TITLE).click()
    expect(page.get_by_test_id("doc-title")).to_have_text(SECRET_TITLE)
    page.get_by_label("Readers").fill("group:hr, user:eve")
    page.get_by_role("button", name="Save readers").click()
    expect(page.get_by_test_id("manage-status")).to_contain_text("Saving readers: metadata", timeout=60_000)
    eve = new_page("eve")
    eve.goto("/ui/documents")
    expect(eve.get_by_test_id("documents")).to_contain_text(SECRET_TITLE)


def test_answer_a_review_item():
    pytest.skip("no review queue UI yet: 'ask a human' records review_requests; answering belongs to the review issue")
