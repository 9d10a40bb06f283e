"""JSON and JSON Lines: flatten values into readable ``path.to.key: value`` lines.

Embedding models and BM25 read prose, not braces, so each leaf becomes one line named by its
path (``items[2].price: 3.5``). Each top-level item (a key of a top-level object, an element of
a top-level array, or one line of a ``.jsonl`` file) is one ``table`` block, and a top-level key
holding an array gives one block per element, so a chunk splits a record only when it alone is
too large.
"""

from __future__ import annotations

import json

from tether.errors import CorruptDocument
from tether.ingest.loaders._common import TextBuilder, decode_utf8, require_text
from tether.types import LoadedDocument


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def flatten(value: object, path: str = "") -> list[str]:
    """Lines ``path: value`` for every leaf under ``value`` (a bare value when path is empty)."""
    if isinstance(value, dict):
        if not value:
            return [f"{path}: {{}}"] if path else []
        lines: list[str] = []
        for key, item in value.items():
            lines.extend(flatten(item, f"{path}.{key}" if path else str(key)))
        return lines
    if isinstance(value, list):
        if not value:
            return [f"{path}: []"] if path else []
        lines = []
        for i, item in enumerate(value):
            lines.extend(flatten(item, f"{path}[{i}]"))
        return lines
    return [f"{path}: {_scalar(value)}" if path else _scalar(value)]


def _top_items(value: object) -> list[list[str]]:
    """One record per top-level item; a top-level key holding a list gives one per element."""
    if isinstance(value, dict):
        records: list[list[str]] = []
        for key, item in value.items():
            if isinstance(item, list) and item:
                records.extend(flatten(element, f"{key}[{i}]") for i, element in enumerate(item))
            else:
                records.append(flatten(item, str(key)))
        return records
    if isinstance(value, list):
        return [flatten(item) for item in value]
    return [flatten(value)]


def _parse(source: str, filename: str, line_offset: int = 0) -> object:
    try:
        return json.loads(source)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = (
            f"line {exc.lineno + line_offset}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else "nesting"
        )
        raise CorruptDocument(f"{filename}: malformed JSON at {where} ({exc})", filename=filename) from exc


def _build(records: list[list[str]], filename: str, fmt: str, title: str, count: int) -> LoadedDocument:
    out = TextBuilder()
    for lines in records:
        out.add("table", "\n".join(lines))
    require_text(out.text, filename, "JSON holds no values")
    return LoadedDocument(
        text=out.text, blocks=out.blocks, format=fmt, title=title, metadata={"records": count}
    )


def load(data: bytes, filename: str) -> LoadedDocument:
    source = decode_utf8(data, filename)
    require_text(source, filename, "empty or whitespace-only JSON file")
    value = _parse(source, filename)
    title = ""
    if isinstance(value, dict) and isinstance(value.get("title"), str):
        title = value["title"].strip()
    records = _top_items(value)
    return _build(records, filename, "json", title, len(records))


def load_lines(data: bytes, filename: str) -> LoadedDocument:
    source = decode_utf8(data, filename)
    require_text(source, filename, "empty or whitespace-only JSON Lines file")
    records: list[list[str]] = []
    for number, line in enumerate(source.split("\n")):
        if line.strip():
            records.append(flatten(_parse(line, filename, line_offset=number)))
    return _build(records, filename, "jsonl", "", len(records))
