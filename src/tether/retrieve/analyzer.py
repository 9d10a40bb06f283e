"""The BM25 text analyzer: one tokenisation shared by ingest (postings) and search (queries).

It exists as its own module because the index and the queries must agree token for token: any
change here changes every stored posting, so it needs a re-index. The rules follow the
``bm25s`` defaults (the reference implementation BM25 is checked against):

- lowercase (unicode-aware);
- split on anything that is not a letter or a digit, keeping tokens of two or more characters
  (``bm25s`` uses ``\\b\\w\\w+\\b``; we also split on ``_``);
- drop the fixed English stopword list below (the one ``bm25s`` uses, from NLTK/Lucene);
- Snowball English stemming via PyStemmer (C implementation with a word cache).
"""

from __future__ import annotations

import re
import threading

import Stemmer

STOPWORDS_EN: frozenset[str] = frozenset(
    (
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
        "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
        "there", "these", "they", "this", "to", "was", "will", "with",
    )
)  # fmt: skip

_TOKEN = re.compile(r"[^\W_]{2,}")
# PyStemmer objects are not thread-safe; one per thread.
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    st = getattr(_local, "stemmer", None)
    if st is None:
        st = Stemmer.Stemmer("english")
        _local.stemmer = st
    return st


def analyze(text: str) -> list[str]:
    """Tokens of ``text`` for BM25: lowercased, split, stopwords removed, stemmed (in order)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS_EN]
    if not words:
        return []
    return _stemmer().stemWords(words)
