"""Turn a file into a :class:`~tether.types.LoadedDocument`: plain text plus structural blocks.

One private module per format; this module picks one by file extension and applies the checks
every format shares (size limit, empty input). Contract of every loader:

* ``text[block.start:block.end]`` is the block's text, with no surrounding whitespace;
* ``.txt`` and ``.md``: ``text`` is the decoded file itself, byte for byte apart from a dropped
  UTF-8 BOM; line endings (CRLF) are kept, so offsets map straight back to the source;
* other formats: ``text`` is extracted text, blocks joined by blank lines (CSV rows by newlines);
  tables are written by ``_tables`` (header row repeated before each group of rows);
* ZIP-based formats (.docx, .pptx, .xlsx) are checked against the unpacked-size and entry caps
  of :class:`LoadOptions` before they are parsed; e-mail attachments go through these same
  loaders, nested at most ``max_depth`` deep;
* failures raise typed :mod:`tether.errors` that name the file: ``UnsupportedFormat``,
  ``FileTooLarge``, ``EmptyDocument`` and ``CorruptDocument`` (library errors chained).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tether.errors import DocumentTooComplex, EmptyDocument, FileTooLarge, NotFound, UnsupportedFormat
from tether.ingest.loaders import _csv, _docx, _email, _html, _json, _md, _pdf, _pptx, _txt, _xlsx
from tether.ingest.loaders._options import LoadOptions
from tether.types import LoadedDocument

__all__ = ["SUPPORTED_EXTENSIONS", "LoadOptions", "load_bytes", "load_file"]

Loader = Callable[[bytes, str, LoadOptions], LoadedDocument]


def _plain(load: Callable[[bytes, str], LoadedDocument]) -> Loader:
    """A loader that needs no options."""
    return lambda data, filename, _options: load(data, filename)


def _attach(data: bytes, filename: str, options: LoadOptions) -> LoadedDocument:
    """An e-mail attachment: its size is bounded by its message's, already checked."""
    return load_bytes(data, filename, max_bytes=max(len(data), 1), options=options)


_LOADERS: dict[str, Loader] = {
    ".txt": _plain(_txt.load),
    ".text": _plain(_txt.load),
    ".md": _plain(_md.load),
    ".markdown": _plain(_md.load),
    ".html": _html.load,
    ".htm": _html.load,
    ".pdf": _pdf.load,
    ".docx": _docx.load,
    ".pptx": _pptx.load,
    ".xlsx": _xlsx.load,
    ".csv": _plain(_csv.load),
    ".tsv": _plain(_csv.load_tsv),
    ".json": _plain(_json.load),
    ".jsonl": _plain(_json.load_lines),
    ".eml": lambda data, filename, options: _email.load_eml(data, filename, options, _attach),
    ".msg": lambda data, filename, options: _email.load_msg(data, filename, options, _attach),
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


def load_bytes(
    data: bytes, filename: str, *, max_bytes: int, options: LoadOptions | None = None
) -> LoadedDocument:
    """Load a document from its bytes; ``filename`` picks the format and names it in errors."""
    loader = _loader_for(filename)
    if len(data) > max_bytes:
        raise _too_large(filename, len(data), max_bytes)
    if not data:
        raise EmptyDocument(f"{filename}: file is empty", filename=filename)
    try:
        doc = loader(data, filename, options or LoadOptions())
    except RecursionError:  # markup nested thousands deep (HTML, XML in a DOCX...): the parsers recurse
        raise DocumentTooComplex(f"{filename}: its markup is nested too deeply to read", filename=filename) from None
    if not doc.blocks:
        raise EmptyDocument(f"{filename}: no text could be extracted", filename=filename)
    if not doc.title:
        doc.title = Path(filename).stem
    doc.metadata.setdefault("filename", Path(filename).name)
    doc.metadata.setdefault("bytes", len(data))
    return doc


def load_file(path: Path, *, max_bytes: int, options: LoadOptions | None = None) -> LoadedDocument:
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
    return load_bytes(data, path.name, max_bytes=max_bytes, options=options)
