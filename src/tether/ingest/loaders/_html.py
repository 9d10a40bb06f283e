"""HTML: extract readable text block by block with BeautifulSoup (stdlib ``html.parser``).

Headings ``h1``-``h6`` keep their level; ``li`` become ``list`` blocks, ``tr`` become ``table``
blocks (cells joined with `` | ``), ``pre`` become ``code`` blocks with whitespace kept; other
text is gathered into paragraphs at block-level element boundaries with whitespace collapsed.
Scripts, styles, templates and the ``<head>`` are dropped.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import CData

from tether.ingest.loaders._common import TextBuilder, collapse_spaces, decode_utf8, require_text
from tether.types import BlockKind, LoadedDocument

_SKIP = frozenset("script style template noscript head svg canvas iframe object button select".split())
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCK = frozenset(
    """
    p div section article main aside header footer nav blockquote figure figcaption form
    fieldset details summary dl dt dd ul ol table thead tbody tfoot caption address hr br
    center body html
    """.split()
)


class _Extractor:
    def __init__(self) -> None:
        self.out = TextBuilder()
        self.buffer: list[str] = []
        self.kind: BlockKind = "paragraph"

    def flush(self) -> None:
        if self.buffer:
            self.out.add(self.kind, collapse_spaces("".join(self.buffer)))
            self.buffer = []

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                self.element(child)
            elif type(child) in (NavigableString, CData):
                self.buffer.append(str(child))

    def element(self, el: Tag) -> None:
        name = (el.name or "").lower()
        if name in _SKIP:
            return
        if name in _HEADINGS:
            self.flush()
            self.out.add("heading", collapse_spaces(el.get_text(" ")), level=_HEADINGS[name])
        elif name == "pre":
            self.flush()
            self.out.add("code", el.get_text().strip("\n"))
        elif name == "tr":
            self.flush()
            cells = [collapse_spaces(c.get_text(" ")) for c in el.find_all(["td", "th"], recursive=False)]
            self.out.add("table", " | ".join(c for c in cells if c))
        elif name == "li":
            self.flush()
            outer, self.kind = self.kind, "list"
            self.walk(el)
            self.flush()
            self.kind = outer
        elif name in _BLOCK:
            self.flush()
            self.walk(el)
            self.flush()
        else:
            self.walk(el)


def load(data: bytes, filename: str) -> LoadedDocument:
    source = decode_utf8(data, filename)
    require_text(source, filename, "empty or whitespace-only HTML file")
    soup = BeautifulSoup(source, "html.parser")
    title_tag = soup.find("title")
    title = collapse_spaces(title_tag.get_text(" ")) if title_tag else ""
    extractor = _Extractor()
    extractor.walk(soup)
    extractor.flush()
    text, blocks = extractor.out.text, extractor.out.blocks
    require_text(text, filename, "HTML file has no visible text")
    if not title:
        h1 = next((b for b in blocks if b.kind == "heading" and b.level == 1), None)
        title = text[h1.start : h1.end] if h1 else ""
    lang = soup.html.get("lang") if isinstance(soup.html, Tag) else None
    metadata: dict[str, object] = {"lang": lang} if isinstance(lang, str) else {}
    return LoadedDocument(text=text, blocks=blocks, format="html", title=title, metadata=metadata)
