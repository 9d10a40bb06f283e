"""Traces in the browser: a question asked in the chat shows up under Traces, and its page draws
the span tree as a waterfall with the grounding verdicts; admins get the monitor charts."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from .conftest import shot


def test_a_question_leaves_a_trace_with_a_waterfall(new_page, live):
    server, keys = live
    page = new_page("eve")
    box = page.get_by_label("Question")
    box.fill("How many days of annual leave do employees accrue?")
    box.press("Enter")
    expect(page.get_by_test_id("answer")).to_contain_text("27", timeout=60_000)
    # the same question over the API (not streamed: its trace keeps per-sentence verdicts)
    r = httpx.post(f"{server.url}/v1/ask", json={"question": "How much unused leave may be carried over?"},
                   headers={"Authorization": f"Bearer {keys['eve']}"}, timeout=60)
    assert r.status_code == 200 and r.json()["trace_id"]
    expect(page.get_by_role("link", name="Monitor")).to_have_count(0)  # admins only
    page.get_by_role("link", name="Traces").click()
    rows = page.get_by_test_id("traces").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("carried over")
    rows.first.get_by_role("link").last.click()
    expect(page).to_have_url(re.compile(r"/ui/traces/" + r.json()["trace_id"] + "$"))
    expect(page).to_have_url(re.compile(r"/ui/traces/[0-9a-f]{32}$"))
    expect(page.get_by_test_id("trace-status")).to_have_text("answered")
    wf = page.get_by_test_id("waterfall")
    for stage in ("input_guard", "retrieve", "retrieve.keyword", "retrieve.dense", "pack", "ground",
                  "model.call"):
        expect(wf.locator(f'[data-span="{stage}"]').first).to_be_visible()
    bar = wf.locator('[data-span="retrieve.keyword"] .wf-bar')
    box_ = bar.bounding_box()
    assert box_ is not None and box_["width"] >= 2
    # the keyword search starts after the input guard ends: bars are placed by time
    guard = wf.locator('[data-span="input_guard"] .wf-bar').bounding_box()
    assert guard is not None and box_["x"] >= guard["x"]
    expect(page.get_by_test_id("verdicts")).to_contain_text("supported")
    expect(page.get_by_test_id("calls")).to_contain_text("generate")
    expect(page.locator("body")).not_to_contain_text("admin.permission_filtered")
    shot(page, "trace-waterfall")


def test_admin_monitor_charts(new_page):
    page = new_page("root")
    page.get_by_role("link", name="Monitor").click()
    expect(page.get_by_test_id("figures")).to_contain_text("latency_p95_ms")
    expect(page.get_by_test_id("chart")).to_have_count(4)
    expect(page.locator("svg.chart").first).to_be_visible()
    shot(page, "monitor")
