"""Tether's own secret rules: token families detect-secrets has no plugin for, and the validators.

Why a table of our own next to :mod:`tether.guard.secret_plugins`: detect-secrets covers the
families it knows (AWS, Slack, GitHub, Stripe...), but not many tokens that now show up in
tickets and config (Google API keys, Hugging Face, Anthropic, Shopify, Vault...), nor the
password and key-name assignments Tether has always caught. Every pattern here is anchored on
a fixed prefix or a key name and has bounded repetition, so a scan stays linear on large text.
Validators throw out look-alikes (placeholders such as ``password=<your-password>``, words).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

Validator = Callable[[str], bool]
#: Moves a match's span ``(text, start, end)`` to the token's true extent, or drops it (``None``).
Adjust = Callable[[str, int, int], "tuple[int, int] | None"]

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


def is_real_value(value: str) -> bool:
    """Not empty, not a placeholder, template variable or environment lookup."""
    value = value.strip("'\"`,;")
    return len(value) >= 4 and not _PLACEHOLDER.match(value)


def looks_random(value: str) -> bool:
    """A machine-made value: long, high entropy, mixed character classes, not a placeholder."""
    classes = sum(bool(re.search(rx, value)) for rx in (r"[a-z]", r"[A-Z]", r"\d"))
    return len(value) >= 16 and shannon_entropy(value) >= 3.3 and classes >= 2 and is_real_value(value)


def mask(value: str) -> str:
    """A hint that is safe to log: at most 4 characters of a long value, never its length."""
    value = value.strip()
    if len(value) < 12:
        return "*" * len(value)
    return f"{value[:2]}****{value[-2:]}"


def _mixed(value: str) -> bool:
    """At least a digit and a letter past the prefix: keeps prose like ``sk-learn-...`` out."""
    return bool(re.search(r"\d", value)) and bool(re.search(r"[A-Za-z]", value))


@dataclass(frozen=True)
class Rule:
    """One detector: ``pattern``'s ``group`` (``None``: the first group that matched, else the
    whole match) is the reported span, after ``adjust``; ``validate`` sees that span's text.
    ``needles``: lower-case strings one of which every match contains; when the lower-cased
    text has none of them the rule is skipped (a 1 MB text costs each regex ~50 ms, a needle
    ~0.1 ms)."""

    type: str
    pattern: re.Pattern[str]
    score: float
    detector: str
    group: int | None = 0
    validate: Validator | None = None
    adjust: Adjust | None = None
    needles: tuple[str, ...] = ()


def _rule(kind: str, rx: str, score: float = 0.95, group: int | None = 0, validate: Validator | None = None,
          flags: int = 0, needles: tuple[str, ...] = ()) -> Rule:
    return Rule(kind, re.compile(rx, flags), score, "regex:secret", group, validate, None, needles)


# Token boundaries: a token starts after, and ends before, a character that cannot be part of it.
_B = r"(?<![A-Za-z0-9_\-+/])"
_E = r"(?![A-Za-z0-9_\-])"

RULES: list[Rule] = [
    _rule("PRIVATE_KEY",
          r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:(?:[^-]|-(?!----)){0,20000}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.{0,4000})",
          1.0, flags=re.DOTALL, needles=("private key",)),
    _rule("OPENAI_KEY", r"(?<![\w-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}(?![\w-])", 0.95,
          validate=lambda v: looks_random(v[3:]), needles=('sk-',)),
    _rule("ANTHROPIC_KEY", _B + r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,120}" + _E, 0.98, needles=('sk-ant-',)),
    _rule("AWS_ACCESS_KEY", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[A-Z0-9]{16}(?![A-Z0-9])", needles=('akia', 'asia', 'abia', 'acca', 'aroa', 'aida')),
    _rule("AWS_SECRET_KEY", r"(?i)aws_?secret(?:_access)?_?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
          0.95, 1, looks_random, needles=('aws',)),
    _rule("GITHUB_TOKEN", r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})(?!\w)", 0.98, needles=('ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_')),
    _rule("SLACK_TOKEN",
          r"(?<![\w-])xox[abposr]-(?:\d+-)+[A-Za-z0-9-]{8,}(?![\w-])|https://hooks\.slack\.com/services/T\w+/B\w+/\w{16,}",
          0.98),
    _rule("JWT", r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?![\w-])"),
    _rule("GCP_KEY", _B + r"AIza[0-9A-Za-z_-]{35}" + _E, needles=('aiza',)),
    _rule("GCP_KEY", _B + r"GOCSPX-[A-Za-z0-9_-]{28}" + _E, needles=('gocspx-',)),
    _rule("GCP_KEY", _B + r"ya29\.[A-Za-z0-9_-]{30,300}" + _E, 0.9, needles=('ya29.',)),
    _rule("AZURE_KEY", _B + r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}" + _E, 0.9, validate=_mixed, needles=('q~',)),
    _rule("AZURE_KEY", r"(?i)(?<![\w-])(?:SharedAccessKey|AccountKey)=([A-Za-z0-9+/]{30,100}={0,2})(?=[;\s\"']|$)", 0.95, 1,
          looks_random, needles=('accountkey=', 'sharedaccesskey=')),
    _rule("NPM_TOKEN", _B + r"npm_[A-Za-z0-9]{36}" + _E, 0.98, needles=('npm_',)),
    _rule("NPM_TOKEN", r"(?<=:_authToken=)([A-Za-z0-9_\-]{36,100})" + _E, 0.95, 1, looks_random, needles=(':_authtoken=',)),
    _rule("STRIPE_KEY", _B + r"(?:sk|rk|pk)_(?:test|live)_[0-9A-Za-z]{24,247}" + _E, 0.95,
          validate=lambda v: not v.startswith("pk_") and _mixed(v[8:]), needles=('_test_', '_live_')),
    _rule("STRIPE_KEY", _B + r"whsec_[A-Za-z0-9]{32,64}" + _E, needles=('whsec_',)),
    _rule("TWILIO_KEY", r"(?<![A-Za-z0-9])SK[0-9a-f]{32}(?![A-Za-z0-9])", 0.9, needles=('sk',)),
    _rule("MAILGUN_KEY", _B + r"key-[0-9a-f]{32}" + _E, 0.9, needles=('key-',)),
    _rule("HUGGINGFACE_TOKEN", _B + r"hf_[A-Za-z]{34}" + _E, 0.95, needles=('hf_',)),
    _rule("SHOPIFY_TOKEN", _B + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _E, 0.98, needles=('shp',)),
    _rule("DATABRICKS_TOKEN", _B + r"dapi[a-f0-9]{32}(?:-\d)?" + _E, 0.95, needles=('dapi',)),
    _rule("VAULT_TOKEN", _B + r"hv[sb]\.[A-Za-z0-9_-]{24,200}" + _E, 0.95, validate=_mixed, needles=('hvs.', 'hvb.')),
    _rule("DOPPLER_TOKEN", _B + r"dp\.(?:st|ct|sa|scim|audit|pt)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44}" + _E, 0.98, needles=('dp.',)),
    _rule("DIGITALOCEAN_TOKEN", _B + r"do[opr]_v1_[a-f0-9]{64}" + _E, 0.98, needles=('_v1_',)),
    _rule("LINEAR_KEY", _B + r"lin_(?:api|oauth)_[A-Za-z0-9]{40}" + _E, 0.98, needles=('lin_',)),
    _rule("NOTION_TOKEN", _B + r"(?:secret_[A-Za-z0-9]{43}|ntn_[0-9]{11}[A-Za-z0-9]{35})" + _E, 0.9, validate=_mixed, needles=('secret_', 'ntn_')),
    _rule("POSTMAN_KEY", _B + r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}" + _E, 0.98, needles=('pmak-',)),
    _rule("SENTRY_TOKEN", _B + r"(?:sntrys_eyJ[A-Za-z0-9_=+/-]{60,400}|sntryu_[a-f0-9]{64})" + _E, 0.98, needles=('sntry',)),
    _rule("GRAFANA_TOKEN", _B + r"(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_eyJ[A-Za-z0-9+/=_-]{32,400})" + _E, 0.98, needles=('glsa_', 'glc_')),
    _rule("NEWRELIC_KEY", _B + r"NR(?:AK|II|JS)-[A-Za-z0-9]{27}" + _E, 0.95, needles=('nrak-', 'nrii-', 'nrjs-')),
    _rule("ATLASSIAN_TOKEN", _B + r"ATATT3[A-Za-z0-9_\-=]{150,250}" + _E, 0.98, needles=('atatt3',)),
    _rule("DROPBOX_TOKEN", _B + r"sl\.[A-Za-z0-9_-]{130,160}" + _E, 0.95, needles=('sl.',)),
    _rule("AGE_KEY", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}(?![A-Z0-9])", 1.0, needles=('age-secret-key-1',)),
    _rule("SQUARE_TOKEN", _B + r"(?:sq0atp-[0-9A-Za-z_-]{22}|EAAA[A-Za-z0-9_-]{60})" + _E, 0.9, validate=_mixed, needles=('sq0atp-', 'eaaa')),
    # password=..., passwd: ..., secret = "...", in config files, env files, URLs and CLI flags.
    _rule("PASSWORD",
          r"(?i)(?<![\w-])(?:password|passwd|pwd|pass|secret|db_pass(?:word)?|\w+_password)[\"']?"
          r"(?:\s*=\s*|\s*:\s*)([\"']?)((?!\s)[^\s\"',;]{1,200})\1(?=[\s,;}\]]|$)", 0.9, 2, is_real_value,
          needles=("pass", "pwd", "secret")),
    _rule("PASSWORD", r"(?<=[a-z]://)[^\s:/@]+:([^\s:/@]{3,100})(?=@[\w.-]+)", 0.9, 1, is_real_value, needles=('://',)),
    # A high-entropy token after a key name: api_key=..., "access_token": "...", Bearer ...
    _rule("GENERIC_SECRET",
          r"(?i)(?:api[_-]?key|apikey|access[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|"
          r"client[_-]?secret|private[_-]?key|signing[_-]?key|\btoken|x-api-key)[\"']?\s*(?:=|:|=>)\s*[\"']?([A-Za-z0-9_\-+/=.~]{16,300})",
          0.85, 1, looks_random, needles=("key", "token", "secret")),
    _rule("GENERIC_SECRET", r"(?i)\bbearer\s+([A-Za-z0-9_\-+/=.~]{20,500})", 0.85, 1, looks_random, needles=('bearer',)),
]
