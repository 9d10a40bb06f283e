"""OCR for PDF pages without a text layer: render with pypdfium2, read with Tesseract or rapidocr.

Why: contracts and signed forms arrive as scans, and a scan has no text for pypdf to extract.
Two offline engines, chosen by ``ingest.ocr_engine``:

- ``tesseract`` (:mod:`._tesseract`): Debian's ``tesseract-ocr`` with language packs (installed
  by ``make setup-ocr``); the accurate one (CER 0.0 on the test page, about 1 s a page);
- ``rapidocr``: ``rapidocr-onnxruntime``, whose wheel ships its ONNX models, so it works with
  nothing but the Python install; its only recogniser (Chinese+English) drops spaces between
  English words (CER 0.36 on the same page, 7-14 s a page);
- ``auto`` (default): Tesseract where it is installed with one of ``ingest.ocr_languages``,
  else rapidocr. Engines are looked up once per process, on the first scanned page
  (born-digital documents never load one).

The recognised text lines are put in reading order (grouped into lines by their vertical
centre, left to right within a line) and into paragraphs (a vertical gap larger than a line's
height starts one), so the page's text reads like the born-digital text would; the loader
assembles it with exact offsets like any other text.
"""

from __future__ import annotations

import statistics
from functools import lru_cache
from typing import Any

import numpy as np

from tether.errors import ConfigError
from tether.ingest.loaders import _tesseract

ENGINES = ("auto", "tesseract", "rapidocr")


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def render_page(data: bytes, index: int, dpi: int) -> np.ndarray:
    """Page ``index`` (0-based) of the PDF ``data`` as an RGB array at ``dpi``."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        bitmap = pdf[index].render(scale=dpi / 72)
        return np.asarray(bitmap.to_pil().convert("RGB"))
    finally:
        pdf.close()


def _lines(boxes: list[tuple[float, float, float, float, str]]) -> list[tuple[float, float, str]]:
    """Words/segments ``(x0, y0, x1, y1, text)`` merged into lines ``(top, bottom, text)``."""
    rows: list[list[tuple[float, float, float, float, str]]] = []
    for box in sorted(boxes, key=lambda b: ((b[1] + b[3]) / 2, b[0])):
        centre = (box[1] + box[3]) / 2
        if rows:
            last = rows[-1]
            top, bottom = min(b[1] for b in last), max(b[3] for b in last)
            if abs(centre - (top + bottom) / 2) <= (bottom - top) / 2:
                last.append(box)
                continue
        rows.append([box])
    out = []
    for row in rows:
        row.sort(key=lambda b: b[0])
        out.append((min(b[1] for b in row), max(b[3] for b in row), " ".join(b[4] for b in row)))
    return out


def paragraphs(boxes: list[tuple[float, float, float, float, str]]) -> list[str]:
    """Recognised segments as paragraphs of lines, in reading order."""
    lines = _lines([b for b in boxes if b[4].strip()])
    if not lines:
        return []
    height = statistics.median(bottom - top for top, bottom, _ in lines)
    paras: list[list[str]] = [[lines[0][2]]]
    for (_, prev_bottom, _), (top, _, text) in zip(lines, lines[1:]):
        if top - prev_bottom > height:
            paras.append([])
        paras[-1].append(text)
    return ["\n".join(p) for p in paras]


@lru_cache(maxsize=8)
def choose_engine(engine: str, languages: tuple[str, ...]) -> tuple[str, str | None, list[str]]:
    """``(engine, tesseract program, tesseract languages)`` for the ``ingest.ocr_engine`` asked
    for; ``ConfigError`` when ``tesseract`` is asked for and missing, or the name is unknown."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown OCR engine {engine!r}; ingest.ocr_engine is one of {', '.join(ENGINES)}")
    if engine == "rapidocr":
        return "rapidocr", None, []
    program = _tesseract.find()
    langs = _tesseract.usable_languages(program, languages) if program else []
    if program and langs:
        return "tesseract", program, langs
    if engine == "auto":
        return "rapidocr", None, []
    why = "is not installed (make setup-ocr)" if not program else (
        f"has none of the languages {', '.join(languages)} (ingest.ocr_languages)")
    raise ConfigError(f"ingest.ocr_engine is 'tesseract' but Tesseract {why}")


def ocr_page(
    data: bytes, index: int, dpi: int, engine: str = "auto", languages: tuple[str, ...] = ("eng",)
) -> tuple[list[str], str]:
    """The paragraphs OCR reads on page ``index`` of the PDF ``data`` (empty: nothing legible),
    and the engine that read them."""
    name, program, langs = choose_engine(engine, languages)
    image = render_page(data, index, dpi)
    if program is not None:
        return _tesseract.read(image, program, langs, dpi=dpi), name
    return _rapidocr(image), name


def _rapidocr(image: np.ndarray) -> list[str]:
    result, _elapsed = _engine()(image)
    boxes = []
    for points, text, _score in result or []:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        boxes.append((float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)), str(text)))
    return paragraphs(boxes)
