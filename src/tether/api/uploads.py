"""Saving uploaded files content-addressed: ``<data_dir>/uploads/<sha256>/<filename>``.

The file is streamed to a temporary name while hashed and counted, then moved into place, so
a half-written upload is never ingested and identical uploads share one copy.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tether.errors import FileTooLarge, InvalidInput, UnsupportedFormat

_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9 ._()+-]{0,199}$")


@dataclass(frozen=True)
class SavedUpload:
    path: Path
    filename: str
    sha256: str
    size: int


def clean_filename(name: str | None, supported: list[str]) -> str:
    """The base name of an uploaded file, if it is safe and of a supported format."""
    base = Path((name or "").replace("\\", "/")).name.strip()
    if not base or not _NAME.match(base):
        raise InvalidInput(f"invalid file name {base!r}: use letters, digits, spaces, '.', '-', '_' and '()'")
    ext = Path(base).suffix.lower()
    if ext not in supported:
        raise UnsupportedFormat(f"unsupported file type {ext or '(none)'!r}; supported: {', '.join(supported)}")
    return base


def save_upload(data_dir: Path, src: BinaryIO, filename: str, max_bytes: int) -> SavedUpload:
    root = data_dir / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(f"{filename} is over the limit of {max_bytes:,} bytes", limit=max_bytes)
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        dest = root / sha / filename
        dest.parent.mkdir(exist_ok=True)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return SavedUpload(dest, filename, sha, size)
