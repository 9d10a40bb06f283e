"""The website connector: a same-host crawl from seed URLs (or the pages of a sitemap).

Listing is the crawl: pages are fetched breadth-first up to ``max_depth`` links from a seed and
``max_pages`` in all, on the seeds' hosts only, obeying robots.txt. Requests are conditional
(``If-None-Match`` / ``If-Modified-Since`` from the cursor, which remembers each page's ETag,
Last-Modified, content hash and links), so an unchanged page costs a 304 and is not parsed
again. A page's version is the hash of its body. A page that answers 404/410 (or is no longer
linked) is gone; one that fails otherwise keeps its last version (no deletion on a bad day).
Main text is extracted with ``trafilatura`` (boilerplate removed), falling back to the page's
visible text; a page with no text fails as ``EmptyDocument``. Every page gets the fixed ``acl``.
"""

from __future__ import annotations

import hashlib
import json
import urllib.robotparser
from collections import deque
from typing import Any, ClassVar
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx

from tether.connect.base import CommonConfig, ConnectorContext, Item, ItemRef, Listing
from tether.errors import EmptyDocument, SourceUnreachable

_GONE = {404, 410}


class WebConfig(CommonConfig):
    urls: list[str] = []
    sitemap: str | None = None
    max_depth: int = 2
    max_pages: int = 500
    acl: list[str] = []
    user_agent: str = "TetherBot/0.1"
    timeout_s: float = 10.0


def _norm(url: str) -> str:
    return urldefrag(url)[0]


class WebConnector:
    kind: ClassVar[str] = "web"
    Config = WebConfig

    def __init__(self, config: WebConfig, max_bytes: int, client: httpx.Client | None = None) -> None:
        self.config = config
        self.max_bytes = max_bytes
        self.client = client or httpx.Client(timeout=config.timeout_s, follow_redirects=True,
                                             headers={"User-Agent": config.user_agent})
        self._bodies: dict[str, bytes] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}

    @classmethod
    def create(cls, config: WebConfig, ctx: ConnectorContext) -> WebConnector:
        return cls(config, ctx.max_bytes)

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        if base not in self._robots:
            rp = urllib.robotparser.RobotFileParser()
            try:
                r = self.client.get(base + "/robots.txt")
                rp.parse(r.text.splitlines() if r.status_code == 200 else [])
            except httpx.HTTPError:
                rp.parse([])
            self._robots[base] = rp
        return self._robots[base].can_fetch(self.config.user_agent, url)

    def _seeds(self) -> list[str]:
        seeds = [_norm(u) for u in self.config.urls]
        if self.config.sitemap:
            from bs4 import BeautifulSoup

            try:
                r = self.client.get(self.config.sitemap)
                r.raise_for_status()
            except httpx.HTTPError as exc:
                raise SourceUnreachable(f"sitemap {self.config.sitemap}: {type(exc).__name__}") from exc
            seeds += [_norm(loc.get_text(strip=True)) for loc in BeautifulSoup(r.content, "html.parser")
                      .find_all("loc")]
        return list(dict.fromkeys(seeds))

    def list(self, cursor: str | None) -> Listing:
        seen: dict[str, Any] = json.loads(cursor) if cursor else {}
        seeds = self._seeds()
        hosts = {urlsplit(u).netloc for u in seeds}
        given = {_norm(u) for u in self.config.urls}
        # seed URLs are crawled; a sitemap's pages are taken as they are (no links followed)
        queue = deque((u, 0 if u in given else self.config.max_depth) for u in seeds)
        visited: set[str] = set()
        pages: dict[str, Any] = {}
        answered = False
        while queue and len(pages) < self.config.max_pages:
            url, depth = queue.popleft()
            if url in visited or urlsplit(url).netloc not in hosts or not self._allowed(url):
                continue
            visited.add(url)
            page, responded = self._visit(url, seen.get(url))
            answered = answered or responded
            if page is None:
                continue
            pages[url] = page
            if depth < self.config.max_depth:
                queue.extend((link, depth + 1) for link in page["links"])
        if seeds and not answered:
            raise SourceUnreachable(f"no page of {', '.join(sorted(hosts))} could be fetched")
        acl = tuple(sorted(self.config.acl))
        refs = [ItemRef(u, p["hash"], acl, size=p.get("size")) for u, p in pages.items()]
        return Listing(refs, complete=True, cursor=json.dumps(pages, sort_keys=True))

    def _visit(self, url: str, known: dict | None) -> tuple[dict | None, bool]:
        """(the page's cursor entry or None when gone, whether the server answered at all)."""
        headers = {}
        if known and known.get("etag"):
            headers["If-None-Match"] = known["etag"]
        if known and known.get("modified"):
            headers["If-Modified-Since"] = known["modified"]
        try:
            r = self.client.get(url, headers=headers)
        except httpx.HTTPError:
            return known, False  # a bad day: keep what we had
        if r.status_code == 304 and known:
            return known, True
        if r.status_code in _GONE:
            return None, True
        if r.status_code != 200 or "html" not in r.headers.get("content-type", "text/html"):
            return known, True
        body = r.content
        if len(body) > self.max_bytes:
            return {"hash": "too-large", "links": [], "size": len(body)}, True
        self._bodies[url] = body
        return {"etag": r.headers.get("etag"), "modified": r.headers.get("last-modified"),
                "hash": hashlib.sha256(body).hexdigest()[:32], "links": _links(str(r.url), body)}, True

    def fetch(self, ref: ItemRef) -> Item:
        body = self._bodies.get(ref.external_id)
        if body is None:
            r = self.client.get(ref.external_id)
            r.raise_for_status()
            body = r.content
        title, text = extract(body)
        name = (urlsplit(ref.external_id).path.rstrip("/").rsplit("/", 1)[-1] or "index").rsplit(".", 1)[0]
        return Item(ref, f"# {title}\n\n{text}\n".encode(), f"{name}.md", title=title,
                    metadata={"url": ref.external_id})

    def close(self) -> None:
        self.client.close()


def _links(base: str, body: bytes) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, "html.parser")
    out = []
    for a in soup.find_all("a", href=True):
        url = _norm(urljoin(base, str(a["href"])))
        if urlsplit(url).scheme in ("http", "https"):
            out.append(url)
    return list(dict.fromkeys(out))


def extract(body: bytes) -> tuple[str, str]:
    """(title, main text): trafilatura without boilerplate, else the visible text."""
    import trafilatura
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup(["script", "style", "nav", "header", "footer", "aside"]):  # structural boilerplate
        tag.decompose()
    text = trafilatura.extract(str(soup), include_comments=False, include_tables=True)
    if not text:
        text = (soup.body or soup).get_text("\n", strip=True)
    if not text.strip():
        raise EmptyDocument("the page has no text")
    return title or text.splitlines()[0][:80], text
