"""The slide, spreadsheet and e-mail loaders: structure, exact offsets, corrupt files, zip bombs.

Fixtures are written by the real libraries (python-pptx, openpyxl, the stdlib ``email``)."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import pytest
from ingest_samples import make_pdf
from test_loaders import check_blocks, texts

from tether.errors import CorruptDocument, EmptyDocument, FileTooLarge
from tether.ingest.loaders import LoadOptions, load_bytes

MB = 10 * 1024 * 1024


def make_pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = "Quarterly review"
    s1 = deck.slides.add_slide(deck.slide_layouts[1])
    s1.shapes.title.text = "Results"
    body = s1.placeholders[1].text_frame
    body.text = "Revenue grew 12 percent."
    sub = body.add_paragraph()
    sub.text, sub.level = "Churn fell in Lisbon.", 1
    s1.notes_slide.notes_text_frame.text = "Thank the Utrecht team."
    s2 = deck.slides.add_slide(deck.slide_layouts[5])
    s2.shapes.title.text = "Prices"
    table = s2.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(4), Inches(2)).table
    for r, row in enumerate([["Plan", "Price"], ["Basic", "10"], ["Pro", "25"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    deck.slides.add_slide(deck.slide_layouts[6])  # a blank slide
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    bands = book.active
    bands.title = "Bands"
    bands.append([None, None, None])
    bands.append(["City", "Level", "Midpoint", None])
    bands.append(["Lisbon", "L4", 52000.0])
    bands.append(["Dublin", "L4", 61000])
    dates = book.create_sheet("Reviews")
    dates.append(["Cycle", "Opens"])
    dates.append(["H1", dt.date(2026, 3, 2)])
    book.create_sheet("Empty")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_pptx_slides_titles_notes_and_tables() -> None:
    doc = load_bytes(make_pptx(), "deck.pptx", max_bytes=MB)
    check_blocks(doc)
    assert doc.format == "pptx" and doc.title == "Quarterly review"
    assert [(doc.text[b.start : b.end], b.page) for b in doc.blocks if b.kind == "heading"] == [
        ("Results", 1), ("Prices", 2)]
    assert texts(doc, "list") == ["Revenue grew 12 percent.", "Churn fell in Lisbon."]
    assert texts(doc, "table") == ["| Plan | Price |", "| Basic | 10 |", "| Pro | 25 |"]
    assert doc.metadata["slides"] == 3
    starts = doc.metadata["slide_starts"]
    assert starts[2] is None and doc.text[starts[1] :].startswith("Prices")
    (a, b), none, blank = doc.metadata["notes"]
    assert doc.text[a:b] == "Thank the Utrecht team." and none is None and blank is None
    assert all(b.page == (1 if b.start < starts[1] else 2) for b in doc.blocks)


def test_xlsx_sheets_header_rows_and_values() -> None:
    doc = load_bytes(make_xlsx(), "bands.xlsx", max_bytes=MB)
    check_blocks(doc)
    assert texts(doc, "heading") == ["Bands", "Reviews"]
    assert texts(doc, "table") == [
        "| City | Level | Midpoint |", "| Lisbon | L4 | 52000 |", "| Dublin | L4 | 61000 |",
        "| Cycle | Opens |", "| H1 | 2026-03-02 |"]
    assert [b.header for b in doc.blocks if b.kind == "table"] == [True, False, False, True, False]
    assert doc.metadata["sheets"][0] == {"name": "Bands", "rows": 2, "columns": ["City", "Level", "Midpoint"]}


def test_long_tables_repeat_their_header_per_row_group() -> None:
    from openpyxl import Workbook

    book = Workbook()
    for i in range(60):
        book.active.append(["Code", "Description"] if i == 0 else [f"C{i:03}", f"item number {i} of the list"])
    buffer = io.BytesIO()
    book.save(buffer)
    doc = load_bytes(buffer.getvalue(), "codes.xlsx", max_bytes=MB, options=LoadOptions(table_group_chars=200))
    rows = [b for b in doc.blocks if b.kind == "table"]
    headers = [b for b in rows if b.header]
    assert len(headers) > 5 and all(doc.text[b.start : b.end] == "| Code | Description |" for b in headers)
    assert len(rows) - len(headers) == 59
    group = 0
    for b in rows:  # each group of rows after a header stays within the budget (one row over at most)
        group = 0 if b.header else group + (b.end - b.start + 1)
        assert group <= 200 + 40


def make_eml(attachments: list[tuple[str, bytes, str]] | None = None, html: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana Silva <ana@example.com>"
    msg["To"] = "board@example.com"
    msg["Subject"] = "Lisbon office lease"
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
    if html:
        msg.set_content("<html><body><p>We renew the lease for <b>five</b> years.</p></body></html>",
                        subtype="html")
    else:
        msg.set_content("We renew the lease for five years.\n\nRent rises 3% a year.\n")
    for name, data, mime in attachments or []:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(msg)


def test_eml_headers_body_and_attachments(tmp_path) -> None:  # noqa: ANN001
    make_pdf(tmp_path / "terms.pdf")
    pdf = (tmp_path / "terms.pdf").read_bytes()
    data = make_eml([
        ("terms.pdf", pdf, "application/pdf"),
        ("deck.pptx", make_pptx(), "application/octet-stream"),
        ("tool.exe", b"MZ\x90\x00", "application/octet-stream"),
        ("broken.docx", b"PK\x03\x04 not a zip", "application/octet-stream"),
    ])
    doc = load_bytes(data, "lease.eml", max_bytes=MB)
    check_blocks(doc)
    assert doc.format == "eml" and doc.title == "Lisbon office lease"
    assert texts(doc, "heading")[:2] == ["Lisbon office lease", "terms.pdf"]
    header = texts(doc, "paragraph")[0]
    assert header.splitlines() == ["From: Ana Silva <ana@example.com>", "To: board@example.com",
                                   "Date: Mon, 02 Mar 2026 10:00:00 +0000"]
    assert "Rent rises 3% a year." in texts(doc, "paragraph")
    report = {a["filename"]: a for a in doc.metadata["attachments"]}  # type: ignore[union-attr]
    assert report["terms.pdf"]["status"] == "indexed" and report["deck.pptx"]["format"] == "pptx"
    assert report["tool.exe"] == {"filename": "tool.exe", "bytes": 4, "status": "skipped",
                                  "reason": "unsupported_format", "message": report["tool.exe"]["message"]}
    assert report["broken.docx"]["reason"] == "corrupt_document"
    a, b = report["deck.pptx"]["start"], report["deck.pptx"]["end"]
    assert doc.text[a:b] == load_bytes(make_pptx(), "deck.pptx", max_bytes=MB).text  # offsets exact
    levels = {doc.text[x.start : x.end]: x.level for x in doc.blocks if x.kind == "heading"}
    assert levels["deck.pptx"] == 1 and levels["Results"] == 2  # an attachment's headings nest under it
    assert "Passwords must be at least 14 characters long." in doc.text


def test_eml_html_body_nested_messages_and_limits() -> None:
    doc = load_bytes(make_eml(html=True), "h.eml", max_bytes=MB)
    assert "We renew the lease for five years." in texts(doc, "paragraph")
    inner = make_eml([("notes.txt", b"Deep note.", "text/plain")])
    outer = make_eml([("fwd.eml", inner, "application/octet-stream")])
    doc = load_bytes(outer, "o.eml", max_bytes=MB)
    assert "Deep note." in doc.text
    shallow = load_bytes(outer, "o.eml", max_bytes=MB, options=LoadOptions(max_depth=1))
    nested = shallow.metadata["attachments"][0]  # type: ignore[index]
    assert nested["status"] == "indexed" and "Deep note." not in shallow.text
    few = load_bytes(make_eml([("a.txt", b"One.", "text/plain"), ("b.txt", b"Two.", "text/plain")]), "f.eml",
                     max_bytes=MB, options=LoadOptions(max_attachments=1))
    assert [a["status"] for a in few.metadata["attachments"]] == ["indexed", "skipped"]  # type: ignore[union-attr]
    assert "Two." not in few.text


@pytest.mark.parametrize("name", ["a.pptx", "a.xlsx", "a.docx"])
def test_corrupt_office_files(name: str) -> None:
    real = {"a.pptx": make_pptx, "a.xlsx": make_xlsx}.get(name)
    with pytest.raises(CorruptDocument, match=name):
        load_bytes(b"PK\x03\x04 not a zip at all", name, max_bytes=MB)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "a zip, but not an office document")
    with pytest.raises(CorruptDocument) as info:
        load_bytes(buffer.getvalue(), name, max_bytes=MB)
    assert info.value.__cause__ is not None
    if real is not None:
        data = real()
        with pytest.raises(CorruptDocument):
            load_bytes(data[: len(data) // 2], name, max_bytes=MB)


def test_corrupt_and_empty_email() -> None:
    with pytest.raises(CorruptDocument, match="junk.eml"):
        load_bytes(b"\x00\x01 no headers here at all", "junk.eml", max_bytes=MB)
    with pytest.raises(CorruptDocument, match="junk.msg"):
        load_bytes(b"not an OLE compound file", "junk.msg", max_bytes=MB)
    with pytest.raises(EmptyDocument):
        load_bytes(b"", "e.eml", max_bytes=MB)


def _bomb(member: str, size: int) -> bytes:
    """A real xlsx with one extra member of ``size`` zero bytes (deflates to about size/1000)."""
    buffer = io.BytesIO(make_xlsx())
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, b"\0" * size)
    return buffer.getvalue()


def test_zip_bombs_and_entry_floods_are_refused_before_parsing() -> None:
    data = _bomb("xl/media/zeros.bin", 48 * 1024 * 1024)
    assert len(data) < 200_000
    with pytest.raises(FileTooLarge) as info:
        load_bytes(data, "bomb.xlsx", max_bytes=MB, options=LoadOptions(max_unpacked_bytes=32 * 1024 * 1024))
    assert info.value.details["unpacked_bytes"] > 48 * 1024 * 1024
    assert load_bytes(data, "bomb.xlsx", max_bytes=MB).format == "xlsx"  # under the default cap
    buffer = io.BytesIO(make_pptx())
    with zipfile.ZipFile(buffer, "a") as archive:
        for i in range(300):
            archive.writestr(f"junk/{i}.xml", "<x/>")
    with pytest.raises(FileTooLarge, match="entries") as info:
        load_bytes(buffer.getvalue(), "flood.pptx", max_bytes=MB, options=LoadOptions(max_entries=200))
    assert info.value.details["max_entries"] == 200
