"""Regex detectors with checksums: cards (Luhn), IBANs (mod 97), US SSNs, UK NINOs, and the
contact details (e-mail, phone, IPv4) that the light, model-free PII mode needs.

Why: a digit run is only a card number if its Luhn digit checks out, and an IBAN only if its
mod-97 remainder is 1; validating here keeps order numbers and invoice ids out of redactions.
These detectors run in both PII modes; Presidio adds names, places and more phone formats.
"""

from __future__ import annotations

import re

from tether.guard.base import Entity
from tether.guard.secrets import mask


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum used by payment cards."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|35|6(?:011|5|4[4-9]|22)|62|50|5[6-9]|60|2131|1800)")
# Maestro cards may be as short as 12 digits; only their issuer prefixes are accepted at that length.
_MAESTRO_PREFIX = re.compile(r"^(?:50(?:18|20|38)|5[6-8]|6304|67(?:59|6[1-3])|0604|6390)")


def card_valid(digits: str) -> bool:
    """A plausible payment card: a known issuer prefix and length, and a valid Luhn digit."""
    if len(digits) == 12:
        return bool(_MAESTRO_PREFIX.match(digits)) and luhn_valid(digits)
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn_valid(digits)


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    compact = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


_SSN_INVALID = {"078051120", "219099999", "123456789", "111111111", "333333333", "666666666"}


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US SSN format rules: area not 000/666/9xx, group not 00, serial not 0000, not a famous fake."""
    if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_INVALID


_NINO_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def nino_valid(nino: str) -> bool:
    """UK National Insurance number format (HMRC rules on the two prefix letters and suffix)."""
    compact = nino.replace(" ", "").upper()
    m = re.fullmatch(r"([A-CEGHJ-PR-TW-Z])([A-CEGHJ-NPR-TW-Z])\d{6}[A-D]", compact)
    return bool(m) and compact[:2] not in _NINO_BAD_PREFIX


_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,34}")
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_NINO = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])")
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+.-])(?:(?:\+|00)\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}"
    r"(?:\s*(?:x|ext\.?)\s*\d{1,5})?(?!\w|-\d|\.\d)"
)
_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|fax|desk|office|call(?:ed|ing)?|ring|text|sms|whatsapp|"
    r"messages?|reach|answering|hotline|dial)\b",
    re.IGNORECASE,
)
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")


def _iban_span(m: re.Match[str]) -> tuple[int, int] | None:
    """Longest prefix of the candidate that is a valid IBAN (the regex may run into a next word)."""
    raw = m.group()
    for end in range(len(raw), 14, -1):
        if raw[end - 1] != " " and iban_valid(raw[:end]):
            return m.start(), m.start() + end
    return None


def _phone_ok(text: str, start: int, end: int) -> bool:
    """A phone-shaped digit run: international or area-code form, or any shape next to a
    phone word ("Phone:", "call me on", "... office"), so ids and amounts stay out."""
    value = text[start:end]
    digits = re.sub(r"\D", "", re.split(r"x|ext", value)[0])
    if not 7 <= len(digits) <= 15 or re.fullmatch(r"\d{4}[-.]\d{2}[-.]\d{2}|\d{2}[-.]\d{2}[-.]\d{4}", value):
        return False
    groups = len(re.findall(r"\d+", value))
    if value.startswith(("+", "00", "(")) or (len(digits) >= 10 and groups >= 3):
        return True
    nearby = text[max(0, start - 40) : start] + " " + text[end : end + 15]
    return bool(_PHONE_CONTEXT.search(nearby))


def find_ids(text: str, contacts: bool = True) -> list[Entity]:
    """Checksummed ids (always) and, when ``contacts``, e-mail addresses, phones and IPv4s."""
    out: list[Entity] = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if card_valid(digits):
            out.append(Entity("CREDIT_CARD", m.start(), m.end(), 1.0, "regex:luhn", mask(digits)))
    for m in _IBAN.finditer(text):
        span = _iban_span(m)
        if span:
            out.append(Entity("IBAN_CODE", *span, 1.0, "regex:mod97", mask(text[span[0]:span[1]])))
    for m in _SSN.finditer(text):
        if ssn_valid(m.group(1), m.group(3), m.group(4)):
            out.append(Entity("US_SSN", m.start(), m.end(), 0.85, "regex:ssn", mask(m.group())))
    for m in _NINO.finditer(text):
        if nino_valid(m.group()):
            out.append(Entity("UK_NINO", m.start(), m.end(), 0.85, "regex:nino", mask(m.group())))
    if not contacts:
        return out
    for m in _EMAIL.finditer(text):
        out.append(Entity("EMAIL_ADDRESS", m.start(), m.end(), 1.0, "regex:email", mask(m.group())))
    for m in _PHONE.finditer(text):
        if _phone_ok(text, m.start(), m.end()):
            out.append(Entity("PHONE_NUMBER", m.start(), m.end(), 0.6, "regex:phone", mask(m.group())))
    for m in _IPV4.finditer(text):
        out.append(Entity("IP_ADDRESS", m.start(), m.end(), 0.8, "regex:ipv4", mask(m.group())))
    return out
