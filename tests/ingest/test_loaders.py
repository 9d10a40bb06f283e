"""Loaders: structure, exact offsets, titles and metadata per format, and every bad-input error."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from ingest_samples import MARKDOWN, make_pdf

from tether.errors import (
    CorruptDocument,
    EmptyDocument,
    FileTooLarge,
    IngestError,
    NotFound,
    UnsupportedFormat,
)
from tether.ingest import loaders
from tether.ingest.loaders import SUPPORTED_EXTENSIONS, load_bytes, load_file
from tether.types import LoadedDocument

MB = 10 * 1024 * 1024


def check_blocks(doc: LoadedDocument) -> None:
    assert doc.blocks, "a loaded document has blocks"
    previous_end = 0
    for block in doc.blocks:
        span = doc.text[block.start : block.end]
        assert span and span == span.strip(), block
        assert block.start >= previous_end, "blocks are in order and do not overlap"
        previous_end = block.end
        assert (block.level > 0) == (block.kind == "heading")


def texts(doc: LoadedDocument, kind: str) -> list[str]:
    return [doc.text[b.start : b.end] for b in doc.blocks if b.kind == kind]


def test_public_surface() -> None:
    assert loaders.__all__ == ["SUPPORTED_EXTENSIONS", "LoadOptions", "load_bytes", "load_file"]
    for ext in (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".csv", ".json", ".jsonl", ".pptx", ".xlsx",
                ".eml", ".msg"):
        assert ext in SUPPORTED_EXTENSIONS


@pytest.mark.parametrize("fmt", ["md", "txt", "html", "csv", "json", "jsonl", "pdf", "docx"])
def test_every_format_loads_with_exact_block_offsets(samples: dict[str, Path], fmt: str) -> None:
    doc = load_file(samples[fmt], max_bytes=MB)
    check_blocks(doc)
    assert doc.format == fmt
    assert doc.title
    assert doc.metadata["filename"] == samples[fmt].name


def test_markdown_text_is_the_source_and_headings_nest(samples: dict[str, Path]) -> None:
    doc = load_file(samples["md"], max_bytes=MB)
    assert doc.text == MARKDOWN
    assert doc.title == "Handbook"
    headings = [(doc.text[b.start : b.end], b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        ("Handbook", 1),
        ("Leave", 2),
        ("Annual leave", 3),
        ("Sick leave", 3),
        ("Expenses", 2),
        ("Appendix", 1),
    ]
    assert texts(doc, "list") == ["- Book leave in the HR tool.", "- Tell your manager early."]
    assert texts(doc, "code") == ["total = sum(items)"]
    assert texts(doc, "table") == ["| item | limit |", "| hotel | 150 |"]


def test_markdown_keeps_crlf_and_drops_bom() -> None:
    source = "# Title\r\n\r\nFirst para\r\nline two.\r\n\r\nSetext\r\n---\r\n\r\nBody.\r\n"
    doc = load_bytes(b"\xef\xbb\xbf" + source.encode(), "crlf.md", max_bytes=MB)
    assert doc.text == source
    check_blocks(doc)
    assert texts(doc, "paragraph") == ["First para\r\nline two.", "Body."]
    assert [(doc.text[b.start : b.end], b.level) for b in doc.blocks if b.kind == "heading"] == [
        ("Title", 1),
        ("Setext", 2),
    ]


def test_markdown_front_matter_and_closing_hashes() -> None:
    doc = load_bytes(b"---\ntitle: From front matter\n---\n## Section ##\n\nText.\n", "f.md", max_bytes=MB)
    assert doc.title == "From front matter"
    assert texts(doc, "heading") == ["Section"]
    assert "title:" not in "".join(doc.text[b.start : b.end] for b in doc.blocks)


def test_text_is_the_source_with_list_items(samples: dict[str, Path]) -> None:
    doc = load_file(samples["txt"], max_bytes=MB)
    assert doc.text == samples["txt"].read_text(encoding="utf-8")
    assert doc.title == "notes"  # plain text has no title markup: the file stem
    assert texts(doc, "list") == ["- first point", "- second point"]
    assert texts(doc, "paragraph")[0] == "Plain notes"


def test_html_structure(samples: dict[str, Path]) -> None:
    doc = load_file(samples["html"], max_bytes=MB)
    assert doc.title == "Benefits Overview"
    assert doc.metadata["lang"] == "en"
    assert [(doc.text[b.start : b.end], b.level) for b in doc.blocks if b.kind == "heading"] == [
        ("Benefits", 1),
        ("Pension", 2),
    ]
    assert texts(doc, "list") == ["Join in week one.", "Opt out any time."]
    assert texts(doc, "table") == ["| Plan | Match |", "| Basic | 3% |"]
    assert [b.header for b in doc.blocks if b.kind == "table"] == [True, False]
    assert texts(doc, "code") == ["code  keeps\n  its spacing"]
    assert "do not index" not in doc.text and "color: red" not in doc.text
    assert "All staff get health cover." in doc.text


def test_html_title_falls_back_to_h1() -> None:
    doc = load_bytes(b"<html><body><h1>Only  heading</h1><p>x</p></body></html>", "a.htm", max_bytes=MB)
    assert doc.title == "Only heading"


def test_pdf_pages_title_and_outline_headings(samples: dict[str, Path]) -> None:
    doc = load_file(samples["pdf"], max_bytes=MB)
    assert doc.title == "Security Policy"
    assert doc.metadata["pages"] == 2
    assert {b.page for b in doc.blocks} == {1, 2}
    assert [(doc.text[b.start : b.end], b.level, b.page) for b in doc.blocks if b.kind == "heading"] == [
        ("Purpose", 1, 1),
        ("Passwords", 1, 2),
    ]
    page_two = doc.metadata["page_starts"][1]
    assert all((b.page == 2) == (b.start >= page_two) for b in doc.blocks)
    assert "at least 14 characters" in doc.text[page_two:]


def test_pdf_without_metadata_title_uses_first_line(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 6, "Quarterly numbers\nRevenue rose.")
    doc = load_bytes(bytes(pdf.output()), "q.pdf", max_bytes=MB)
    assert doc.title == "Quarterly numbers"


def test_docx_structure(samples: dict[str, Path]) -> None:
    doc = load_file(samples["docx"], max_bytes=MB)
    assert doc.title == "Onboarding Guide"
    assert [(doc.text[b.start : b.end], b.level) for b in doc.blocks if b.kind == "heading"] == [
        ("Before day one", 1),
        ("Accounts", 2),
        ("First week", 1),
    ]
    assert texts(doc, "list") == ["Activate your email account.", "Set up two-factor authentication."]
    assert texts(doc, "table") == ["| Day | Activity |", "| Monday | Induction |"]
    assert [b.header for b in doc.blocks if b.kind == "table"] == [True, False]
    assert all(b.page is None for b in doc.blocks)


def test_csv_rows_are_named(samples: dict[str, Path]) -> None:
    doc = load_file(samples["csv"], max_bytes=MB)
    assert texts(doc, "table") == [
        "name: Ana; team: Legal; city: Lisbon",
        "name: Bo; team: Finance",
        "name: Cy; team: Ops; city: Dublin",
    ]
    assert doc.metadata["columns"] == ["name", "team", "city"]
    assert doc.metadata["rows"] == 3


def test_csv_semicolons_and_tsv() -> None:
    doc = load_bytes(b"a;b\n1;2\n", "x.csv", max_bytes=MB)
    assert doc.text == "a: 1; b: 2"
    doc = load_bytes(b"a\tb\n1\t2\n", "x.tsv", max_bytes=MB)
    assert doc.text == "a: 1; b: 2"


def test_json_is_flattened_per_record(samples: dict[str, Path]) -> None:
    doc = load_file(samples["json"], max_bytes=MB)
    assert doc.title == "Contract register"
    assert texts(doc, "table") == [
        "title: Contract register",
        "contracts[0].party: Halden\ncontracts[0].value: 1200.5\ncontracts[0].renewal.auto: true",
        "contracts[1].party: Quill\ncontracts[1].value: null",
        "owner: legal",
    ]


def test_json_lines(samples: dict[str, Path]) -> None:
    doc = load_file(samples["jsonl"], max_bytes=MB)
    assert texts(doc, "table") == ["event: login\nuser: ana", "event: logout\nuser: bo"]
    assert doc.metadata["records"] == 2


# -- errors ----------------------------------------------------------------------------------------


def test_unknown_extension_lists_supported() -> None:
    with pytest.raises(UnsupportedFormat) as info:
        load_bytes(b"data", "slides.key", max_bytes=MB)
    assert "slides.key" in info.value.message and ".key" in info.value.message
    assert ".pdf" in info.value.message and ".md" in info.value.message
    assert info.value.status == 415
    with pytest.raises(UnsupportedFormat):
        load_bytes(b"data", "README", max_bytes=MB)


def test_too_large_bytes() -> None:
    with pytest.raises(FileTooLarge) as info:
        load_bytes(b"x" * 101, "big.txt", max_bytes=100)
    assert info.value.details == {"filename": "big.txt", "size": 101, "max_bytes": 100}
    assert "101" in info.value.message and "100" in info.value.message


def test_too_large_file_is_refused_before_reading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(8 * 1024**3)  # sparse: reading it would take minutes and 8 GiB
    with pytest.raises(FileTooLarge):
        load_file(huge, max_bytes=MB)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_file(tmp_path / "nope.md", max_bytes=MB)


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html", "a.csv", "a.json", "a.jsonl", "a.pdf", "a.docx"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(EmptyDocument, match=name):
        load_file(tmp_path / name, max_bytes=MB)


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html", "a.csv", "a.json", "a.jsonl"])
def test_whitespace_only(name: str) -> None:
    with pytest.raises(EmptyDocument):
        load_bytes(b" \n\t\r\n  \n", name, max_bytes=MB)
    with pytest.raises(EmptyDocument):
        load_bytes(b"\xef\xbb\xbf  \n", name, max_bytes=MB)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.html", b"<html><head><title>t</title></head><body><script>x()</script></body></html>"),
        ("a.csv", b"only,a,header\n"),
        ("a.json", b"{}"),
        ("a.json", b"[[], {}]"),
    ],
)
def test_no_extractable_text(name: str, data: bytes) -> None:
    with pytest.raises(EmptyDocument):
        load_bytes(data, name, max_bytes=MB)


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)
    with pytest.raises(EmptyDocument, match="no extractable text"):
        load_bytes(bytes(pdf.output()), "scan.pdf", max_bytes=MB)


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html", "a.csv", "a.json", "a.jsonl"])
def test_invalid_utf8_names_byte_offset(name: str) -> None:
    data = "héllo wörld ".encode() + b"\xff\xfe rest"
    with pytest.raises(CorruptDocument) as info:
        load_bytes(data, name, max_bytes=MB)
    offset = len("héllo wörld ".encode())
    assert f"offset {offset}" in info.value.message
    assert info.value.details["byte_offset"] == offset
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_corrupt_pdf(samples: dict[str, Path]) -> None:
    with pytest.raises(CorruptDocument, match="bad.pdf") as info:
        load_bytes(b"%PDF-1.7\nthis is not really a pdf\n", "bad.pdf", max_bytes=MB)
    assert info.value.__cause__ is not None
    truncated = samples["pdf"].read_bytes()[:300]
    with pytest.raises(CorruptDocument):
        load_bytes(truncated, "cut.pdf", max_bytes=MB)


def test_corrupt_docx(samples: dict[str, Path]) -> None:
    data = samples["docx"].read_bytes()
    with pytest.raises(CorruptDocument, match="cut.docx") as info:
        load_bytes(data[: len(data) // 2], "cut.docx", max_bytes=MB)
    assert info.value.__cause__ is not None
    with pytest.raises(CorruptDocument):
        load_bytes(b"PK\x03\x04 not a zip", "fake.docx", max_bytes=MB)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "a zip, but not a word document")
    with pytest.raises(CorruptDocument):
        load_bytes(buffer.getvalue(), "zip.docx", max_bytes=MB)


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        ("bad.json", b'{"a": 1,\n "b": }', "line 2"),
        ("bad.json", b"[1, 2", "line 1"),
        ("bad.jsonl", b'{"a": 1}\n{"b": \n', "line 2"),
        ("bad.csv", b'a,b\n1,"unterminated\n', "line"),
        ("bad.csv", b'a,b\n1,"x"y\n', "line 2"),
    ],
)
def test_malformed_structured_text(name: str, data: bytes, where: str) -> None:
    with pytest.raises(CorruptDocument, match=name) as info:
        load_bytes(data, name, max_bytes=MB)
    assert where in info.value.message
    assert info.value.__cause__ is not None


def test_errors_share_the_ingest_base(tmp_path: Path) -> None:
    for exc in (UnsupportedFormat, FileTooLarge, EmptyDocument, CorruptDocument):
        assert issubclass(exc, IngestError)
    make_pdf(tmp_path / "p.pdf")
    assert (
        load_file(tmp_path / "p.pdf", max_bytes=MB).metadata["bytes"] == (tmp_path / "p.pdf").stat().st_size
    )


def test_pdf_outline_titles_become_headings_even_after_full_lines() -> None:
    """Every bookmark of the demo PDFs becomes a heading block (a heading right after a
    full-width line used to be glued to that paragraph)."""
    from pypdf import PdfReader

    from tether.ingest.loaders import load_file as _load

    root = Path(__file__).resolve().parents[2] / "demo" / "corpus"

    def count(items) -> int:
        return sum(count(i) if isinstance(i, list) else 1 for i in items)

    pdfs = sorted(root.rglob("*.pdf"))
    assert pdfs
    for pdf in pdfs:
        doc = _load(pdf, max_bytes=10**7)
        headings = [b for b in doc.blocks if b.kind == "heading"]
        assert len(headings) == count(PdfReader(str(pdf)).outline), pdf.name
