"""Conversations in the web UI, in Chromium: a three-turn thread with the rewritten follow-up
shown under it, reload and continue, rename and delete from the thread list, keyboard only."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from .conftest import shot


def _ask(page, question: str, n: int) -> None:
    box = page.get_by_label("Question")
    box.fill(question)
    box.press("Enter")
    turn = page.get_by_test_id("turn").nth(n - 1)
    expect(turn.get_by_test_id("answer").or_(turn.get_by_test_id("abstained"))).to_be_visible(timeout=60_000)
    expect(page.get_by_label("Question")).to_be_focused()


def _thread(page, title: str):
    return page.get_by_test_id("thread").filter(has=page.get_by_role("link", name=title, exact=True))


def test_three_turn_thread_then_reload_and_continue(new_page, live):
    server, keys = live
    page = new_page("eve")
    first = "How many days of annual leave do employees accrue?"
    _ask(page, first, 1)
    expect(page.get_by_test_id("turn").nth(0).get_by_test_id("answer")).to_contain_text("27")
    expect(page.get_by_test_id("turn").nth(0).get_by_test_id("standalone")).to_have_count(0)  # nothing to rewrite
    expect(page).to_have_url(re.compile(r"/ui/chat\?c=[0-9a-f-]{36}$"))
    cid = page.url.split("c=")[1]
    expect(_thread(page, first)).to_contain_text("1 turn")

    _ask(page, "And how many can be carried over?", 2)
    second = page.get_by_test_id("turn").nth(1)
    expect(second.get_by_test_id("standalone")).to_contain_text("Searched as: And how many can be carried over (")
    expect(second.get_by_test_id("standalone")).to_contain_text("annual leave")
    expect(second.get_by_test_id("answer")).to_contain_text("five days")

    _ask(page, "How far in advance must leave requests reach the line manager?", 3)
    expect(page.get_by_test_id("turn").nth(2).get_by_test_id("answer")).to_contain_text("two weeks")
    expect(_thread(page, first)).to_contain_text("3 turns")
    shot(page, "chat-thread-three-turns")

    page.reload()
    turns = page.get_by_test_id("turn")
    expect(turns).to_have_count(3)
    expect(turns.nth(0).get_by_test_id("question")).to_have_text(first)
    expect(turns.nth(1).get_by_test_id("standalone")).to_contain_text("annual leave")
    expect(turns.nth(1).get_by_test_id("answer")).to_contain_text("five days")
    expect(turns.nth(2).get_by_test_id("answer")).to_contain_text("two weeks")
    expect(page.get_by_test_id("thread-title")).to_have_text(first)
    expect(_thread(page, first).get_by_role("link")).to_have_attribute("aria-current", "true")

    _ask(page, "And how many days of annual leave do employees accrue?", 4)  # continues the same thread
    expect(page).to_have_url(re.compile(re.escape(cid) + "$"))
    expect(_thread(page, first)).to_contain_text("4 turns")
    stored = httpx.get(f"{server.url}/v1/conversations/{cid}", headers={"X-API-Key": keys["eve"]}).json()
    assert [t["question"] for t in stored["turns"]][1:3] == [
        "And how many can be carried over?", "How far in advance must leave requests reach the line manager?"]
    assert stored["turns"][1]["rewritten"] and len(stored["turns"]) == 4
    other = httpx.get(f"{server.url}/v1/conversations/{cid}", headers={"X-API-Key": keys["ana"]})
    assert other.status_code == 404  # another user's thread is not theirs to see


def test_new_conversation_starts_an_empty_thread(new_page):
    page = new_page("eve")
    _ask(page, "How many days of annual leave do employees accrue?", 1)
    page.get_by_role("button", name="New conversation").click()
    expect(page.get_by_test_id("turn")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/ui/chat$"))
    _ask(page, "And how many can be carried over?", 1)  # no history: nothing to carry, nothing rewritten
    expect(page.get_by_test_id("turn").nth(0).get_by_test_id("standalone")).to_have_count(0)


def test_rename_and_delete_by_keyboard(new_page, live):
    server, keys = live
    eve = {"X-API-Key": keys["eve"]}
    cid = httpx.post(f"{server.url}/v1/conversations", json={"title": "Leave questions"}, headers=eve).json()["id"]
    page = new_page("eve")
    thread = _thread(page, "Leave questions")
    expect(thread).to_be_visible()
    # Tab order: New conversation, then each thread's link, Rename and Delete
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.testid") == "new-thread":
            break
    expect(page.get_by_test_id("new-thread")).to_be_focused()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('[data-testid=thread]')?.dataset.id") == cid:
            break
    expect(thread.get_by_test_id("thread-open")).to_be_focused()
    page.keyboard.press("Tab")
    expect(thread.get_by_test_id("thread-rename")).to_be_focused()
    page.keyboard.press("Enter")
    title = page.get_by_label("New title")
    expect(title).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("Carry-over rules")
    page.keyboard.press("Enter")
    renamed = _thread(page, "Carry-over rules")
    expect(renamed).to_be_visible()
    expect(renamed.get_by_test_id("thread-rename")).to_be_focused()
    expect(page.get_by_test_id("threads-status")).to_contain_text("Renamed")
    page.reload()
    expect(_thread(page, "Carry-over rules")).to_be_visible()
    assert httpx.get(f"{server.url}/v1/conversations/{cid}", headers=eve).json()["title"] == "Carry-over rules"

    renamed = _thread(page, "Carry-over rules")
    renamed.get_by_test_id("thread-rename").focus()
    page.keyboard.press("Tab")
    expect(renamed.get_by_test_id("thread-delete")).to_be_focused()
    page.once("dialog", lambda d: d.accept())
    page.keyboard.press("Enter")
    expect(_thread(page, "Carry-over rules")).to_have_count(0)
    expect(page.get_by_test_id("threads-status")).to_contain_text("Deleted")
    expect(page.get_by_test_id("new-thread")).to_be_focused()
    shot(page, "chat-thread-deleted")
    page.reload()
    expect(_thread(page, "Carry-over rules")).to_have_count(0)
    assert httpx.get(f"{server.url}/v1/conversations/{cid}", headers=eve).status_code == 404


def test_deleting_the_open_thread_clears_the_chat(new_page):
    page = new_page("eve")
    question = "How far in advance must leave requests reach the line manager?"
    _ask(page, question, 1)
    thread = _thread(page, question)
    page.once("dialog", lambda d: d.accept())
    thread.get_by_test_id("thread-delete").click()
    expect(thread).to_have_count(0)
    expect(page.get_by_test_id("turn")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/ui/chat$"))


def test_a_thread_of_another_user_is_not_found(new_page, live):
    server, keys = live
    cid = httpx.post(f"{server.url}/v1/conversations", json={"title": "Ana's private thread"},
                     headers={"X-API-Key": keys["ana"]}).json()["id"]
    page = new_page("eve")
    page.goto(f"/ui/chat?c={cid}")
    alert = page.get_by_test_id("log").get_by_role("alert")
    expect(alert).to_have_text(f"no conversation '{cid}'")  # the same words as for a missing thread:
    assert "Ana's private thread" not in page.content()
    expect(page).to_have_url(re.compile(r"/ui/chat$"))
    missing = "00000000-0000-4000-8000-000000000000"
    page.goto(f"/ui/chat?c={missing}")
    expect(alert).to_have_text(f"no conversation '{missing}'")
