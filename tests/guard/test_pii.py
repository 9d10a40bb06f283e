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
    public = guard_settings.policies["public"].model_copy(update={"redact_in_traces": False})
    off = guard_settings.model_copy(update={"policies": {"public": public}})
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
    from tether.guard.base import Verdict
    from tether.settings import GuardSettings

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


# --- personal data, not public facts (tether.guard.personal) ------------------------------------

POLICY_TEXT = ("Parental leave in Ireland and Portugal follows local law; the Dublin and Lisbon offices "
               "apply it from 1 January 2026.")


def test_countries_and_cities_in_policy_text_are_not_redacted(pii_full: PiiDetector,
                                                              guard_settings: GuardSettings) -> None:
    places = {POLICY_TEXT[e.start:e.end] for e in pii_full.detect(POLICY_TEXT) if e.type == "LOCATION"}
    assert {"Ireland", "Portugal"} <= places  # the detector still finds them
    for label in ("confidential", "restricted"):
        r = PiiGuard(guard_settings, label, pii_full).check(POLICY_TEXT)
        assert r.verdict is Verdict.ALLOW and r.sanitised_text is None and r.entities == []


def test_a_place_in_a_postal_address_is_personal_data(pii_full: PiiDetector, guard_settings: GuardSettings) -> None:
    text = "Send the contract to my home address: 12 Rua Augusta, 1100-048 Lisboa, Portugal."
    r = PiiGuard(guard_settings, "confidential", pii_full).check(text)
    assert r.verdict is Verdict.SANITISE and r.sanitised_text is not None
    assert "Lisboa" not in r.sanitised_text and "Portugal" not in r.sanitised_text


def test_personal_data_is_still_redacted(pii_full: PiiDetector, guard_settings: GuardSettings) -> None:
    text = TEXT + " Refunds go to IE29 AIBK 9311 5212 3456 78; her SSN is 536-80-4398."
    r = PiiGuard(guard_settings, "confidential", pii_full).check(text)
    assert r.sanitised_text == (
        "Contact [PERSON] at [EMAIL] or [PHONE]. Card [CARD], key [SECRET]. Refunds go to [IBAN]; her SSN is [SSN]."
    )


def test_team_mailboxes_and_role_titles_are_not_personal(pii_full: PiiDetector,
                                                         guard_settings: GuardSettings) -> None:
    text = ("Escalate to Customer Support or write to people@corvane.example; "
            "Contact Maria Gonzalez at maria.gonzalez@corvane.example.")
    found = {(e.type, text[e.start:e.end]) for e in pii_full.detect(text)}
    assert {("PERSON", "Customer Support"), ("EMAIL_ADDRESS", "people@corvane.example")} <= found
    r = PiiGuard(guard_settings, "confidential", pii_full).check(text)
    assert r.sanitised_text is not None
    assert "Escalate to Customer Support or write to people@corvane.example" in r.sanitised_text
    assert "Maria Gonzalez" not in r.sanitised_text and "maria.gonzalez@" not in r.sanitised_text


ORG_TEXT = ("Tarrow Freight issued proceedings against Corvane in Dublin over the move to Corvane Flow; "
            "visitors sign in at Harbourmaster Court, 7 North Wall Quay, Dublin 1, D01 X2Y3, Ireland.")


def test_the_allow_list_keeps_the_organisations_own_names_and_addresses(pii_full: PiiDetector) -> None:
    from tether.settings import PersonalDataRules

    plain = GuardSettings()
    before = PiiGuard(plain, "confidential", pii_full).check(ORG_TEXT)
    assert before.verdict is Verdict.SANITISE  # without the allow-list, Presidio's misreads are redacted
    allow = ["Corvane", "Corvane Flow", "Harbourmaster Court, 7 North Wall Quay, Dublin 1, D01 X2Y3, Ireland"]
    listed = GuardSettings(personal_data=PersonalDataRules(allow=allow))
    after = PiiGuard(listed, "confidential", pii_full).check(ORG_TEXT)
    assert after.verdict is Verdict.ALLOW and after.entities == []
    # allow-listing a name does not hide a person's contact details next to it
    mixed = PiiGuard(listed, "confidential", pii_full).check("Corvane's Maren Okafor: maren.okafor@corvane.example")
    assert mixed.sanitised_text is not None and "maren.okafor@" not in mixed.sanitised_text


def test_secrets_are_never_allow_listed(pii_light: PiiDetector) -> None:
    from tether.settings import PersonalDataRules

    key = "sk-proj-Z3kq9VbT1xWm4Yp7Lr2Nc8Hd5Fg0Js6A"
    listed = GuardSettings(personal_data=PersonalDataRules(allow=[key]))
    r = PiiGuard(listed, "internal", pii_light).check(f"The key is {key}.")
    assert r.sanitised_text == "The key is [SECRET]."


def test_a_policy_can_count_every_place_as_personal(pii_full: PiiDetector) -> None:
    from tether.settings import DEFAULT_PII_ENTITIES

    strict = GuardSettings()
    strict.policies["confidential"] = strict.policies["confidential"].model_copy(
        update={"personal_entities": list(DEFAULT_PII_ENTITIES)})
    r = PiiGuard(strict, "confidential", pii_full).check(POLICY_TEXT)
    assert r.sanitised_text is not None and "Ireland" not in r.sanitised_text


def test_one_word_that_the_text_also_writes_in_lower_case_is_not_a_name(pii_full: PiiDetector,
                                                                        guard_settings: GuardSettings) -> None:
    text = "secondary_oncall: Sofia Antunes; notes: Rota version 3 approved by Keiko Vantress; rota ref 31ce1c"
    assert ("PERSON", "Rota") in {(e.type, text[e.start:e.end]) for e in pii_full.detect(text)}
    r = PiiGuard(guard_settings, "confidential", pii_full).check(text)
    assert r.sanitised_text is not None
    assert r.sanitised_text == "secondary_oncall: [PERSON]; notes: Rota version 3 approved by [PERSON]; rota ref 31ce1c"


def test_the_demo_manifest_fills_the_allow_list_from_its_corpus() -> None:
    from pathlib import Path

    from tether.ingest.manifest import Manifest

    manifest = Manifest.load(Path(__file__).resolve().parents[2] / "demo" / "manifest.json")
    facts = manifest.public_facts()
    assert {"Corvane Systems Ltd", "Corvane Flow", "Dublin"} <= set(facts)
    assert "Rua da Prata 210, 4th floor, 1100-052 Lisboa, Portugal" in facts  # read from office-locations.md
    gs = GuardSettings()
    manifest.apply_guard(gs)
    manifest.apply_guard(gs)  # idempotent
    assert gs.personal_data.allow == facts
