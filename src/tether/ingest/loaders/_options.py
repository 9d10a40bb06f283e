"""What a load may cost and do, and the checks that hold it to that, for containers of files.

Why: .docx, .pptx and .xlsx are ZIP archives and .eml/.msg carry attachments, so a small upload
can unpack to gigabytes (a zip bomb) or hold thousands of parts. Every container is checked
*before* a library parses it: the sum of the declared uncompressed sizes and the entry count
against caps (:class:`LoadOptions`). ``zipfile`` never inflates an entry past its declared size
(reading stops there and the CRC check fails), so the declared sizes bound the real work.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from tether.errors import CorruptDocument, FileTooLarge


@dataclass(frozen=True)
class LoadOptions:
    """Limits and switches of one load (built from ``Settings.ingest`` at the pipeline)."""

    #: Sum of the declared uncompressed sizes of a ZIP-based file's entries.
    max_unpacked_bytes: int = 200 * 1024 * 1024
    #: Entries of a ZIP-based file.
    max_entries: int = 10_000
    #: Attachments of one e-mail that are loaded (the rest are listed as skipped).
    max_attachments: int = 50
    #: How deep attachments nest (an e-mail attached to an e-mail...): deeper ones are skipped.
    max_depth: int = 3
    #: Pages without a text layer go through OCR; off: they are reported and left empty.
    ocr: bool = True
    #: Pixels per inch at which a page is rendered for OCR.
    ocr_dpi: int = 200
    #: "auto" (Tesseract where installed, else rapidocr), "tesseract" or "rapidocr".
    ocr_engine: str = "auto"
    #: Tesseract's language models to read with (the installed ones among them are used).
    ocr_languages: tuple[str, ...] = ("eng", "por", "nld")
    #: Characters of table rows after which a table's header row is written again, so every
    #: group of rows carries its header (the pipeline derives it from ``chunk.max_tokens``).
    table_group_chars: int = 400


def check_zip(data: bytes, filename: str, options: LoadOptions, what: str) -> None:
    """Refuse a ZIP-based file that is not a ZIP, or would unpack beyond the caps."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise CorruptDocument(
            f"{filename}: cannot read {what} ({type(exc).__name__}: {exc})", filename=filename
        ) from exc
    if len(infos) > options.max_entries:
        raise FileTooLarge(
            f"{filename}: {len(infos):,} archive entries exceed the limit of {options.max_entries:,}",
            filename=filename,
            entries=len(infos),
            max_entries=options.max_entries,
        )
    unpacked = sum(info.file_size for info in infos)
    if unpacked > options.max_unpacked_bytes:
        raise FileTooLarge(
            f"{filename}: unpacks to {unpacked:,} bytes, over the limit of {options.max_unpacked_bytes:,}",
            filename=filename,
            unpacked_bytes=unpacked,
            max_unpacked_bytes=options.max_unpacked_bytes,
        )
