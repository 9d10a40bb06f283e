"""The website connector against a real HTTP server on 127.0.0.1 (ETag, robots.txt, limits)."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from contract import ConnectorContract
from helpers import SYSTEM, docs, sync

from tether.connect.base import ConnectorContext
from tether.connect.web import WebConfig, WebConnector


def _page(title: str, text: str, links: str = "") -> str:
    return (f"<html><head><title>{title}</title></head><body><nav><a href='/'>Home</a> | Menu of the site</nav>"
            f"<article><h1>{title}</h1><p>{text}</p>{links}</article>"
            "<footer>Copyright 2026 Example Ltd. All rights reserved.</footer></body></html>")


class Site:
    """A tiny website: pages by path, ETags, robots.txt, and a log of what was requested."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {
            "/": _page("Home", "Welcome to the handbook.",
                       "<a href='/a.html'>A</a> <a href='/b.html'>B</a> <a href='/private/secret.html'>S</a>"
                       " <a href='http://elsewhere.invalid/x.html'>out</a> <a href='/deep1.html'>deep</a>"),
            "/a.html": _page("Alpha", "alpha: the office opens at nine."),
            "/b.html": _page("Beta", "beta: the canteen closes at two."),
            "/private/secret.html": _page("Secret", "robots forbid this page."),
            "/deep1.html": _page("Deep 1", "one level down.", "<a href='/deep2.html'>2</a>"),
            "/deep2.html": _page("Deep 2", "two levels down.", "<a href='/deep3.html'>3</a>"),
            "/deep3.html": _page("Deep 3", "three levels down: past the depth limit."),
        }
        self.log: list[tuple[str, int]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                if self.path == "/robots.txt":
                    body, status, etag = b"User-agent: *\nDisallow: /private/\n", 200, None
                elif self.path in site.pages:
                    body = site.pages[self.path].encode()
                    etag = '"' + hashlib.md5(body).hexdigest() + '"'
                    status = 304 if self.headers.get("If-None-Match") == etag else 200
                else:
                    body, status, etag = b"not found", 404, None
                site.log.append((self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


def _web(url: str, **kw) -> WebConnector:
    return WebConnector.create(WebConfig(urls=[url + "/"], acl=["public"], **kw), ConnectorContext({}, "/tmp", 10**6))


class WebSource:
    def __init__(self, site: Site) -> None:
        self.site = site

    def connector(self) -> WebConnector:
        return _web(self.site.url)

    def change(self, name: str, text: str) -> None:
        self.site.pages[f"/{name.split('.')[0]}.html"] = _page(name, text)

    def delete(self, name: str) -> None:
        del self.site.pages[f"/{name.split('.')[0]}.html"]

    def item_id(self, name: str) -> str:
        return f"{self.site.url}/{name.split('.')[0]}.html"


class TestWebContract(ConnectorContract):
    @pytest.fixture
    def source(self, site: Site) -> WebSource:
        return WebSource(site)

    @pytest.fixture
    def unreachable(self) -> WebConnector:
        return _web("http://127.0.0.1:9")


def test_same_host_robots_depth_and_page_limits(site: Site) -> None:
    ids = {r.external_id.removeprefix(site.url) for r in _web(site.url).list(None).items}
    assert ids == {"/", "/a.html", "/b.html", "/deep1.html", "/deep2.html"}  # no /private/, no deep3, no other host
    assert not any(p.startswith("/private/") for p, _ in site.log)
    assert len(_web(site.url, max_pages=2).list(None).items) == 2


def test_boilerplate_is_removed(site: Site) -> None:
    connector = _web(site.url)
    refs = {r.external_id: r for r in connector.list(None).items}
    item = connector.fetch(refs[site.url + "/a.html"])
    assert b"alpha: the office opens at nine" in item.data and item.title == "Alpha"
    assert b"Copyright" not in item.data and b"Menu of the site" not in item.data


def test_conditional_requests_and_sync_through_the_engine(engine, site: Site) -> None:
    engine.connectors.add(SYSTEM, "handbook", "web", collection="web",
                          config={"urls": [site.url + "/"], "acl": ["public"]})
    assert sync(engine, "handbook")["added"] == 5
    site.log.clear()
    site.pages["/a.html"] = _page("Alpha", "alpha: the office now opens at eight.")
    del site.pages["/b.html"]
    run = sync(engine, "handbook")
    assert (run["updated"], run["deleted"], run["unchanged"]) == (1, 1, 3)
    statuses = dict(site.log)
    assert statuses["/deep1.html"] == 304 and statuses["/a.html"] == 200  # unchanged pages: 304, not re-read
    held = {u.removeprefix("connector://handbook/"): d for u, d in docs(engine, "web").items()}
    assert site.url + "/b.html" not in held and len(held) == 4
    assert held[site.url + "/a.html"]["version"] == 2


def test_a_page_without_text_fails_alone_with_a_typed_error(engine, site: Site) -> None:
    site.pages["/a.html"] = "<html><head><script>var x = 1;</script></head><body><nav>Home</nav></body></html>"
    engine.connectors.add(SYSTEM, "handbook", "web", config={"urls": [site.url + "/"], "acl": ["public"]})
    run = sync(engine, "handbook")
    assert (run["added"], run["failed"]) == (4, 1)
    [failed] = engine.connectors.show(SYSTEM, "handbook")["failed_items"]
    assert failed["external_id"] == site.url + "/a.html" and failed["error"]["code"] == "empty_document"


def test_a_page_that_turns_malformed_fails_alone_and_keeps_its_last_version(engine, site: Site) -> None:
    engine.connectors.add(SYSTEM, "handbook", "web", collection="web",
                          config={"urls": [site.url + "/"], "acl": ["public"]})
    assert sync(engine, "handbook")["added"] == 5
    before = docs(engine, "web")
    site.pages["/a.html"] = "<html><body><nav>Home</nav><div><table><tr><td></div>"  # broken, no text left
    run = sync(engine, "handbook")
    assert (run["status"], run["failed"], run["unchanged"], run["deleted"]) == ("done", 1, 4, 0)
    shown = engine.connectors.show(SYSTEM, "handbook")
    assert shown["status"] == "degraded" and shown["last_error"]["code"] == "empty_document"
    assert docs(engine, "web") == before  # the page's last good version stays, nothing half-written
