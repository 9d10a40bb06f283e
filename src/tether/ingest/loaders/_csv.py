"""CSV and TSV: one ``table`` block per row, rendered ``column: value; column: value``.

Rendering each row with its column names makes a row readable (and retrievable) on its own, and
chunks of rows keep their meaning without the header. The first non-empty row is the header;
the delimiter is sniffed among ``, ; TAB |`` for ``.csv`` and is TAB for ``.tsv``. Parsing is
strict: an unterminated quote or stray quote is a :class:`CorruptDocument`, not a guess.
"""

from __future__ import annotations

import csv
import io

from tether.errors import CorruptDocument, EmptyDocument
from tether.ingest.loaders._common import TextBuilder, collapse_spaces, decode_utf8, require_text
from tether.types import LoadedDocument

_SNIFF_BYTES = 64 * 1024


def _delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_BYTES], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _rows(text: str, delimiter: str, filename: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        return [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise CorruptDocument(
            f"{filename}: malformed CSV near line {reader.line_num} ({exc})",
            filename=filename,
            line=reader.line_num,
        ) from exc


def load(data: bytes, filename: str, *, delimiter: str | None = None) -> LoadedDocument:
    text = decode_utf8(data, filename)
    require_text(text, filename, "empty or whitespace-only CSV file")
    delimiter = delimiter or _delimiter(text)
    rows = _rows(text, delimiter, filename)
    header = [collapse_spaces(name) or f"column_{i + 1}" for i, name in enumerate(rows[0])]
    if len(rows) < 2:
        raise EmptyDocument(f"{filename}: CSV has a header but no data rows", filename=filename)
    out = TextBuilder()
    for row in rows[1:]:
        pairs = []
        for i, raw in enumerate(row):
            value = collapse_spaces(raw)
            if value:
                name = header[i] if i < len(header) else f"column_{i + 1}"
                pairs.append(f"{name}: {value}")
        out.add("table", "; ".join(pairs), sep="\n")
    return LoadedDocument(
        text=out.text,
        blocks=out.blocks,
        format="csv",
        metadata={"columns": header, "rows": len(rows) - 1, "delimiter": delimiter},
    )


def load_tsv(data: bytes, filename: str) -> LoadedDocument:
    return load(data, filename, delimiter="\t")
