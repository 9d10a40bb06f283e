"""Worst-case ingest cost per KB: pathological documents through the real upload + job pipeline.

    python bench/ingest_limits.py [--scale 1.0] [--only NAME ...]

Each document is uploaded by a member (``IngestService.upload``: labels, rights, quotas) and its
job run by a real worker with the bundled embedder. Per document: input KB, worker seconds, ms
per KB of input, how it ended (``ingested``; ``refused at upload``; ``refused before embedding``:
the job failed with nothing embedded; ``failed after embedding``), the error code, chunks, and
the texts embedded. Pathologies: one huge heading (the issue-17 reproduction), thousands of
nested headings, long headings repeated as context, huge and wide tables (markdown, CSV, XLSX),
one long line, many tiny paragraphs, deep HTML and JSON nesting, and ZIP bombs (DOCX and XLSX
over the unpacked-size cap, too many entries) and their admitted just-under-the-cap cousins.
``--scale`` multiplies the sizes. Prints a table, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from _common import bench_database, final_json, print_table

WORDS = ("policy employee leave contract invoice customer support pricing retention server incident "
         "security password laptop travel expense approval budget renewal notice period data region").split()


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def plain_prose(rng: random.Random, s: float) -> tuple[str, bytes]:
    """The baseline: ordinary prose in sections of a few paragraphs."""
    parts = [f"## Section {i}\n\n" + "\n\n".join(_words(rng, 60).capitalize() + "." for _ in range(4))
             for i in range(int(60 * s))]
    return "plain-prose.md", ("# Handbook\n\n" + "\n\n".join(parts)).encode()


def long_heading(rng: random.Random, s: float) -> tuple[str, bytes]:
    words = [f"w{rng.randint(0, 5000)}" for _ in range(int(20000 * s))]
    heading = "# " + " ".join(words[: int(15000 * s)]) + "\n\n"
    body = "\n\n".join(" ".join(words[i:i + 60]) + "." for i in range(0, int(5000 * s), 60))
    return "long-heading.md", (heading + body).encode()


def deep_headings(rng: random.Random, s: float) -> tuple[str, bytes]:
    parts = [f"{'#' * (1 + i % 6)} Section {i} {_words(rng, 8)}\n\n{_words(rng, 6)}.\n" for i in range(int(1000 * s))]
    return "deep-headings.md", "\n".join(parts).encode()


def repeated_context(rng: random.Random, s: float) -> tuple[str, bytes]:
    title = "# " + _words(rng, 140)[:990] + "\n\n"
    parts = [f"## {_words(rng, 150)[:990]}\n\n{_words(rng, 40)}.\n" for _ in range(int(100 * s))]
    return "repeated-context.md", (title + "\n".join(parts)).encode()


def huge_table_md(rng: random.Random, s: float) -> tuple[str, bytes]:
    head = "| " + " | ".join(f"col{i}" for i in range(8)) + " |\n|" + "---|" * 8 + "\n"
    rows = ["| " + " | ".join(rng.choice(WORDS) for _ in range(8)) + " |" for _ in range(int(60000 * s))]
    return "huge-table.md", ("# Table\n\n" + head + "\n".join(rows) + "\n").encode()


def huge_table_csv(rng: random.Random, s: float) -> tuple[str, bytes]:
    rows = [",".join(f"col{i}" for i in range(8))]
    rows += [",".join(rng.choice(WORDS) for _ in range(8)) for _ in range(int(2000 * s))]
    return "huge-table.csv", ("\n".join(rows) + "\n").encode()


def wide_table_csv(rng: random.Random, s: float) -> tuple[str, bytes]:
    cols = int(1000 * s)
    rows = [",".join(f"c{i}" for i in range(cols))] + [",".join(rng.choice(WORDS) for _ in range(cols))
                                                        for _ in range(20)]
    return "wide-table.csv", ("\n".join(rows) + "\n").encode()


def long_line(rng: random.Random, s: float) -> tuple[str, bytes]:
    return "long-line.txt", (_words(rng, int(30000 * s)) + "\n").encode()


def long_token(rng: random.Random, s: float) -> tuple[str, bytes]:
    return "long-token.txt", ("x" * int(1_000_000 * s) + "\n").encode()


def tiny_paragraphs(rng: random.Random, s: float) -> tuple[str, bytes]:
    return "tiny-paragraphs.md", "\n\n".join(f"{rng.choice(WORDS)}." for _ in range(int(10000 * s))).encode()


def deep_html(rng: random.Random, s: float) -> tuple[str, bytes]:
    n = int(20000 * s)
    return "deep-nesting.html", (f"<html><body>{'<div>' * n}<p>{_words(rng, 20)}.</p>{'</div>' * n}"
                                 "</body></html>").encode()


def deep_json(rng: random.Random, s: float) -> tuple[str, bytes]:
    n = int(50000 * s)
    return "deep-nesting.json", ("[" * n + '"' + _words(rng, 10) + '"' + "]" * n).encode()


def _docx(body_xml_chunks: Callable[[], object], extra_entries: int = 0) -> bytes:
    """A DOCX made by python-docx whose ``word/document.xml`` body is streamed from the chunks."""
    import docx

    base = io.BytesIO()
    docx.Document().save(base)
    out = io.BytesIO()
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                dst.writestr(info, src.read(info))
                continue
            xml = src.read(info).decode()
            head, tail = xml.split("<w:body>", 1)
            with dst.open("word/document.xml", "w") as f:
                f.write((head + "<w:body>").encode())
                for chunk in body_xml_chunks():  # type: ignore[attr-defined]
                    f.write(chunk)
                f.write(tail.encode())
        for i in range(extra_entries):
            dst.writestr(f"customXml/item{i}.xml", "<a/>")
    return out.getvalue()


def _paragraphs(rng: random.Random, total_bytes: int):
    para = f"<w:p><w:r><w:t>{_words(rng, 30)}.</w:t></w:r></w:p>".encode()
    block = para * 1000
    for _ in range(max(1, total_bytes // len(block))):
        yield block


def docx_bomb(rng: random.Random, s: float) -> tuple[str, bytes]:
    return "zip-bomb.docx", _docx(lambda: _paragraphs(rng, int(250 * 2**20 * max(s, 1))))


def docx_under_cap(rng: random.Random, s: float) -> tuple[str, bytes]:
    return "big-under-cap.docx", _docx(lambda: _paragraphs(rng, int(20 * 2**20 * s)))


def docx_entries(rng: random.Random, s: float) -> tuple[str, bytes]:
    return "many-entries.docx", _docx(lambda: _paragraphs(rng, 2**16), extra_entries=10_001)


def _xlsx(rows: int, cols: int, rng: random.Random, bomb_bytes: int = 0) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Data")
    for _ in range(rows):
        sheet.append([rng.choice(WORDS) for _ in range(cols)])
    base = io.BytesIO()
    book.save(base)
    if not bomb_bytes:
        return base.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if not info.filename.startswith("xl/worksheets/"):
                dst.writestr(info, src.read(info))
                continue
            xml = src.read(info).decode()
            head, tail = xml.split("</sheetData>", 1)
            row = "<row>" + "".join(f'<c t="inlineStr"><is><t>{w}</t></is></c>' for w in WORDS[:10]) + "</row>"
            block = (row * 1000).encode()
            with dst.open(info.filename, "w") as f:
                f.write(head.encode())
                for _ in range(bomb_bytes // len(block)):
                    f.write(block)
                f.write(("</sheetData>" + tail).encode())
    return out.getvalue()


def xlsx_bomb(rng: random.Random, s: float) -> tuple[str, bytes]:
    return "zip-bomb.xlsx", _xlsx(10, 5, rng, bomb_bytes=int(250 * 2**20 * max(s, 1)))


def xlsx_under_cap(rng: random.Random, s: float) -> tuple[str, bytes]:
    return "big-under-cap.xlsx", _xlsx(int(3000 * s), 10, rng)


CASES = [plain_prose, long_heading, deep_headings, repeated_context, huge_table_md, huge_table_csv, wide_table_csv,
         long_line, long_token, tiny_paragraphs, deep_html, deep_json, docx_bomb, docx_under_cap, docx_entries,
         xlsx_bomb, xlsx_under_cap]


def run_case(t, member, folder: Path, name: str, data: bytes) -> dict:
    from tether.errors import TetherError

    path = folder / name
    path.write_bytes(data)
    kb = len(data) / 1024
    embedded: list[int] = []
    real = t.embedder.embed
    t.embedder.embed = lambda texts: embedded.append(len(texts)) or real(texts)  # count, then embed for real
    t0 = time.perf_counter()
    try:
        try:
            batch = t.ingest.upload(member, path, name, acl=["public"])
        except TetherError as exc:
            secs = time.perf_counter() - t0
            return {"name": name, "kb": kb, "seconds": secs, "outcome": "refused at upload", "code": exc.code,
                    "chunks": 0, "embedded": 0}
        t.work(batch_id=batch.batch_id)
        secs = time.perf_counter() - t0
    finally:
        t.embedder.embed = real
    [job] = t.batch_report(batch.batch_id)
    n_embedded = sum(embedded)
    if job["status"] == "done":
        outcome, code = "ingested", ""
    else:
        outcome = "refused before embedding" if n_embedded == 0 else "failed after embedding"
        code = (job.get("error") or {}).get("code", "")
        if code == "internal":  # an unhandled error: show it (the bench's bar is none)
            print(f"    internal error: {(job.get('error') or {}).get('message', '')[:300]}", file=sys.stderr)
    return {"name": name, "kb": kb, "seconds": secs, "outcome": outcome, "code": code, "attempts": job["attempts"],
            "chunks": (job.get("result") or {}).get("chunks", 0), "embedded": n_embedded}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every document's size")
    ap.add_argument("--only", nargs="*", default=None, help="case function names (e.g. deep_html)")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()

    from tether.engine import Tether
    from tether.store import principals

    cases = [c for c in CASES if not args.only or c.__name__ in args.only]
    results = []
    with bench_database() as (settings, _url), tempfile.TemporaryDirectory() as tmp, Tether(settings) as t:
        with t.db.transaction() as conn:
            principals.ensure_user(conn, "member")
        member = t.principal("member")
        t.embedder.embed(["warm up"])
        for i, case in enumerate(cases, 1):
            g0 = time.perf_counter()
            name, data = case(random.Random(args.seed), args.scale)
            gen_s = time.perf_counter() - g0
            print(f"[{i}/{len(cases)}] {name}: {len(data) / 1024:,.0f} KB (made in {gen_s:.1f} s) ...",
                  file=sys.stderr, flush=True)
            r = run_case(t, member, Path(tmp), name, data)
            r["ms_per_kb"] = 1000 * r["seconds"] / max(r["kb"], 1e-9)
            print(f"    {r['outcome']} {r['code']} in {r['seconds']:.2f} s", file=sys.stderr, flush=True)
            results.append(r)
    rows = [[r["name"], f"{r['kb']:,.0f}", f"{r['seconds']:.2f}", f"{r['ms_per_kb']:.2f}", r["outcome"],
             r["code"] or "-", r["chunks"], r["embedded"]] for r in results]
    print_table(f"Pathological uploads (scale {args.scale}; worker seconds from upload to job end, 1 worker)",
                ["document", "KB", "seconds", "ms/KB", "outcome", "error", "chunks", "embedded"], rows)
    worst = max(results, key=lambda r: r["ms_per_kb"])
    slowest = max(results, key=lambda r: r["seconds"])
    final_json({
        "scale": args.scale,
        "cases": {r["name"]: {"kb": round(r["kb"], 1), "seconds": round(r["seconds"], 3),
                              "ms_per_kb": round(r["ms_per_kb"], 3), "outcome": r["outcome"], "code": r["code"],
                              "chunks": r["chunks"], "embedded": r["embedded"]} for r in results},
        "worst_ms_per_kb": {"document": worst["name"], "ms_per_kb": round(worst["ms_per_kb"], 3)},
        "slowest": {"document": slowest["name"], "seconds": round(slowest["seconds"], 3)},
        "ingested_after_embedding_failed": sum(r["outcome"] == "failed after embedding" for r in results),
    })


if __name__ == "__main__":
    main()
