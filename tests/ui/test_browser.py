"""The web UI end to end in Chromium: sign-in, upload, ask, citations, abstention, permissions."""

from __future__ import annotations

import re

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


def _user(live, name: str = "rita", role: str = "reviewer") -> None:
    """A user in no group with an API key, added through the admin API; ``new_page`` can use it."""
    import httpx

    server, keys = live
    if name in keys:
        return
    admin = {"X-API-Key": keys["root"]}
    assert httpx.post(server.url + "/v1/users", json={"name": name, "role": role}, headers=admin).status_code == 201
    keys[name] = httpx.post(server.url + "/v1/api-keys", json={"user": name}, headers=admin).json()["key"]


def test_answer_a_review_item(new_page, live):
    _user(live)
    _user(live, "finn", "member")  # may not read the Nightingale bands (eve may, once a test above shares them)
    question = "What is the salary band for a senior engineer in Project Nightingale?"
    finn = new_page("finn")
    expect(finn.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews")).to_have_count(0)
    box = finn.get_by_label("Question")
    box.fill(question)
    box.press("Enter")
    expect(finn.get_by_test_id("abstained")).to_contain_text("Not found in your documents", timeout=60_000)
    finn.get_by_test_id("ask-human").click()
    expect(finn.get_by_test_id("abstained")).to_contain_text("Sent to a reviewer")

    rita = new_page("rita")
    rita.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews").click()
    expect(rita).to_have_url(re.compile(r"/ui/reviews$"))
    item = rita.get_by_test_id("review-item").filter(has_text=question).filter(has_text="asked by finn")
    expect(item).to_have_count(1)
    item.get_by_role("button", name="Claim").click()
    expect(item.get_by_test_id("review-status")).to_have_text("claimed")
    expect(item).to_contain_text("claimed by rita")
    item.get_by_label("Your answer").fill("Salary bands are confidential; ask HR (hr@corvane.example) directly.")
    item.get_by_role("button", name="Send answer").click()
    expect(item.get_by_test_id("review-status")).to_have_text("answered")
    expect(item.get_by_test_id("reviewed-answer")).to_contain_text("Salary bands are confidential")
    assert "91,000" not in rita.content() and SECRET_TITLE not in rita.content()
    shot(rita, "review-queue-answered")

    finn.get_by_role("navigation", name="Main").get_by_role("link", name="My questions").click()
    mine = finn.get_by_test_id("my-question").filter(has_text=question)
    expect(mine.get_by_test_id("my-question-status")).to_have_text("Answered")
    expect(mine.get_by_test_id("reviewed-answer")).to_contain_text("Salary bands are confidential; ask HR")
    shot(finn, "my-questions-answered")


def test_thumbs_down_sends_the_answer_to_the_review_queue(new_page, live):
    _user(live)
    eve = new_page("eve")
    box = eve.get_by_label("Question")
    box.fill("How many days of annual leave do employees accrue?")
    box.press("Enter")
    expect(eve.get_by_test_id("answer")).to_contain_text("27", timeout=60_000)
    rate = eve.get_by_role("group", name="Rate this answer")
    rate.get_by_label("Comment on this answer (optional)").fill("I was told it is 30 days now")
    rate.get_by_role("button", name="Not helpful").click()
    expect(rate.get_by_test_id("feedback-status")).to_contain_text("Sent to a reviewer", timeout=10_000)
    expect(rate.get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "true")
    shot(eve, "chat-thumbs-down")

    rita = new_page("rita")
    rita.goto("/ui/reviews?status=open&source=feedback")
    item = rita.get_by_test_id("review-item").filter(has_text="How many days of annual leave do employees accrue?")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("thumbs down")
    expect(item).to_contain_text("I was told it is 30 days now")
    expect(item.get_by_test_id("evidence").first).to_contain_text("Annual leave policy")
