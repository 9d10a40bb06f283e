"""Scanned PDFs: a page of known text is rendered to an image PDF (Pillow), read back through OCR,
and compared character by character (CER <= 3%, Tesseract: installed by ``make setup-ocr``);
page numbers, offsets and the OCR flag are exact; rapidocr is the fallback engine; OCR can be
switched off."""

from __future__ import annotations

import io

import pytest
from ingest_samples import make_pdf

from tether.errors import ConfigError, EmptyDocument
from tether.ingest.loaders import LoadOptions, load_bytes
from tether.ingest.loaders._ocr import choose_engine

MB = 10 * 1024 * 1024
KNOWN = [
    "Lease agreement for the Lisbon office",
    "The tenant pays a monthly rent of EUR 4,250 on the first working day of each month.",
    "The lease runs for five years from 1 March 2026 and renews for two years unless either",
    "party gives six months written notice. Repairs above EUR 1,500 need written approval.",
]


PORTUGUESE = [
    "Contrato de arrendamento do escritório de Lisboa",
    "O inquilino paga uma renda mensal de 4.250 euros no primeiro dia útil de cada mês.",
    "As reparações acima de 1.500 euros precisam de aprovação por escrito do senhorio.",
]
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Debian fonts-dejavu-core (setup-ocr)


def scanned_pdf(lines: list[str], font_path: str | None = None) -> bytes:
    """An A4 page at 200 dpi with ``lines`` drawn as pixels: a PDF with no text layer. Pillow's
    bundled font has no accented letters; ``font_path`` names one that has."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1654, 2339), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(font_path, 28) if font_path else ImageFont.load_default(size=30)
    y = 160
    for i, line in enumerate(lines):
        draw.text((140, y), line, fill="black", font=font)
        y += 120 if i == 0 else 48  # the title stands apart: a paragraph of its own
    buffer = io.BytesIO()
    image.save(buffer, "PDF", resolution=200)
    return buffer.getvalue()


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: Levenshtein distance over the reference's length."""
    prev = list(range(len(hypothesis) + 1))
    for i, a in enumerate(reference, 1):
        cur = [i]
        for j, b in enumerate(hypothesis, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return prev[-1] / max(len(reference), 1)


def _words(text: str) -> str:
    return " ".join(text.split())


def test_a_scanned_page_goes_through_ocr_with_its_page_flagged() -> None:
    doc = load_bytes(scanned_pdf(KNOWN), "lease.pdf", max_bytes=MB)
    assert doc.metadata["ocr_pages"] == [1] and "pages_without_text" not in doc.metadata
    assert all(b.page == 1 for b in doc.blocks) and len(doc.blocks) >= 2  # the title is a paragraph apart
    assert all(doc.text[b.start : b.end] == doc.text[b.start : b.end].strip() for b in doc.blocks)
    assert "Lisbon" in doc.text and "4,250" in doc.text


TESSERACT = LoadOptions(ocr_engine="tesseract")


def test_a_scanned_page_is_read_by_ocr_within_three_percent_cer() -> None:
    doc = load_bytes(scanned_pdf(KNOWN), "lease.pdf", max_bytes=MB, options=TESSERACT)
    rate = cer(_words(" ".join(KNOWN)), _words(doc.text))
    assert rate <= 0.03, (rate, doc.text)
    assert doc.metadata["ocr_engine"] == "tesseract" and doc.metadata["ocr_pages"] == [1]


def test_a_scanned_portuguese_page_keeps_its_accents() -> None:
    doc = load_bytes(scanned_pdf(PORTUGUESE, DEJAVU), "contrato.pdf", max_bytes=MB, options=TESSERACT)
    rate = cer(_words(" ".join(PORTUGUESE)), _words(doc.text))
    assert rate <= 0.03, (rate, doc.text)
    assert "escritório" in doc.text and "aprovação" in doc.text


def test_rapidocr_remains_the_fallback_engine() -> None:
    doc = load_bytes(scanned_pdf(KNOWN), "lease.pdf", max_bytes=MB, options=LoadOptions(ocr_engine="rapidocr"))
    assert doc.metadata["ocr_engine"] == "rapidocr" and doc.metadata["ocr_pages"] == [1]
    assert "Lisbon" in doc.text and "4,250" in doc.text


def test_the_engine_is_chosen_by_setting_and_by_what_is_installed() -> None:
    assert choose_engine("auto", ("eng",))[:1] == ("tesseract",)
    assert choose_engine("auto", ("xx-not-installed",)) == ("rapidocr", None, [])  # falls back
    assert choose_engine("tesseract", ("xx-not-installed", "por", "eng"))[2] == ["por", "eng"]
    with pytest.raises(ConfigError, match="none of the languages"):
        choose_engine("tesseract", ("xx-not-installed",))
    with pytest.raises(ConfigError, match="one of auto, tesseract, rapidocr"):
        choose_engine("paddle", ("eng",))


def test_mixed_pdf_keeps_page_numbers_and_offsets(tmp_path) -> None:  # noqa: ANN001
    from pypdf import PdfReader, PdfWriter

    make_pdf(tmp_path / "digital.pdf")
    writer = PdfWriter()
    for part in (PdfReader(tmp_path / "digital.pdf"), PdfReader(io.BytesIO(scanned_pdf(KNOWN)))):
        for page in part.pages:
            writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    doc = load_bytes(buffer.getvalue(), "mixed.pdf", max_bytes=MB)
    assert doc.metadata["pages"] == 3 and doc.metadata["ocr_pages"] == [3]
    third = doc.metadata["page_starts"][2]
    assert all((b.page == 3) == (b.start >= third) for b in doc.blocks)
    assert "Lisbon" in doc.text[third:] and "Lisbon" not in doc.text[:third]
    assert "at least 14 characters" in doc.text[:third]  # the born-digital pages are read as before

    off = load_bytes(buffer.getvalue(), "mixed.pdf", max_bytes=MB, options=LoadOptions(ocr=False))
    assert off.metadata["ocr_pages"] == [] and off.metadata["pages_without_text"] == [3]
    assert off.text == doc.text[: len(off.text)] and "Lisbon" not in off.text


def test_ocr_switched_off_leaves_a_scan_empty() -> None:
    with pytest.raises(EmptyDocument, match="OCR is switched off"):
        load_bytes(scanned_pdf(KNOWN), "scan.pdf", max_bytes=MB, options=LoadOptions(ocr=False))
