"""Tesseract OCR through its command-line program (Debian's ``tesseract-ocr`` and language packs).

Why: rapidocr's wheel ships only a Chinese+English recogniser that drops the spaces between
English words (CER 0.36 on the rendered test page); Tesseract 5's LSTM models read the same page
without an error (CER 0.0) in about a second, and have Portuguese and Dutch models. Tesseract is
a system program (``make setup-ocr`` installs it), so it is optional: :mod:`._ocr` falls back to
rapidocr where it is absent.

The program is run once per page on a PNG written to its standard input, with
``OMP_THREAD_LIMIT=1`` (its OpenMP threads tripled the time of a page on two busy cores). Its
plain-text output already puts lines in reading order and separates paragraphs and blocks by a
blank line, which is all the PDF loader needs to rebuild the page with exact offsets.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from functools import lru_cache

import numpy as np

from tether.errors import ConfigError


def find(command: str = "tesseract") -> str | None:
    """The absolute path of the ``tesseract`` program, or ``None`` where it is not installed."""
    return shutil.which(command)


@lru_cache(maxsize=4)
def installed_languages(program: str) -> frozenset[str]:
    """The language models (``eng``, ``por``, ``nld``...) the program has, from ``--list-langs``."""
    done = subprocess.run([program, "--list-langs"], capture_output=True, timeout=30, check=False)
    lines = (done.stdout or done.stderr).decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip() and line.strip() != "osd")


def usable_languages(program: str, wanted: tuple[str, ...]) -> list[str]:
    """The wanted languages that are installed, in the order asked for."""
    have = installed_languages(program)
    return [lang for lang in wanted if lang in have]


def split_paragraphs(output: str) -> list[str]:
    """Tesseract's text output as paragraphs: blocks of non-blank lines, each line stripped."""
    paras: list[list[str]] = [[]]
    for line in output.replace("\f", "\n").splitlines():
        line = " ".join(line.split())
        if line:
            paras[-1].append(line)
        elif paras[-1]:
            paras.append([])
    return ["\n".join(p) for p in paras if p]


def read(image: np.ndarray, program: str, languages: list[str], *, dpi: int, timeout_s: float = 120.0) -> list[str]:
    """The paragraphs Tesseract reads in the RGB ``image`` (rendered at ``dpi``)."""
    from PIL import Image

    if not languages:
        raise ConfigError("no Tesseract language model is installed for OCR (ingest.ocr_languages)")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG", dpi=(dpi, dpi))
    done = subprocess.run(
        [program, "-", "-", "-l", "+".join(languages), "--dpi", str(dpi)],
        input=buffer.getvalue(), capture_output=True, timeout=timeout_s, check=False,
        env={"OMP_THREAD_LIMIT": "1"},
    )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"tesseract exited with {done.returncode}: {message[-1] if message else ''}")
    return split_paragraphs(done.stdout.decode("utf-8", "replace"))
