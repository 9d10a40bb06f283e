"""Build the binary documents (PDF and DOCX) of the demo corpus from their sources.

Sources live in ``demo/sources/`` as markdown-ish text named ``<name>.<pdf|docx>.md``; each one
becomes ``demo/corpus/<same folder>/<name>.<pdf|docx>``. The generated files are committed, so the
Tether runtime never needs fpdf2; run this script only after editing a source:

    .venv/bin/python demo/build_corpus.py          # rebuild every PDF and DOCX
    .venv/bin/python demo/build_corpus.py --check  # fail if a committed binary is missing or stale

The markup understood is deliberately small:

* ``# ``, ``## ``, ``### `` headings (real Heading 1-3 styles in DOCX; in PDF bold sizes plus an
  outline entry per heading, which is where PDF loaders find structure);
* ``- `` bullets and ``1. `` numbered items;
* tables as consecutive lines starting with ``|`` (first row is the header; ``|---|`` rows skipped);
* everything else: paragraphs, consecutive lines joined with a space.

Output is deterministic (fixed creation dates and zip timestamps), so rebuilding an unchanged
source gives byte-identical files and no spurious git diff. PDFs use the core Helvetica font, which
is latin-1 only; a source for a PDF containing any other character is rejected.

Requires fpdf2 and python-docx (development dependencies only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

DEMO = Path(__file__).resolve().parent
SOURCES = DEMO / "sources"
CORPUS = DEMO / "corpus"
FIXED_DATE = dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
AUTHOR = "Corvane Systems Ltd"


# --------------------------------------------------------------------------- parsing


@dataclass
class Block:
    kind: str  # heading | para | bullet | number | table
    text: str = ""
    level: int = 0
    rows: list[list[str]] = field(default_factory=list)


_NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")


def parse(source: str) -> list[Block]:
    blocks: list[Block] = []
    para: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        nonlocal para, table
        if para:
            blocks.append(Block("para", " ".join(para)))
            para = []
        if table:
            blocks.append(Block("table", rows=table))
            table = []

    for raw in source.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if stripped.startswith("|"):
            if para:
                blocks.append(Block("para", " ".join(para)))
                para = []
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            table.append(cells)
            continue
        if table:
            flush()
        heading = re.match(r"^(#{1,3})\s+(.*)$", stripped)
        if heading:
            flush()
            blocks.append(Block("heading", heading.group(2), level=len(heading.group(1))))
        elif stripped.startswith("- "):
            flush()
            blocks.append(Block("bullet", stripped[2:]))
        elif _NUMBERED.match(stripped):
            flush()
            m = _NUMBERED.match(stripped)
            assert m
            blocks.append(Block("number", m.group(2), level=int(m.group(1))))
        else:
            para.append(stripped)
    flush()
    return blocks


def title_of(blocks: list[Block]) -> str:
    for b in blocks:
        if b.kind == "heading" and b.level == 1:
            return b.text
    raise ValueError("source has no '# ' title")


def classification_of(blocks: list[Block]) -> str:
    for b in blocks:
        m = re.search(r"Classification:\s*([A-Z]+)", b.text)
        if m:
            return m.group(1).capitalize()
    return "Internal"


def strip_bold(text: str) -> str:
    return text.replace("**", "")


# --------------------------------------------------------------------------- PDF


def build_pdf(blocks: list[Block], out: Path) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    title = title_of(blocks)
    classification = classification_of(blocks)

    class Doc(FPDF):
        def header(self) -> None:
            if self.page_no() == 1:
                return
            self.set_font("Helvetica", "I", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 6, f"{title}  |  Corvane Systems Ltd  |  {classification}", align="L")
            self.ln(9)
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-14)
            self.set_font("Helvetica", "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = Doc(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(title)
    pdf.set_author(AUTHOR)
    pdf.set_creator("demo/build_corpus.py")
    pdf.set_producer("fpdf2")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    width = pdf.epw

    sizes = {1: 17, 2: 13, 3: 11.5}
    for b in blocks:
        if b.kind == "heading":
            # Keep a heading with the text that follows it, and on the page its bookmark names.
            if pdf.get_y() > pdf.page_break_trigger - 30:
                pdf.add_page()
            pdf.ln(3 if b.level > 1 else 0)
            pdf.start_section(b.text, level=b.level - 1)  # outline entry (bookmark) = heading
            pdf.set_font("Helvetica", "B", sizes[b.level])
            pdf.multi_cell(width, sizes[b.level] * 0.55, b.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2 if b.level == 1 else 1.5)
        elif b.kind == "para":
            pdf.set_font("Helvetica", "", 10.5)
            pdf.multi_cell(width, 5.4, strip_bold(b.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
        elif b.kind in ("bullet", "number"):
            pdf.set_font("Helvetica", "", 10.5)
            marker = "-" if b.kind == "bullet" else f"{b.level}."
            pdf.set_x(pdf.l_margin + 4)
            pdf.cell(6, 5.4, marker)
            pdf.multi_cell(width - 10, 5.4, strip_bold(b.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif b.kind == "table":
            pdf.set_font("Helvetica", "", 9.5)
            ncols = max(len(r) for r in b.rows)
            with pdf.table(
                width=width,
                text_align="LEFT",
                line_height=5,
                headings_style=FontFace(emphasis="BOLD", fill_color=(225, 230, 238)),
            ) as table:
                for row in b.rows:
                    r = table.row()
                    for cell in row + [""] * (ncols - len(row)):
                        r.cell(strip_bold(cell))
            pdf.ln(3)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(pdf.output()))


# --------------------------------------------------------------------------- DOCX


def _add_runs(paragraph, text: str) -> None:
    """Add text to a python-docx paragraph, turning **x** into bold runs."""
    for i, part in enumerate(text.split("**")):
        if part:
            paragraph.add_run(part).bold = i % 2 == 1


def build_docx(blocks: list[Block], out: Path) -> None:
    import docx
    from docx.shared import Pt

    document = docx.Document()
    props = document.core_properties
    props.title = title_of(blocks)
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(11)

    for b in blocks:
        if b.kind == "heading":
            document.add_heading(b.text, level=b.level)
        elif b.kind == "para":
            _add_runs(document.add_paragraph(), b.text)
        elif b.kind == "bullet":
            _add_runs(document.add_paragraph(style="List Bullet"), b.text)
        elif b.kind == "number":
            _add_runs(document.add_paragraph(style="List Number"), b.text)
        elif b.kind == "table":
            ncols = max(len(r) for r in b.rows)
            table = document.add_table(rows=0, cols=ncols)
            table.style = "Table Grid"
            for ri, row in enumerate(b.rows):
                cells = table.add_row().cells
                for ci, text in enumerate(row + [""] * (ncols - len(row))):
                    cells[ci].text = ""
                    run = cells[ci].paragraphs[0].add_run(strip_bold(text))
                    run.bold = ri == 0
            document.add_paragraph()

    buf = io.BytesIO()
    document.save(buf)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_normalise_zip(buf.getvalue()))


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so identical content gives identical bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 3, 1, 9, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return buf.getvalue()


# --------------------------------------------------------------------------- driver


def targets() -> list[tuple[Path, Path, str]]:
    """(source, output, format) for every source file."""
    found = []
    for src in sorted(SOURCES.rglob("*.md")):
        m = re.fullmatch(r"(.+)\.(pdf|docx)\.md", src.name)
        if not m:
            raise SystemExit(f"unexpected source name {src} (want <name>.pdf.md or <name>.docx.md)")
        rel = src.relative_to(SOURCES).parent / f"{m.group(1)}.{m.group(2)}"
        found.append((src, CORPUS / rel, m.group(2)))
    return found


def build_one(src: Path, out: Path, fmt: str) -> None:
    text = src.read_text(encoding="utf-8")
    if fmt == "pdf":
        bad = sorted({ch for ch in text if ord(ch) > 0xFF})
        if bad:
            raise SystemExit(f"{src}: characters outside latin-1 cannot go into a core-font PDF: {bad}")
    blocks = parse(text)
    (build_pdf if fmt == "pdf" else build_docx)(blocks, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify committed binaries are up to date")
    args = ap.parse_args(argv)

    stale = []
    for src, out, fmt in targets():
        if args.check:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                fresh = Path(tmp) / out.name
                build_one(src, fresh, fmt)
                if not out.exists() or out.read_bytes() != fresh.read_bytes():
                    stale.append(out.relative_to(DEMO))
        else:
            build_one(src, out, fmt)
            print(f"built {out.relative_to(DEMO)} ({out.stat().st_size} bytes)")
    if stale:
        print("stale or missing:", *stale, sep="\n  ")
        return 1
    if args.check:
        print("all generated documents are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
