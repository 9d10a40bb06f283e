"""detect-secrets' detectors as Tether rules: its maintained patterns, our offsets.

Why: detect-secrets (Yelp) keeps a well-reviewed set of token patterns (AWS, Azure, Slack,
Discord, GitHub, GitLab, PyPI, Stripe, Twilio, SendGrid, Mailchimp, Telegram, Square, IBM...)
and a list of secret key names. Only its detectors are used, never its baseline or file
scanning machinery: each plugin's compiled ``denylist`` regexes are run with ``finditer`` so
every finding has exact offsets in the text (the plugins themselves only yield values), then
the span is moved to the token's true extent (the plugins' patterns have no boundaries, and
some stop short of the token's end) and checked by the plugin's own validator where it has
one (JWTs). Plugins whose patterns scan a whole line per candidate (npm's ``.npmrc`` rule) or
flag any quoted high-entropy string (hashes, images) are left out; Tether's own rules
(:mod:`tether.guard.secret_rules`) cover those families. Importing detect-secrets costs
~0.4 s, so the rules are built on first use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from tether.guard.base import Entity
from tether.guard.secret_rules import Rule, is_real_value, looks_random, mask, shannon_entropy

_TOKEN = re.compile(r"[A-Za-z0-9_-]*")
_BLOB_CHARS = re.compile(r"[A-Za-z0-9+/=]*")
_lock = threading.Lock()
_rules: list[Rule] | None = None


def _inside_blob(text: str, start: int, end: int) -> bool:
    """True when the span sits inside a much longer base64 run (an inline image, a binary blob)."""
    left = start
    while left > 0 and (text[left - 1].isalnum() or text[left - 1] in "+/="):
        left -= 1
        if start - left > 64:
            break
    right = _BLOB_CHARS.match(text, end, min(len(text), end + 256))
    run = (right.end() if right else end) - left
    return run >= 200 and run >= 2 * (end - start)


def _token(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The whole token: no token character right before it, extended over trailing ones."""
    while start < end and text[start] in " \t\r\n\"'=:`":
        start += 1
    while end > start and text[end - 1] in " \t\r\n\"'":
        end -= 1
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-+"):
        return None
    if end == start or text[end - 1].isalnum():  # a pattern that stops short of the token's end
        tail = _TOKEN.match(text, end)
        end = tail.end() if tail else end
    if end <= start or _inside_blob(text, start, end):
        return None
    return start, end


_FOOTER = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\n\s*\n|-----BEGIN ")


def _private_key(text: str, start: int, end: int) -> tuple[int, int] | None:
    """A key header found by the plugin: report the whole armoured block (or the PuTTY file)."""
    dashes = text.rfind("-----", max(0, start - 6), start)
    start = dashes if dashes >= 0 else start
    footer = _FOOTER
    m = footer.search(text, end, min(len(text), end + 20000))
    end = m.end() if m and m.group().startswith("-----END") else (m.start() if m else min(len(text), end + 4000))
    return start, end


def _azure(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``AccountKey=<88 chars>``: report the key only, padding included."""
    if text.startswith("AccountKey=", start):
        start += len("AccountKey=")
    while end < len(text) and text[end] == "=":
        end += 1
    return start, end


def _entropy(value: str) -> bool:
    return shannon_entropy(value) >= 3.0


def _jwt_valid() -> Callable[[str], bool]:
    from detect_secrets.plugins.jwt import JwtTokenDetector

    return lambda v: v.count(".") == 2 and all(v.split(".")) and JwtTokenDetector.is_formally_valid(v)


#: Per plugin, lower-case strings one of which each of its matches contains (see ``Rule.needles``).
_NEEDLES: dict[str, tuple[str, ...]] = {
    "AzureStorageKeyDetector": ("accountkey=",),
    "BasicAuthDetector": ("://",),
    "GitHubTokenDetector": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLabTokenDetector": ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "gr1348941", "glcbt-", "glimt-",
                            "glptt-", "glagent-", "gloas-"),
    "JwtTokenDetector": ("eyj",),
    "MailchimpDetector": ("-us",),
    "OpenAIDetector": ("t3blbkfj",),
    "PrivateKeyDetector": ("private key", "putty-user-key-file"),
    "PypiTokenDetector": ("pypi-",),
    "SendGridDetector": ("sg.",),
    "SlackDetector": ("xox", "hooks.slack.com"),
    "StripeDetector": ("k_live_",),
    "TelegramBotTokenDetector": (":",),
    "SquareOAuthDetector": ("sq0csp-",),
    "ArtifactoryDetector": ("akc",),
    "IbmCloudIamDetector": ("key", "pwd", "pass", "token"),
    "IbmCosHmacDetector": ("secret",),
    "SoftlayerDetector": ("softlayer", "sl"),
}


def _build() -> list[Rule]:
    from detect_secrets.plugins import (
        artifactory,
        aws,
        azure_storage_key,
        basic_auth,
        discord,
        github_token,
        gitlab_token,
        ibm_cloud_iam,
        ibm_cos_hmac,
        mailchimp,
        openai,
        private_key,
        pypi_token,
        sendgrid,
        slack,
        softlayer,
        square_oauth,
        stripe,
        telegram_token,
        twilio,
    )

    def rules(plugin: Any, kind: str, score: float = 0.95, group: int | None = 0,
              validate: Callable[[str], bool] | None = None,
              adjust: Callable[[str, int, int], tuple[int, int] | None] | None = _token,
              only: slice = slice(None)) -> list[Rule]:
        name = plugin.__name__
        return [Rule(kind, rx, score, f"detect-secrets:{name}", group, validate, adjust, _NEEDLES.get(name, ()))
                for rx in list(plugin.denylist)[only]]

    aws_rx = list(aws.AWSKeyDetector.denylist)
    return [
        Rule("AWS_ACCESS_KEY", aws_rx[0], 0.95, "detect-secrets:AWSKeyDetector", 0, None, _token,
             ("a3t", "abia", "acca", "akia", "asia")),
        Rule("AWS_SECRET_KEY", aws_rx[1], 0.95, "detect-secrets:AWSKeyDetector", 1, looks_random, _token, ("aws",)),
        *rules(azure_storage_key.AzureStorageKeyDetector, "AZURE_KEY", adjust=_azure),
        *rules(basic_auth.BasicAuthDetector, "PASSWORD", 0.9, 1, is_real_value, None),
        *rules(discord.DiscordBotTokenDetector, "DISCORD_TOKEN"),
        *rules(github_token.GitHubTokenDetector, "GITHUB_TOKEN", 0.98),
        *rules(gitlab_token.GitLabTokenDetector, "GITLAB_TOKEN", 0.98),
        *rules(jwt_plugin(), "JWT", 0.95, validate=_jwt_valid()),
        *rules(mailchimp.MailchimpDetector, "MAILCHIMP_KEY"),
        *rules(openai.OpenAIDetector, "OPENAI_KEY", 0.98),
        *rules(private_key.PrivateKeyDetector, "PRIVATE_KEY", 1.0, adjust=_private_key),
        *rules(pypi_token.PypiTokenDetector, "PYPI_TOKEN", 0.98),
        *rules(sendgrid.SendGridDetector, "SENDGRID_KEY", 0.98),
        *rules(slack.SlackDetector, "SLACK_TOKEN", 0.98),
        *rules(stripe.StripeDetector, "STRIPE_KEY", 0.98),
        *rules(telegram_token.TelegramBotTokenDetector, "TELEGRAM_TOKEN", 0.9),
        *rules(twilio.TwilioKeyDetector, "TWILIO_KEY", 0.9),
        *rules(square_oauth.SquareOAuthDetector, "SQUARE_TOKEN", 0.95),
        # the AKC api-token rule only: the "AP..." password rule matches wrapped base64 lines
        *rules(artifactory.ArtifactoryDetector, "ARTIFACTORY_TOKEN", 0.9, only=slice(0, 1)),
        *rules(ibm_cloud_iam.IbmCloudIamDetector, "IBM_CLOUD_KEY", 0.85, None, looks_random, None),
        *rules(ibm_cos_hmac.IbmCosHmacDetector, "IBM_CLOUD_KEY", 0.85, None, _entropy, None),
        *rules(softlayer.SoftlayerDetector, "IBM_CLOUD_KEY", 0.85, None, _entropy, None),
    ]


def jwt_plugin() -> type:
    from detect_secrets.plugins.jwt import JwtTokenDetector

    return JwtTokenDetector


def plugin_rules() -> list[Rule]:
    """detect-secrets' detectors as rules (built once per process)."""
    global _rules
    if _rules is None:
        with _lock:
            if _rules is None:
                _rules = _build()
    return _rules


_keyword: tuple[re.Pattern[str], re.Pattern[str]] | None = None
_VALUE = r"[A-Za-z0-9_\-+/=.~!@#$%^&*]"


def _keyword_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """detect-secrets' list of secret key names, with a bounded assignment tail of our own (its
    keyword regexes scan the rest of the line for each key name: quadratic on long lines)."""
    global _keyword
    if _keyword is None:
        from detect_secrets.plugins.keyword import DENYLIST

        names = re.compile(r"(?i)(?:" + "|".join(DENYLIST) + ")")
        tail = re.compile(r"[A-Za-z0-9_]{0,30}[\"'\]]{0,2}[ \t]{0,5}(?::=|=>|={1,3}|:|!==?)[ \t]{0,5}([\"'`]?)"
                          rf"({_VALUE}{{16,200}})\1(?!{_VALUE})")
        _keyword = (names, tail)
    return _keyword


def keyword_assignments(text: str) -> list[Entity]:
    """High-entropy values assigned to a secret-sounding key (``db_key = "..."``)."""
    lower = text.lower()
    if not any(k in lower for k in ("key", "pass", "pwd", "secret", "contrase")):
        return []
    names, tail = _keyword_patterns()
    out: list[Entity] = []
    for m in names.finditer(text):
        t = tail.match(text, m.end())
        if t is None:
            continue
        value = t.group(2)
        if looks_random(value):
            out.append(Entity("GENERIC_SECRET", t.start(2), t.end(2), 0.85, "detect-secrets:KeywordDetector",
                              mask(value)))
    return out
