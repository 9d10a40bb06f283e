"""The BM25 text analyzer: one tokenisation shared by ingest (postings) and search (queries).

It exists as its own module because the index and the queries must agree token for token: any
change here changes every stored posting, so it needs a re-index. The rules follow the
``bm25s`` defaults (the reference implementation BM25 is checked against):

- lowercase (unicode-aware);
- split on anything that is not a letter or a digit, keeping tokens of two or more characters
  (``bm25s`` uses ``\\b\\w\\w+\\b``; we also split on ``_``);
- drop the language's stopwords: for English the fixed list below (the one ``bm25s`` uses, from
  NLTK/Lucene), for the others NLTK's (:mod:`tether.text.stopwords`, ``bm25s``'s too);
- Snowball stemming in the language via PyStemmer (C implementation with a word cache);
- a token longer than ``MAX_TERM_CHARS`` is cut to that length (``bm25s`` keeps it whole): an
  unbroken run of a million letters is one token, and its posting row would exceed PostgreSQL's
  index row limit. Query and index cut alike, so a long identifier still matches.

Languages: a chunk is analysed in its own language (detected at ingest), and the terms of a
language other than English carry it as a prefix (``pt:contrat``, ``nl:huurovereenkomst``), so
each language has its own vocabulary and document frequencies: an English chunk is scored exactly
as before whatever else the index holds. A query is read by every language's analyzer
(:func:`analyze_query`) and the terms are OR-ed; a chunk can only match the terms of its own
language, and the terms of languages absent from the index match nothing.
"""

from __future__ import annotations

import re
import threading

import Stemmer

from tether.text import stopwords
from tether.text.languages import LANGUAGES

STOPWORDS_EN: frozenset[str] = frozenset(
    (
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
        "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
        "there", "these", "they", "this", "to", "was", "will", "with",
    )
)  # fmt: skip

#: Snowball stemmer names (PyStemmer) and stopwords of each language.
STEMMERS: dict[str, str] = {
    "en": "english", "pt": "portuguese", "nl": "dutch", "de": "german", "fr": "french", "es": "spanish",
}  # fmt: skip
STOPWORDS: dict[str, frozenset[str]] = {
    "en": STOPWORDS_EN, "pt": stopwords.PORTUGUESE, "nl": stopwords.DUTCH, "de": stopwords.GERMAN,
    "fr": stopwords.FRENCH, "es": stopwords.SPANISH,
}  # fmt: skip
assert set(STEMMERS) == set(STOPWORDS) == set(LANGUAGES)

_TOKEN = re.compile(r"[^\W_]{2,}")
#: Characters kept of one token (longer ones are cut): far above any word, far below the
#: index row limit even for four-byte characters.
MAX_TERM_CHARS = 100
# PyStemmer objects are not thread-safe; one per thread and language.
_local = threading.local()


def _stemmer(language: str) -> Stemmer.Stemmer:
    cache: dict[str, Stemmer.Stemmer] | None = getattr(_local, "stemmers", None)
    if cache is None:
        cache = _local.stemmers = {}
    st = cache.get(language)
    if st is None:
        st = cache[language] = Stemmer.Stemmer(STEMMERS[language])
    return st


def _check(language: str) -> None:
    if language not in STEMMERS:
        raise ValueError(f"no BM25 analyzer for language {language!r}; supported: {', '.join(STEMMERS)}")


def analyze(text: str, language: str = "en") -> list[str]:
    """Terms of ``text`` for BM25 in ``language``: lowercased, split, stopwords removed, stemmed
    (in order); prefixed with ``"<language>:"`` unless English."""
    _check(language)
    stop = STOPWORDS[language]
    words = [w[:MAX_TERM_CHARS] for w in _TOKEN.findall(text.lower()) if w not in stop]
    if not words:
        return []
    stems = _stemmer(language).stemWords(words)
    if language == "en":
        return stems
    prefix = language + ":"
    return [prefix + s for s in stems]


def analyze_query(text: str, languages: tuple[str, ...] = LANGUAGES) -> list[str]:
    """Terms of a query as each of ``languages`` reads it, one language after the other."""
    out: list[str] = []
    for language in languages:
        out += analyze(text, language)
    return out
