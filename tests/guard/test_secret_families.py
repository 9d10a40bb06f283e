"""Secrets across >= 30 token families (detect-secrets plugins + Tether's rules), with exact
offsets; nothing found in code look-alikes or in the demo corpus beyond its one planted key."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tether.guard.secrets import SECRET_TYPES, find_secrets

_spec = importlib.util.spec_from_file_location("secret_families", Path(__file__).parent / "data" / "secret_families.py")
assert _spec and _spec.loader
families = importlib.util.module_from_spec(_spec)
sys.modules["secret_families"] = families
_spec.loader.exec_module(families)

CASES = list(families.cases())
REPO = Path(__file__).resolve().parents[2]


def _found(case: families.Case) -> bool:
    return any(e.type == case.type and (e.start, e.end) == (case.start, case.end) for e in find_secrets(case.text))


def test_the_set_covers_thirty_families_and_every_type() -> None:
    assert len(families.FAMILIES) >= 30
    assert {c.type for c in CASES} == SECRET_TYPES
    assert len({c.context for c in CASES}) >= 5


@pytest.mark.parametrize("family", sorted(families.FAMILIES))
def test_each_family_is_found_with_its_exact_span(family: str) -> None:
    cases = [c for c in CASES if c.family == family]
    missed = [(c.context, c.text[c.start:c.end][:40]) for c in cases if not _found(c)]
    assert len(missed) / len(cases) <= 0.02, missed


def test_recall_across_families_meets_the_bar() -> None:
    hits, n = Counter(), Counter()
    for c in CASES:
        n[c.family] += 1
        hits[c.family] += _found(c)
    assert min(hits[f] / n[f] for f in n) >= 0.98, {f: hits[f] / n[f] for f in n if hits[f] < n[f]}


def test_previews_never_show_the_secret() -> None:
    for c in CASES[::7]:
        for e in find_secrets(c.text):
            assert e.preview is not None and c.text[e.start:e.end] not in e.preview


@pytest.mark.parametrize("text", families.decoys())
def test_code_look_alikes_are_not_secrets(text: str) -> None:
    assert find_secrets(text) == [], [(e.type, text[e.start:e.end][:40]) for e in find_secrets(text)]


def test_demo_corpus_has_only_its_planted_key() -> None:
    """Every demo document through the project's loaders: the one fake API key planted in the
    triage guide (its golden questions must never show it) is found, and nothing else."""
    from tether.ingest.loaders import load_file

    found = {}
    for path in sorted((REPO / "demo" / "corpus").rglob("*")):
        if path.is_file():
            text = load_file(path, max_bytes=10**8).text
            name = path.relative_to(REPO / "demo" / "corpus").as_posix()
            found[name] = [text[e.start:e.end] for e in find_secrets(text)]
    assert len(found) >= 30
    flagged = {k: v for k, v in found.items() if v}
    assert flagged == {"support/ticket-triage-guide.md": ["sk-test-9vQ2mTx7LpR4kZ8nWc3YhB6dF1sJ5gA0"]}


def test_a_megabyte_of_hostile_text_is_scanned_in_linear_time() -> None:
    """Shapes that make naive patterns quadratic: key names without values, headers without
    footers, one long base64 line, runs of letters and digits, all in one 1 MB text."""
    parts = [
        "password=x api_key:y secret= //a.b/:_authToken= ://u:p " * 4000,
        "-----BEGIN RSA PRIVATE KEY-----\nabc\n" * 6000,
        "\n".join(families.decoys()) * 3,
        "a" * 300_000, "1234567890-" * 20_000,
    ]
    text = "".join(parts)[:1_000_000]
    assert len(text) == 1_000_000
    find_secrets("warm up")
    t0 = time.perf_counter()
    find_secrets(text)
    assert time.perf_counter() - t0 < 20.0  # ~3 s on 2 busy cores; a quadratic pattern takes minutes


def test_guard_scan_cli_keeps_its_shape(tmp_path: Path) -> None:
    from tether.cli.guard import app

    root = typer.Typer()
    root.add_typer(app, name="guard")
    token = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"
    f = tmp_path / "s.jsonl"
    f.write_text(json.dumps({"text": f"export HF_TOKEN={token}"}) + "\n", encoding="utf-8")
    res = CliRunner().invoke(root, ["guard", "scan", str(f), "--kind", "pii", "--mode", "light", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    [entity] = doc["results"][0]["entities"]
    assert set(entity) == {"type", "start", "end", "score", "detector", "preview"}
    assert (entity["type"], entity["start"], entity["end"]) == ("HUGGINGFACE_TOKEN", 16, 16 + len(token))
