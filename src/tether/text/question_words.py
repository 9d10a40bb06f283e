"""Word-level reading of a question for the follow-up rewriter (:mod:`tether.text.followups`):
tokens with offsets, content words, entities, and the small word classes the rules use."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tether.retrieve.analyzer import STOPWORDS_EN

#: Words that point back at something said before.
PRONOUNS = frozenset({"it", "its", "that", "this", "those", "these", "they", "them", "their", "there", "he", "she",
                      "his", "her", "him", "one", "ones", "such", "same", "so"})
#: Pronouns the rules replace with the previous topic phrase (possessives: after their noun).
_REPLACEABLE = frozenset({"it", "that", "this", "those", "these", "they", "them"})
_POSSESSIVE = frozenset({"its", "their"})
#: Words that carry no topic (question words, auxiliaries, fillers).
FUNCTION_WORDS = frozenset({
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "many", "much", "do", "does", "did",
    "can", "could", "should", "would", "may", "might", "must", "shall", "is", "are", "was", "were", "be", "been",
    "being", "have", "has", "had", "i", "we", "you", "me", "us", "my", "our", "your", "please", "tell", "about",
    "also", "regarding", "any", "some", "else", "more", "get", "gets", "got", "there", "here", "from", "than",
    "yes", "ok", "okay", "thanks", "thank", "know", "want", "like", "need", "still", "just", "only", "very",
    "other", "others", "another", "case", "cases", "ones", "etc", "all", "each", "every", "too", "well", "now",
}) | STOPWORDS_EN | PRONOUNS
#: Words that open a question with its own verb ("what is ...", "does ...").
_FRAME_OPENERS = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are",
                            "was", "were", "do", "does", "did", "can", "could", "should", "would", "may", "might",
                            "must", "shall", "will", "until", "up", "within"})
_AUXILIARIES = frozenset({"do", "does", "did", "can", "could", "should", "would", "may", "might", "must", "shall",
                          "will", "is", "are", "was", "were", "have", "has", "had"})
#: Words that end a topic phrase (an auxiliary or a subject starts the rest of the clause).
_CLAUSE_WORDS = frozenset({"do", "does", "did", "can", "could", "should", "would", "may", "might", "must", "shall",
                           "will", "is", "are", "was", "were", "i", "we", "you", "they", "he", "she", "and", "or"})
#: After "how" these ask for a measure, they name no topic ("how long", "how far").
_MEASURES = frozenset({"long", "far", "often", "soon", "old", "big", "large", "late", "early"})
#: Openings of a phrase that fills a slot of the previous question ("for ...", "when ...").
_SLOT_WORDS = frozenset({"for", "to", "in", "at", "on", "with", "from", "during", "after", "before", "by", "without",
                         "within", "under", "into", "when", "while", "if", "per", "of"})
#: Slot words whose object a bare noun phrase may replace ("of", "per" attach to a noun).
_OBJECT_SLOTS = _SLOT_WORDS - {"of", "per", "when", "while", "if"}
_DETERMINERS = frozenset({"the", "a", "an", "my", "our", "your"})
_WORD = re.compile(r"[^\W_][\w'’-]*|\d+(?:[.,:/-]\d+)*")
_ECHO_WORD = re.compile(r"[\w-]+")
_NUMBER = re.compile(r"^\d+(?:[.,:/-]\d+)*$")


@dataclass(frozen=True)
class _Tok:
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return self.text.casefold().strip("'’-")

    @property
    def content(self) -> bool:
        k = self.key
        return bool(k) and k not in FUNCTION_WORDS and (len(k) >= 2 or k.isdigit())


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its topic, in order, once each (original casing)."""
    out: list[str] = []
    seen: set[str] = set()
    for t in _tokens(text):
        if t.content and t.key not in seen:
            seen.add(t.key)
            out.append(t.text)
    return out


def is_entity(word: str, position: int) -> bool:
    """A capitalised word that does not open the question (names, products, places, acronyms)."""
    return position > 0 and word[:1].isupper()


def _numbers(ws: list[str]) -> list[str]:
    return [w for w in ws if _NUMBER.match(w)]


def _entities(text: str) -> set[str]:
    return {w.casefold() for i, w in enumerate(words(text)) if is_entity(w, i) and not _NUMBER.match(w)}


def _runs(toks: list[_Tok], pred: Callable[[int], bool]) -> list[tuple[int, int]]:
    """Maximal runs [i, j) of tokens meeting ``pred(index)``."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(toks):
        if pred(i):
            j = i
            while j < len(toks) and pred(j):
                j += 1
            out.append((i, j))
            i = j
        else:
            i += 1
    return out
