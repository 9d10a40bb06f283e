"""Which PII findings are personal data: the step between detection and redaction.

Why: the detectors (Presidio + spaCy, the regexes) find every name-, place- and contact-shaped
span, and many are public facts. Redacting "Ireland and Portugal" in a leave policy, the
organisation's own name read as a person, or ``support@`` protects no one and damages the answer.
So detection stays broad (its recall is measured on its own in ``bench/guards.py``) and this
module decides, per finding, with rules that are settings (``GuardSettings.personal_data`` and
the policy's ``personal_entities``):

1. secrets always count (never allow-listed);
2. a finding inside an allow-listed phrase (the organisation's own names, products, offices,
   office addresses) is a public fact;
3. the type must be personal under the policy; a place that is not counts only inside a postal
   address (house number, postcode, street word with a number, "address"/"lives in" before it);
4. an e-mail address of a functional mailbox (``support@``, ``people@``) reaches a team;
5. a PERSON finding is not a name when it holds a digit, is made only of role-title words, or
   is one word the same text also writes in lower case.
"""

from __future__ import annotations

import re
from functools import lru_cache

from tether.guard.base import Entity
from tether.guard.secrets import SECRET_TYPES
from tether.settings import PersonalDataRules, PiiPolicy

_CITATION = re.compile(r"\[\d+(?:\s*[,;-]\s*\d+)*\]")
_WORD = re.compile(r"[^\W\d_][\w'’.-]*|\d[\w-]*")
_STREET = re.compile(
    r"\b(?:street|st|road|rd|avenue|ave|avda|avenida|lane|ln|drive|boulevard|blvd|way|court|place|square|"
    r"quay|terrace|crescent|close|highway|apt|apartment|suite|floor|unit|rua|via|calle|ul|"
    r"stra(?:ss|ß)e|gasse|weg|laan|kade|vej|gatan|gata|v[äa]gen|veien|plads|platz)\b\.?",
    re.IGNORECASE,
)
_HOUSE_NUMBER = re.compile(r"\b\d{1,5}[a-z]?\b", re.IGNORECASE)
_ADDRESS_CUE = re.compile(
    r"\baddress\b|\b(?:lives?|living|resides?|residing|stay(?:s|ing)?)\s+(?:at|in|on)\b|"
    r"\b(?:ship|deliver|send|mail|post)\b[^.\n]{0,40}\bto\b|\b(?:post\s?code|zip(?:\s?code)?)\b",
    re.IGNORECASE,
)
#: A number (house number, postcode) right before the place, or a postcode right after it.
#: Years and dates ("Ireland, 2026-03-17") are not postcodes.
_NUMBER_BEFORE = re.compile(r"(?<![\d/.:-])(?!(?:19|20)\d\d\b)\d{1,6}(?:-\d{3,4})?[A-Za-z]?,?\s+$")
_POSTCODE_AFTER = re.compile(
    r"^,?\s+(?:(?!(?:19|20)\d\d(?!\d))\d{3,6}(?![\d/.:-])|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b"
    r"|[A-Z]\d{2}\s?[A-Z\d]{4}\b|[A-Z]{2}\s\d{4,6}\b)"
)


@lru_cache(maxsize=64)
def _allow_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = [r"\s+".join(re.escape(w) for w in p.split()) for p in sorted(set(phrases), key=len, reverse=True)
             if p.strip()]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE) if parts else None


def allowed_spans(text: str, rules: PersonalDataRules) -> list[tuple[int, int]]:
    """Where the allow-listed phrases occur in ``text`` (case and spacing ignored)."""
    pattern = _allow_pattern(tuple(rules.allow))
    return [m.span() for m in pattern.finditer(text)] if pattern else []


def _outside(e: Entity, spans: list[tuple[int, int]], text: str) -> list[str]:
    """The words of the finding that no allow-listed phrase covers."""
    return [m.group() for m in _WORD.finditer(text, e.start, e.end)
            if not any(s <= m.start() and m.end() <= t for s, t in spans)]


def in_postal_address(text: str, e: Entity) -> bool:
    """Whether the place ``text[e.start:e.end]`` is part of a postal address."""
    line_start = text.rfind("\n", 0, e.start) + 1
    line_end = text.find("\n", e.end)
    line_end = len(text) if line_end < 0 else line_end
    before = _CITATION.sub(" ", text[max(line_start, e.start - 60):e.start])
    after = _CITATION.sub(" ", text[e.end:min(line_end, e.end + 40)])
    if _NUMBER_BEFORE.search(before) or _POSTCODE_AFTER.search(after):
        return True
    if _ADDRESS_CUE.search(before[-50:]):
        return True
    near = before[-40:] + " " + text[e.start:e.end] + " " + after[:25]
    return bool(_STREET.search(near)) and bool(_HOUSE_NUMBER.search(near))


def _role_mailbox(value: str, rules: PersonalDataRules) -> bool:
    local = value.split("@", 1)[0].lower()
    known = {w.lower() for w in rules.role_mailboxes} | {w.lower() for w in rules.role_words}
    return local in known or all(part in known for part in re.split(r"[._+-]", local) if part)


def _not_a_name(text: str, e: Entity, words: list[str], rules: PersonalDataRules) -> bool:
    if any(ch.isdigit() for ch in text[e.start:e.end]):
        return True
    roles = {w.lower() for w in rules.role_words}
    tokens = [w.strip(".,;:'’").lower() for w in words]
    if all(t in roles for t in tokens if t):
        return True
    if rules.common_words and len(words) == 1 and words[0][:1].isupper():
        lower = words[0].strip(".,;:'’").lower()
        return bool(lower) and re.search(rf"(?<![\w-]){re.escape(lower)}(?![\w-])", text) is not None
    return False


def is_personal(text: str, e: Entity, policy: PiiPolicy, rules: PersonalDataRules,
                allowed: list[tuple[int, int]]) -> bool:
    """Rules 1-5 of the module docstring for one finding of ``text``."""
    if e.type in SECRET_TYPES:
        return True
    words = _outside(e, allowed, text)
    if not words:
        return False
    if e.type not in policy.personal_entities:
        return e.type == "LOCATION" and rules.address_locations and in_postal_address(text, e)
    if e.type == "EMAIL_ADDRESS":
        return not _role_mailbox(text[e.start:e.end], rules)
    if e.type == "PERSON":
        return not _not_a_name(text, e, words, rules)
    return True


def personal_data(text: str, entities: list[Entity], policy: PiiPolicy, rules: PersonalDataRules) -> list[Entity]:
    """The findings of ``text`` that are personal data under ``policy``."""
    if not entities:
        return []
    allowed = allowed_spans(text, rules)
    return [e for e in entities if is_personal(text, e, policy, rules, allowed)]
