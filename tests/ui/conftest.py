"""Browser tests: Playwright (sync API) driving Debian's Chromium against a live server.

Needs the ``chromium`` apt package (/usr/bin/chromium); never ``playwright install``.
Screenshots go to test-artifacts/ui/ (gitignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from api.server import live_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def live(pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory):
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("ui")) as pair:
        yield pair


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, live):
    """``new_page(user)``: a fresh browser context signed in as ``user`` through the sign-in form."""
    server, keys = live
    contexts = []

    def make(user: str):
        ctx = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 820})
        ctx.set_default_timeout(30_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto("/ui/sign-in")
        page.get_by_label("API key").fill(keys[user])
        page.get_by_label("API key").press("Enter")
        page.wait_for_url("**/ui/chat")
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
