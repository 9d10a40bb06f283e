"""Checksummed ids and contact details: valid ones found, invalid look-alikes rejected."""

from __future__ import annotations

import pytest

from tether.guard.ids import card_valid, find_ids, iban_valid, luhn_valid, nino_valid, ssn_valid


def types(text: str) -> list[tuple[str, str]]:
    return [(e.type, text[e.start : e.end]) for e in find_ids(text)]


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


@pytest.mark.parametrize("number",
                         ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"])
def test_valid_cards_are_found(number: str) -> None:
    assert types(f"Charge card {number} today.") == [("CREDIT_CARD", number)]


@pytest.mark.parametrize("number", ["4111 1111 1111 1112", "5500-0000-0000-0005", "378282246310006"])
def test_luhn_invalid_cards_are_rejected(number: str) -> None:
    assert not [t for t, _ in types(f"Charge card {number} today.") if t == "CREDIT_CARD"]


def test_card_prefix_and_length_rules() -> None:
    assert card_valid("4111111111111111")
    assert not card_valid("9111111111111119")  # no issuer starts with 9
    assert not card_valid("411111111116")  # 12 digits only for Maestro prefixes


def test_iban_mod97() -> None:
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_valid("DE89370400440532013000")
    assert not iban_valid("GB82 WEST 1234 5698 7654 33")
    text = "Pay to DE89 3704 0044 0532 0130 00 BY friday"
    assert types(text) == [("IBAN_CODE", "DE89 3704 0044 0532 0130 00")]


def test_ssn_rules() -> None:
    assert ssn_valid("536", "22", "1234")
    for area, group, serial in [("000", "12", "3456"), ("666", "12", "3456"), ("912", "12", "3456"),
                                ("536", "00", "1234"), ("536", "22", "0000"), ("078", "05", "1120")]:
        assert not ssn_valid(area, group, serial)
    assert types("SSN 536-22-1234.") == [("US_SSN", "536-22-1234")]
    assert types("SSN 666-22-1234.") == []
    assert types("SSN 536-22 1234.") == []  # mixed separators


def test_nino_format() -> None:
    assert nino_valid("AB 12 34 56 C") and nino_valid("JG103759A")
    assert not nino_valid("GB 12 34 56 C")  # excluded prefix
    assert not nino_valid("DA 12 34 56 C")  # D is never a first letter
    assert not nino_valid("AB 12 34 56 E")  # suffix is A-D
    assert types("NI number: JG103759A") == [("UK_NINO", "JG103759A")]


def test_contacts() -> None:
    found = types("Mail ana.lopez@example.org or call +44 20 7946 0958; server 10.0.12.7")
    assert ("EMAIL_ADDRESS", "ana.lopez@example.org") in found
    assert ("PHONE_NUMBER", "+44 20 7946 0958") in found
    assert ("IP_ADDRESS", "10.0.12.7") in found


def test_short_phone_needs_a_phone_word() -> None:
    assert types("Phone: 467 3395") == [("PHONE_NUMBER", "467 3395")]
    assert types("Invoice 467 3395 was paid on 2024-03-01.") == []
