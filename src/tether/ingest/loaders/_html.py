"""HTML: extract readable text block by block with BeautifulSoup (stdlib ``html.parser``).

Headings ``h1``-``h6`` keep their level; ``li`` become ``list`` blocks, a ``table`` becomes
``table`` blocks with its header row repeated per group of rows (:mod:`._tables`), ``pre``
become ``code`` blocks with whitespace kept; other
text is gathered into paragraphs at block-level element boundaries with whitespace collapsed.
Scripts, styles, templates and the ``<head>`` are dropped.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import CData

from tether.ingest.loaders._common import TextBuilder, collapse_spaces, decode_utf8, require_text
from tether.ingest.loaders._options import LoadOptions
from tether.ingest.loaders._tables import add_table
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
    def __init__(self, group_chars: int) -> None:
        self.group_chars = group_chars
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
        elif name == "table":
            self.flush()
            rows = [
                [c.get_text(" ") for c in tr.find_all(["td", "th"], recursive=False)]
                for tr in el.find_all("tr")
                if tr.find_parent("table") is el  # a nested table's rows read as its cell's text
            ]
            add_table(self.out, rows, group_chars=self.group_chars)
        elif name == "tr":  # a row outside any table
            self.flush()
            add_table(self.out, [[c.get_text(" ") for c in el.find_all(["td", "th"], recursive=False)]],
                      group_chars=self.group_chars)
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


def load(data: bytes, filename: str, options: LoadOptions | None = None) -> LoadedDocument:
    options = options or LoadOptions()
    source = decode_utf8(data, filename)
    require_text(source, filename, "empty or whitespace-only HTML file")
    soup = BeautifulSoup(source, "html.parser")
    title_tag = soup.find("title")
    title = collapse_spaces(title_tag.get_text(" ")) if title_tag else ""
    extractor = _Extractor(options.table_group_chars)
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
