"""OCR for PDF pages without a text layer: render with pypdfium2, read with rapidocr-onnxruntime.

Why: contracts and signed forms arrive as scans, and a scan has no text for pypdf to extract.
rapidocr's wheel ships its detection and recognition models (ONNX, run by the onnxruntime Tether
already uses), so OCR works offline with nothing to download. The engine is built once per
process, on the first scanned page (born-digital documents never load it).

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


def ocr_page(data: bytes, index: int, dpi: int) -> list[str]:
    """The paragraphs OCR reads on page ``index`` of the PDF ``data`` (empty: nothing legible)."""
    image = render_page(data, index, dpi)
    result, _elapsed = _engine()(image)
    boxes = []
    for points, text, _score in result or []:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        boxes.append((float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)), str(text)))
    return paragraphs(boxes)
