"""Quotable units: a table row, a list item and a data record stay whole; a row knows its
header, an item its lead-in; offsets are exact slices of the text."""

from tether.text.units import block_spans, quotable_units

DOC = """# Salary Bands 2026

Reference code: CANARY-HR-ba8386

## Location factors

| Office | Factor | Example: L4 midpoint |
|--------|--------|----------------------|
| Dublin | 1.00 | EUR 84,000 |
| Lisbon | 0.72 | EUR 60,480 |

## 2026 pay review

- The total merit increase budget for 2026 is 3.5% of base payroll. It is
  effective 1 April 2026.
- A further 0.8% is reserved for promotions.

Complete these courses within 30 days of joining:

Security awareness training (about 45 minutes).

Data protection and GDPR essentials (30 minutes).

Before your first day

date: 2026-04-06; weekday: Monday; holiday: Easter Monday; offices_closed: Dublin;Utrecht
date: 2026-04-25; weekday: Saturday; holiday: Freedom Day; offices_closed: Lisbon

people[0].name: Maren Okafor
people[0].title: Chief Executive Officer
people[1].name: Tomasz Ledwith
people[1].title: Chief Technology Officer

3. CUSTODIANS

- Priya Natarajan (Enterprise Account Director)
- Keiko Vantress (VP Engineering)
"""


def _units():
    units = quotable_units(DOC)
    for u in units:
        assert DOC[u.start:u.end] == u.text and u.text == u.text.strip()
    assert all(a.end <= b.start for a, b in zip(units, units[1:]))
    return units


def test_table_rows_are_whole_with_their_header_as_context():
    rows = [u for u in _units() if u.kind == "row"]
    assert [u.text for u in rows] == ["| Dublin | 1.00 | EUR 84,000 |", "| Lisbon | 0.72 | EUR 60,480 |"]
    assert {u.context for u in rows} == {"| Office | Factor | Example: L4 midpoint |"}
    texts = [u.text for u in _units()]
    assert not any(t.startswith("| Office") or t.startswith("|---") for t in texts)  # header and rule: context only


def test_list_items_keep_their_continuation_and_lead_in():
    items = {u.text: u for u in _units() if u.kind == "item"}
    merit = next(t for t in items if "merit" in t)
    assert merit.endswith("effective 1 April 2026.") and merit.count("\n") == 1  # two sentences, one unit
    assert items[merit].context == "2026 pay review"
    paragraphs = [u for u in items.values() if "minutes" in u.text]  # bullets lost in a conversion
    assert len(paragraphs) == 2 and {u.context for u in paragraphs} == {
        "Complete these courses within 30 days of joining:"}
    custodians = [u for u in items.values() if "Natarajan" in u.text or "Vantress" in u.text]
    assert len(custodians) == 2 and {u.context for u in custodians} == {"3. CUSTODIANS"}
    assert len({u.block for u in custodians}) == 1 and items[merit].block != custodians[0].block


def test_records_are_whole_one_per_csv_row_and_per_json_index():
    records = [u.text for u in _units() if u.kind == "record"]
    assert records[0].startswith("date: 2026-04-06") and records[0].endswith("Dublin;Utrecht")
    assert records[1].startswith("date: 2026-04-25")
    assert records[2] == "people[0].name: Maren Okafor\npeople[0].title: Chief Executive Officer"
    assert records[3].startswith("people[1].name: Tomasz Ledwith")


def test_headings_are_not_units_and_prose_is_split_into_sentences():
    texts = [u.text for u in _units()]
    assert not any(t.startswith("#") for t in texts) and "3. CUSTODIANS" not in texts
    assert "Reference code: CANARY-HR-ba8386" in texts


def test_block_spans_cover_headers_for_grounding():
    spans = {DOC[s:e] for s, e in block_spans(DOC)}
    assert "| Office | Factor | Example: L4 midpoint |" in spans and "| Lisbon | 0.72 | EUR 60,480 |" in spans


def test_pipe_joined_rows_of_converted_html_tables():
    text = ("Core services\n\nService | Purpose | Tier\n\nflow-api | Public API | Tier 0\n\n"
            "flow-web | Web app | Tier 0\n")
    rows = [u for u in quotable_units(text) if u.kind == "row"]
    assert [u.text for u in rows] == ["flow-api | Public API | Tier 0", "flow-web | Web app | Tier 0"]
    assert rows[0].context == "Service | Purpose | Tier"


def test_plain_prose_is_sentences():
    units = quotable_units("One sentence here. Another one follows.")
    assert [(u.kind, u.text) for u in units] == [("sentence", "One sentence here."),
                                                 ("sentence", "Another one follows.")]
