"""Sample documents for the ingest tests, generated with the real libraries (fpdf2, python-docx)."""

from __future__ import annotations

import json
from pathlib import Path

LOREM = (
    "Tether keeps every answer tied to its source. Dr. Ada Lovelace wrote the first program, e.g. for "
    "the Analytical Engine. The budget grew by 3.5 percent in 2024. Each chunk maps back to the exact "
    "characters of the document. Reviewers can check a citation in one click. "
)

MARKDOWN = f"""# Handbook

Welcome to the handbook. {LOREM}

## Leave

### Annual leave

You get 25 days of annual leave. {LOREM * 3}

- Book leave in the HR tool.
- Tell your manager early.

### Sick leave

Call in before 10:00. {LOREM}

## Expenses

```
total = sum(items)
```

| item | limit |
|------|-------|
| hotel | 150 |

# Appendix

Contact people@example.com for questions.
"""

HTML = f"""<!doctype html>
<html lang="en"><head><title>Benefits Overview</title><style>p {{color: red}}</style>
<script>var secret = "do not index";</script></head>
<body>
<nav><a href="/">Home</a></nav>
<h1>Benefits</h1>
<p>All staff get <b>health</b> cover. {LOREM}</p>
<h2>Pension</h2>
<p>We match up to 5%.</p>
<ul><li>Join in week one.</li><li>Opt out any time.</li></ul>
<table><tr><th>Plan</th><th>Match</th></tr><tr><td>Basic</td><td>3%</td></tr></table>
<pre>code  keeps
  its spacing</pre>
</body></html>
"""


def make_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Security Policy")
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    pdf.start_section("Purpose", level=0)
    pdf.cell(0, 10, "Purpose", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "This policy protects company data. " + LOREM * 4)
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    pdf.start_section("Passwords", level=0)
    pdf.cell(0, 10, "Passwords", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Passwords must be at least 14 characters long. " + LOREM * 2)
    pdf.output(str(path))
    return path


def make_docx(path: Path) -> Path:
    from docx import Document

    doc = Document()
    doc.core_properties.title = "Onboarding Guide"
    doc.add_heading("Before day one", level=1)
    doc.add_paragraph("Your laptop arrives by courier. " + LOREM)
    doc.add_heading("Accounts", level=2)
    doc.add_paragraph("Activate your email account.", style="List Bullet")
    doc.add_paragraph("Set up two-factor authentication.", style="List Bullet")
    doc.add_heading("First week", level=1)
    doc.add_paragraph("Meet your buddy on Monday. " + LOREM * 2)
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Day", "Activity"
    table.cell(1, 0).text, table.cell(1, 1).text = "Monday", "Induction"
    doc.save(str(path))
    return path


def write_samples(root: Path) -> dict[str, Path]:
    files = {
        "md": root / "handbook.md",
        "txt": root / "notes.txt",
        "html": root / "benefits.html",
        "csv": root / "people.csv",
        "json": root / "register.json",
        "jsonl": root / "events.jsonl",
    }
    files["md"].write_text(MARKDOWN, encoding="utf-8")
    files["txt"].write_text(
        f"Plain notes\n\n{LOREM * 5}\n\n- first point\n- second point\n", encoding="utf-8"
    )
    files["html"].write_text(HTML, encoding="utf-8")
    files["csv"].write_text(
        "name,team,city\nAna,Legal,Lisbon\nBo,Finance,\n,,\nCy,Ops,Dublin\n", encoding="utf-8"
    )
    register = {
        "title": "Contract register",
        "contracts": [
            {"party": "Halden", "value": 1200.5, "renewal": {"auto": True}},
            {"party": "Quill", "value": None},
        ],
        "owner": "legal",
    }
    files["json"].write_text(json.dumps(register, indent=2), encoding="utf-8")
    files["jsonl"].write_text(
        '{"event": "login", "user": "ana"}\n\n{"event": "logout", "user": "bo"}\n', encoding="utf-8"
    )
    files["pdf"] = make_pdf(root / "policy.pdf")
    files["docx"] = make_docx(root / "onboarding.docx")
    return files
