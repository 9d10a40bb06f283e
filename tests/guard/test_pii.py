"""PII detection (Presidio + regexes), redaction and the per-classification output policy."""

from __future__ import annotations

from tether.guard import GuardSettings, PiiDetector, PiiGuard, Verdict, redact, redact_for_trace
from tether.guard.base import Entity
from tether.guard.pii import resolve_overlaps

TEXT = (
    "Contact Maria Gonzalez at maria.gonzalez@example.com or +1 415-555-0132. "
    "Card 4111 1111 1111 1111, key sk-proj-Z3kq9VbT1xWm4Yp7Lr2Nc8Hd5Fg0Js6A."
)


def test_full_mode_finds_names_and_contacts(pii_full: PiiDetector) -> None:
    found = {(e.type, TEXT[e.start : e.end]) for e in pii_full.detect(TEXT)}
    assert ("PERSON", "Maria Gonzalez") in found
    assert ("EMAIL_ADDRESS", "maria.gonzalez@example.com") in found
    assert ("PHONE_NUMBER", "+1 415-555-0132") in found
    assert ("CREDIT_CARD", "4111 1111 1111 1111") in found
    assert ("OPENAI_KEY", "sk-proj-Z3kq9VbT1xWm4Yp7Lr2Nc8Hd5Fg0Js6A") in found


def test_redaction_output(pii_full: PiiDetector) -> None:
    assert redact(TEXT, pii_full.detect(TEXT)) == (
        "Contact [PERSON] at [EMAIL] or [PHONE]. Card [CARD], key [SECRET]."
    )


def test_light_mode_skips_names(pii_light: PiiDetector) -> None:
    assert redact(TEXT, pii_light.detect(TEXT)) == (
        "Contact Maria Gonzalez at [EMAIL] or [PHONE]. Card [CARD], key [SECRET]."
    )


def test_luhn_invalid_card_is_not_redacted(pii_full: PiiDetector) -> None:
    text = "Reference 4111 1111 1111 1112 is an order number."
    assert "CREDIT_CARD" not in {e.type for e in pii_full.detect(text)}


def test_redact_merges_overlaps() -> None:
    text = "abcdefghij"
    ents = [Entity("EMAIL_ADDRESS", 0, 6, 1.0), Entity("PERSON", 4, 8, 0.8), Entity("JWT", 9, 10, 1.0)]
    assert redact(text, ents) == "[EMAIL]i[SECRET]"


def test_overlaps_prefer_secrets_then_checksummed_ids() -> None:
    kept = resolve_overlaps([Entity("PHONE_NUMBER", 0, 10, 1.0), Entity("CREDIT_CARD", 0, 12, 1.0),
                             Entity("PASSWORD", 20, 28, 0.9), Entity("PERSON", 18, 30, 0.95)])
    assert [e.type for e in kept] == ["CREDIT_CARD", "PASSWORD"]


def test_policy_per_classification(pii_full: PiiDetector, guard_settings: GuardSettings) -> None:
    internal = PiiGuard(guard_settings, "internal", pii_full).check(TEXT)
    assert internal.verdict is Verdict.SANITISE  # secrets are always redacted
    assert internal.sanitised_text is not None
    assert "[SECRET]" in internal.sanitised_text and "maria.gonzalez@example.com" in internal.sanitised_text

    confidential = PiiGuard(guard_settings, "confidential", pii_full).check(TEXT)
    assert confidential.verdict is Verdict.SANITISE
    assert confidential.sanitised_text == redact(TEXT, pii_full.detect(TEXT))

    assert PiiGuard(guard_settings, "restricted", pii_full).check(TEXT).verdict is Verdict.BLOCK
    assert PiiGuard(guard_settings, "public", pii_full).check("No personal data here.").verdict is Verdict.ALLOW

    flagged = PiiGuard(guard_settings, "public", pii_full).check("Write to ana@example.org.")
    assert flagged.verdict is Verdict.FLAG and "pii:EMAIL_ADDRESS" in flagged.reasons


def test_unknown_classification_gets_the_strict_default(guard_settings: GuardSettings) -> None:
    assert guard_settings.policy_for("top-secret").redact_in_answers
    assert guard_settings.policy_for(None).redact_in_answers


def test_trace_redaction(guard_settings: GuardSettings) -> None:
    assert redact_for_trace("mail ana@example.org", guard_settings) == "mail [EMAIL]"
    off = guard_settings.model_copy(
        update={"policies": {"public": guard_settings.policies["public"].model_copy(update={"redact_in_traces": False})}}
    )
    assert redact_for_trace("mail ana@example.org", off, "public") == "mail ana@example.org"


def test_tldextract_never_fetches(pii_full: PiiDetector) -> None:
    import tldextract.tldextract as tx

    assert tx.TLD_EXTRACTOR.suffix_list_urls == ()
    assert not tx.TLD_EXTRACTOR._cache.enabled
    assert tx.extract("mail.example.co.uk").suffix == "co.uk"


def test_presidio_findings_are_memoised_and_bounded(monkeypatch):
    """The analysis is a pure function of (text, types, threshold): a repeat costs no model run,
    and the memo never grows past its bound."""
    from tether.guard import pii

    calls = []
    real = pii.analyzer

    class Counting:
        def analyze(self, **kw):
            calls.append(kw["text"])
            return real().analyze(**kw)

    monkeypatch.setattr(pii, "analyzer", lambda: Counting())
    monkeypatch.setattr(pii, "_cache", type(pii._cache)())
    monkeypatch.setattr(pii, "_CACHE_SIZE", 3)
    text = "Call Marta Silva on +351 912 345 678."
    a = pii.presidio_entities(text, ("PERSON", "PHONE_NUMBER"), 0.4)
    b = pii.presidio_entities(text, ("PERSON", "PHONE_NUMBER"), 0.4)
    assert a == b and {e.type for e in a} >= {"PHONE_NUMBER"} and calls == [text]
    pii.presidio_entities(text, ("PERSON",), 0.4)  # other types: another analysis
    assert len(calls) == 2
    for i in range(5):
        pii.presidio_entities(f"Note {i} for Marta.", ("PERSON",), 0.4)
    assert len(pii._cache) == 3


def test_presidio_runs_only_where_the_policy_can_act_on_it(monkeypatch):
    """Internal answers (no redaction, no block) use the regex detectors only: a secret is still
    redacted and an e-mail still flagged, but the model is never run; confidential answers run it."""
    from tether.guard import pii
    from tether.guard.base import GuardSettings, Verdict

    ran = []
    real = pii.presidio_entities
    monkeypatch.setattr(pii, "presidio_entities", lambda *a: ran.append(a[0]) or real(*a))
    text = "Ask Marta Silva (marta@corvane.example); the deploy key is AKIAIOSFODNN7EXAMPLE."
    internal = pii.PiiGuard(GuardSettings(), "internal").check(text)
    assert ran == []
    assert internal.verdict is Verdict.SANITISE and "AKIAIOSFODNN7EXAMPLE" not in internal.sanitised_text
    assert "pii:EMAIL_ADDRESS" in internal.reasons and "pii:PERSON" not in internal.reasons
    confidential = pii.PiiGuard(GuardSettings(), "confidential").check(text)
    assert ran == [text] and "pii:PERSON" in confidential.reasons
    assert "Marta Silva" not in confidential.sanitised_text
