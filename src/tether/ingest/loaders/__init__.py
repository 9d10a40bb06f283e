"""Turn a file into a :class:`~tether.types.LoadedDocument`: plain text plus structural blocks.

One private module per format; this module picks one by file extension and applies the checks
every format shares (size limit, empty input). Contract of every loader:

* ``text[block.start:block.end]`` is the block's text, with no surrounding whitespace;
* ``.txt`` and ``.md``: ``text`` is the decoded file itself, byte for byte apart from a dropped
  UTF-8 BOM; line endings (CRLF) are kept, so offsets map straight back to the source;
* other formats: ``text`` is extracted text, blocks joined by blank lines (CSV rows by newlines);
* failures raise typed :mod:`tether.errors` that name the file: ``UnsupportedFormat``,
  ``FileTooLarge``, ``EmptyDocument`` and ``CorruptDocument`` (library errors chained).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tether.errors import EmptyDocument, FileTooLarge, NotFound, UnsupportedFormat
from tether.ingest.loaders import _csv, _docx, _html, _json, _md, _pdf, _txt
from tether.types import LoadedDocument

__all__ = ["SUPPORTED_EXTENSIONS", "load_bytes", "load_file"]

Loader = Callable[[bytes, str], LoadedDocument]

_LOADERS: dict[str, Loader] = {
    ".txt": _txt.load,
    ".text": _txt.load,
    ".md": _md.load,
    ".markdown": _md.load,
    ".html": _html.load,
    ".htm": _html.load,
    ".pdf": _pdf.load,
    ".docx": _docx.load,
    ".csv": _csv.load,
    ".tsv": _csv.load_tsv,
    ".json": _json.load,
    ".jsonl": _json.load_lines,
}

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(_LOADERS))


def _loader_for(filename: str) -> Loader:
    suffix = Path(filename).suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise UnsupportedFormat(
            f"{filename}: unsupported format ({shown}); supported: {', '.join(SUPPORTED_EXTENSIONS)}",
            filename=filename,
            extension=suffix,
            supported=list(SUPPORTED_EXTENSIONS),
        )
    return loader


def _too_large(filename: str, size: int, max_bytes: int) -> FileTooLarge:
    return FileTooLarge(
        f"{filename}: {size:,} bytes exceeds the limit of {max_bytes:,} bytes",
        filename=filename,
        size=size,
        max_bytes=max_bytes,
    )


def load_bytes(data: bytes, filename: str, *, max_bytes: int) -> LoadedDocument:
    """Load a document from its bytes; ``filename`` picks the format and names it in errors."""
    loader = _loader_for(filename)
    if len(data) > max_bytes:
        raise _too_large(filename, len(data), max_bytes)
    if not data:
        raise EmptyDocument(f"{filename}: file is empty", filename=filename)
    doc = loader(data, filename)
    if not doc.blocks:
        raise EmptyDocument(f"{filename}: no text could be extracted", filename=filename)
    if not doc.title:
        doc.title = Path(filename).stem
    doc.metadata.setdefault("filename", Path(filename).name)
    doc.metadata.setdefault("bytes", len(data))
    return doc


def load_file(path: Path, *, max_bytes: int) -> LoadedDocument:
    """Load a document from disk; the size limit is checked before the file is read."""
    path = Path(path)
    _loader_for(path.name)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_large(path.name, size, max_bytes)
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may have grown since stat()
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such file", filename=str(path)) from exc
    except IsADirectoryError as exc:
        raise NotFound(f"{path}: is a directory, not a file", filename=str(path)) from exc
    return load_bytes(data, path.name, max_bytes=max_bytes)
