"""Regex detectors for credentials: provider API keys, tokens, private keys, passwords.

Why not Presidio: Presidio has no secret recognizers, and secrets are the one thing that must be
caught on every path, including hot ones where loading spaCy is too slow. Each detector is a
compiled regex plus, where the format allows, a validator that throws out look-alikes
(placeholders such as ``password=<your-password>``, low-entropy words after key names).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

from tether.guard.base import Entity

SECRET_TYPES = frozenset(
    {
        "OPENAI_KEY",
        "AWS_ACCESS_KEY",
        "GITHUB_TOKEN",
        "SLACK_TOKEN",
        "JWT",
        "PRIVATE_KEY",
        "PASSWORD",
        "GENERIC_SECRET",
    }
)

_PLACEHOLDER = re.compile(
    r"^(?:<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|%\(?\w*\)?s?|\*+|x+|\.+|-+|_+|\?+|null|none|nil|"
    r"true|false|redacted|\[redacted\]|changeme|your[_-]?\w*|example\w*|placeholder|secret|password|"
    r"env|os\.environ.*|getenv.*|process\.env.*|replace[_-]?me|todo|tbd|dummy|.*example.*|.*not[_-]?real.*|fake.*)$",
    re.IGNORECASE,
)


def shannon_entropy(value: str) -> float:
    """Bits per character; random tokens score >= 3.5, words and repeated chars much lower."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(value: str) -> bool:
    classes = sum(bool(re.search(rx, value)) for rx in (r"[a-z]", r"[A-Z]", r"\d"))
    return len(value) >= 16 and shannon_entropy(value) >= 3.3 and classes >= 2 and _is_real_value(value)


def _is_real_value(value: str) -> bool:
    value = value.strip("'\"`,;")
    return len(value) >= 4 and not _PLACEHOLDER.match(value)


Validator = Callable[[str], bool]

# (type, regex, score, value-group, validator). The value group is the span that is reported.
_DETECTORS: list[tuple[str, re.Pattern[str], float, int, Validator | None]] = [
    ("PRIVATE_KEY", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.{0,4000})",
        re.DOTALL), 1.0, 0, None),
    ("OPENAI_KEY", re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,200}(?![\w-])"), 0.95, 0,
     lambda v: _looks_random(v[3:])),
    ("AWS_ACCESS_KEY", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[A-Z0-9]{16}(?![A-Z0-9])"), 0.95, 0, None),
    ("GITHUB_TOKEN", re.compile(r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})(?!\w)"), 0.98, 0, None),
    ("SLACK_TOKEN", re.compile(r"(?<![\w-])xox[abposr]-(?:\d+-)+[A-Za-z0-9-]{8,}(?![\w-])|https://hooks\.slack\.com/services/T\w+/B\w+/\w{16,}"), 0.98, 0, None),
    ("JWT", re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?![\w-])"), 0.95, 0, None),
    # password=..., passwd: ..., secret = "...", in config files, env files, URLs and CLI flags.
    ("PASSWORD", re.compile(
        r"(?i)(?<![\w-])(?:password|passwd|pwd|pass|secret|db_pass(?:word)?|\w+_password)[\"']?"
        r"(?:\s*=\s*|\s*:\s*)([\"']?)((?!\s)[^\s\"',;]{1,200})\1(?=[\s,;}\]]|$)"), 0.9, 2, _is_real_value),
    ("PASSWORD", re.compile(r"(?<=[a-z]://)[^\s:/@]+:([^\s:/@]{3,100})(?=@[\w.-]+)"), 0.9, 1, _is_real_value),
    # A high-entropy token after a key name: api_key=..., "access_token": "...", Bearer ...
    ("GENERIC_SECRET", re.compile(
        r"(?i)(?:api[_-]?key|apikey|access[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|"
        r"client[_-]?secret|private[_-]?key|signing[_-]?key|\btoken|x-api-key)[\"']?\s*(?:=|:|=>)\s*[\"']?([A-Za-z0-9_\-+/=.~]{16,300})"),
        0.85, 1, _looks_random),
    ("GENERIC_SECRET", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9_\-+/=.~]{20,500})"), 0.85, 1, _looks_random),
]


def mask(value: str) -> str:
    """A hint that is safe to log: at most 4 characters of a long value, never its length."""
    value = value.strip()
    if len(value) < 12:
        return "*" * len(value)
    return f"{value[:2]}****{value[-2:]}"


def find_secrets(text: str) -> list[Entity]:
    """Every secret in ``text``; overlapping hits of the same span are left to the caller."""
    found: list[Entity] = []
    for kind, rx, score, group, validate in _DETECTORS:
        for m in rx.finditer(text):
            value = m.group(group)
            if validate is not None and not validate(value):
                continue
            start, end = m.span(group)
            found.append(Entity(kind, start, end, score, "regex:secret", mask(value)))
    return found
