"""Language detection by stopword profiles: each of the six languages on short prose written for
these tests, the caller's default where the evidence is weak, and the demo corpus all English."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.text.languages import LANGUAGES, detect, scores

PROSE = {
    "en": "The tenant pays the rent on the first working day of each month, and repairs above the "
          "agreed limit need the written approval of the landlord before any work starts.",
    "pt": "O inquilino paga a renda no primeiro dia útil de cada mês, e as reparações acima do "
          "limite acordado precisam da aprovação por escrito do senhorio antes de começarem.",
    "nl": "De huurder betaalt de huur op de eerste werkdag van elke maand, en reparaties boven het "
          "afgesproken bedrag hebben vooraf de schriftelijke goedkeuring van de verhuurder nodig.",
    "de": "Der Mieter zahlt die Miete am ersten Werktag jedes Monats, und Reparaturen über dem "
          "vereinbarten Betrag brauchen vorher die schriftliche Zustimmung des Vermieters.",
    "fr": "Le locataire paie le loyer le premier jour ouvrable de chaque mois, et les réparations "
          "au-dessus du montant convenu doivent avoir l'accord écrit du propriétaire avant les travaux.",
    "es": "El inquilino paga el alquiler el primer día hábil de cada mes, y las reparaciones por "
          "encima del importe acordado necesitan la aprobación por escrito del propietario.",
}  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_is_detected_from_a_paragraph(language: str) -> None:
    assert detect(PROSE[language]) == language
    assert detect(PROSE[language], default="de" if language != "de" else "fr") == language


def test_weak_evidence_keeps_the_default() -> None:
    table = "| Level | Minimum | Midpoint |\n| L1 | 34,000 | 40,000 |\n| L4 | 61,000 | 72,000 |"
    assert detect(table) == "en" and detect(table, default="pt") == "pt"  # "L1" is not French "l"
    assert detect("Ana Sousa, Lisboa; Joost de Vries, Utrecht", default="nl") == "nl"
    assert detect("", default="es") == "es"


def test_a_language_can_be_left_out_and_unknown_ones_are_refused() -> None:
    assert detect(PROSE["pt"], languages=("en",)) == "en"  # only English enabled
    assert scores(PROSE["nl"])["nl"] > 3 * max(v for k, v in scores(PROSE["nl"]).items() if k != "nl")
    with pytest.raises(ValueError, match="unknown language 'xx'; supported: en, pt, nl, de, fr, es"):
        detect("text", languages=("en", "xx"))


def test_the_english_demo_corpus_is_detected_as_english() -> None:
    corpus = Path(__file__).resolve().parents[2] / "demo" / "corpus"
    files = [p for p in corpus.rglob("*") if p.suffix in (".md", ".txt", ".html") and "-pt" not in p.stem
             and "-nl" not in p.stem]
    assert len(files) >= 15
    assert {p.name: detect(p.read_text(encoding="utf-8")) for p in files} == {p.name: "en" for p in files}


def test_the_settings_offer_exactly_the_languages_analysed() -> None:
    from tether.retrieve.analyzer import STEMMERS
    from tether.settings.ingest import LANGUAGES as SETTING_LANGUAGES
    from tether.settings.ingest import IngestSettings

    assert SETTING_LANGUAGES == LANGUAGES == tuple(STEMMERS)
    assert IngestSettings().languages == list(LANGUAGES)
