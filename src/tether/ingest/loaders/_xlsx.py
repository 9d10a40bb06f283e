"""XLSX: each sheet a section (its name a level-1 heading), its cells a table, via openpyxl.

The workbook is read in read-only mode with cached values (a formula cell gives the value Excel
last computed, not its formula). In each sheet the first non-empty row is the header row and
the non-empty rows below it are the table, written by :mod:`._tables` (header repeated per
group of rows); fully empty rows and columns are dropped. Numbers print as a person reads them
(``3.0`` -> ``3``), dates as ISO 8601. ``metadata["sheets"]`` lists ``{name, rows, columns}``.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from openpyxl import load_workbook

from tether.errors import CorruptDocument
from tether.ingest.loaders._common import TextBuilder, require_text
from tether.ingest.loaders._options import LoadOptions, check_zip
from tether.ingest.loaders._tables import add_table, clean_rows
from tether.types import LoadedDocument


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _open(data: bytes, filename: str) -> Any:
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, KeyError, InvalidFileException, lxml errors...
        raise CorruptDocument(
            f"{filename}: cannot read XLSX ({type(exc).__name__}: {exc})", filename=filename
        ) from exc


def load(data: bytes, filename: str, options: LoadOptions | None = None) -> LoadedDocument:
    options = options or LoadOptions()
    check_zip(data, filename, options, "XLSX")
    book = _open(data, filename)
    out = TextBuilder()
    sheets: list[dict[str, object]] = []
    try:
        for sheet in book.worksheets:
            rows = clean_rows([[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)])
            if not rows:
                continue
            out.add("heading", sheet.title, level=1)
            add_table(out, rows, group_chars=options.table_group_chars)
            sheets.append({"name": sheet.title, "rows": len(rows) - 1, "columns": rows[0]})
    except Exception as exc:  # a damaged sheet part shows only when it is read
        raise CorruptDocument(
            f"{filename}: cannot read XLSX ({type(exc).__name__}: {exc})", filename=filename
        ) from exc
    finally:
        book.close()
    require_text(out.text, filename, "XLSX has no cell values")
    title = str(book.properties.title or "").strip() if book.properties is not None else ""
    return LoadedDocument(text=out.text, blocks=out.blocks, format="xlsx", title=title,
                          metadata={"sheets": sheets})
