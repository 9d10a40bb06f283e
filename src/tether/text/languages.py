"""Which language a text is written in, among the six Tether analyses (en, pt, nl, de, fr, es).

Why: BM25 must stem and drop stopwords in a document's own language (English Snowball makes
"contratos" and "contrato" two terms, and "huurovereenkomsten" never meets "huurovereenkomst"),
so ingest needs each document's language, offline and fast, with no model to ship.

How: function words are the most frequent words of every language and few are shared, so a
text is scored by the stopword lists of :mod:`tether.text.stopwords`: each word of the text
found in a list adds ``1 / (number of lists holding it)`` to that language ("de" counts a quarter
to each of pt/nl/fr/es, "het" all to Dutch), and so does each word holding a letter only some of
the languages write (``ã`` Portuguese, ``ñ`` Spanish, ``ß`` German, ``ij`` Dutch...), as NLTK's
lists miss frequent words ("cada", "antes") and share short ones ("a", "o", "no" are English,
Portuguese and Spanish at once). The best language wins when its score reaches
``min_score`` and beats the runner-up by ``margin``; otherwise the caller's default stands (a
table of figures or a list of names says nothing about its language). About 60 words of prose
decide reliably; the first ``MAX_CHARS`` characters are read.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from tether.text import stopwords

#: The languages Tether detects and analyses, ISO 639-1 codes (English first: the default).
LANGUAGES: tuple[str, ...] = ("en", "pt", "nl", "de", "fr", "es")
_LISTS: dict[str, frozenset[str]] = {
    "en": stopwords.ENGLISH_LONG, "pt": stopwords.PORTUGUESE, "nl": stopwords.DUTCH,
    "de": stopwords.GERMAN, "fr": stopwords.FRENCH, "es": stopwords.SPANISH,
}  # fmt: skip
#: Letters (or pairs) written by only some of the languages.
_MARKERS: dict[str, tuple[str, ...]] = {
    "ã": ("pt",), "õ": ("pt",), "ç": ("pt", "fr"), "ê": ("pt", "fr"), "à": ("pt", "fr"),
    "ñ": ("es",), "ß": ("de",), "ä": ("de",), "ö": ("de",), "ü": ("de",), "è": ("fr",),
    "œ": ("fr",), "ij": ("nl",),
}  # fmt: skip
MAX_CHARS = 50_000
# Words of letters only, not glued to digits ("L1" is a grade, not the French "l").
_WORD = re.compile(r"(?<!\w)[^\W\d_]+(?!\w)")


@lru_cache(maxsize=1)
def _weights() -> dict[str, tuple[tuple[str, float], ...]]:
    """word -> ((language, weight), ...): a word in k lists weighs 1/k in each."""
    holders: dict[str, list[str]] = {}
    for lang, words in _LISTS.items():
        for word in words:
            holders.setdefault(word, []).append(lang)
    return {w: tuple((lang, 1.0 / len(langs)) for lang in langs) for w, langs in holders.items()}


def scores(text: str, languages: tuple[str, ...] = LANGUAGES) -> dict[str, float]:
    """Stopword evidence for each of ``languages`` in ``text`` (higher: more likely)."""
    weights = _weights()
    out = dict.fromkeys(languages, 0.0)
    for word, n in Counter(_WORD.findall(text[:MAX_CHARS].lower())).items():
        for lang, weight in weights.get(word, ()):
            if lang in out:
                out[lang] += n * weight
        for marker, langs in _MARKERS.items():
            if marker in word:
                for lang in langs:
                    if lang in out:
                        out[lang] += n / len(langs)
    return out


def detect(
    text: str, default: str = "en", *, languages: tuple[str, ...] = LANGUAGES,
    min_score: float = 2.0, margin: float = 1.25,
) -> str:
    """The language of ``text`` among ``languages``, or ``default`` when the evidence is weak
    (best score under ``min_score``, or not ``margin`` times the runner-up's)."""
    unknown = [lang for lang in languages if lang not in _LISTS]
    if unknown:
        raise ValueError(f"unknown language {unknown[0]!r}; supported: {', '.join(LANGUAGES)}")
    ranked = sorted(scores(text, languages).items(), key=lambda kv: -kv[1])
    if not ranked:
        return default
    best, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if top < min_score or top < margin * second:
        return default
    return best
