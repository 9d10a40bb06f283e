"""Secret detectors: every type is found with its own label, look-alikes are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tether.guard.secrets import SECRET_TYPES, find_secrets, mask, shannon_entropy

DATA = Path(__file__).parent / "data" / "secrets.jsonl"

EXAMPLES = {
    "OPENAI_KEY": "OPENAI_API_KEY=sk-proj-Z3kq9VbT1xWm4Yp7Lr2Nc8Hd5Fg0Js6A",
    "AWS_ACCESS_KEY": "aws_access_key_id = AKIAZ7Q2M4K9P1X3V8WB",
    "GITHUB_TOKEN": "git clone https://ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8@github.com/acme/x.git",
    "SLACK_TOKEN": "SLACK_BOT_TOKEN=xoxb-12345678901-12345678901-AbCdEfGhIjKlMnOpQrStUvWx",
    "JWT": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7v\n-----END RSA PRIVATE KEY-----",
    "PASSWORD": "db:\n  user: app\n  password: Tr0ub4dor&3x",
    "GENERIC_SECRET": 'api_key = "q8Xf2Lp0Zr7Kd3Wm9Tn4Bv6Hs1Yc5Ge"',
}


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_secret_type_is_found(kind: str) -> None:
    text = EXAMPLES[kind]
    found = find_secrets(text)
    assert kind in {e.type for e in found}, found
    entity = next(e for e in found if e.type == kind)
    assert text[entity.start : entity.end] not in ("", "password")
    assert entity.preview is not None and text[entity.start : entity.end] not in entity.preview


def test_password_span_is_the_value_only() -> None:
    text = "password=hunter2x"
    [entity] = find_secrets(text)
    assert text[entity.start : entity.end] == "hunter2x"


def test_password_in_a_connection_url() -> None:
    text = "postgresql://app:s3cretPw@db.internal:5432/prod"
    assert [text[e.start : e.end] for e in find_secrets(text)] == ["s3cretPw"]


@pytest.mark.parametrize(
    "text",
    [
        "Set password=<your-password> before starting.",
        "password: ********",
        "DB_PASSWORD=${DB_PASSWORD}",
        "api_key = None",
        "The password must be at least 12 characters long.",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
        "We use sklearn and ask-me-anything sessions.",
        "access_token: aaaaaaaaaaaaaaaaaaaaaaaa",
    ],
)
def test_look_alikes_are_not_secrets(text: str) -> None:
    assert find_secrets(text) == []


def test_labelled_set_is_fully_detected() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 100
    # the eight types of the first detectors; every later type is covered by test_secret_families
    assert {r["type"] for r in rows if r["label"]} <= SECRET_TYPES
    assert len({r["type"] for r in rows if r["label"]}) == 8
    for row in rows:
        types = {e.type for e in find_secrets(row["text"])}
        if row["label"]:
            assert row["type"] in types, row
        else:
            assert not types, row


def test_mask_hides_the_value() -> None:
    assert mask("short") == "*****"
    assert mask("sk-abcdefghijklmnop") == "sk****op"
    assert shannon_entropy("aaaa") == 0.0 and shannon_entropy("a1B2c3D4e5F6g7H8") > 3.5
