"""The deterministic follow-up rewriter: a question that only makes sense after the previous one
("And for other relatives?", "What about contractors?", "How many days is that?") becomes a
standalone question by carrying the previous question's topic terms, entities and numbers.

It exists so the embedded default (no LLM) understands follow-ups, and so that what it does can
be read and tested: rules, not a model. It reads only the user's own earlier questions (their
standalone forms), never answers, so a standalone question it writes holds nothing taken from a
document. A question is left alone when it is self-contained (enough content words and neither
a leading connector nor a pronoun pointing back) or when carrying terms would not change its BM25
terms (``analyze``): then retrieval would see the same query.

Slot rule: a follow-up that names its own number ("And in 2025?") or entity ("What about
Germany?") replaces the previous question's numbers or entities instead of adding to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tether.retrieve.analyzer import STOPWORDS_EN, analyze

#: Openings that make a question lean on the previous one.
CONNECTORS = ("and what about", "and how about", "what about", "how about", "and for", "and in", "and",
              "also", "but", "same for", "what if", "then", "or")
#: Words that point back at something said before.
PRONOUNS = frozenset({"it", "its", "that", "this", "those", "these", "they", "them", "their", "there", "he", "she",
                      "his", "her", "him", "one", "ones", "such", "same", "so"})
#: Words that carry no topic (question words, auxiliaries, fillers).
FUNCTION_WORDS = frozenset({
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "many", "much", "do", "does", "did",
    "can", "could", "should", "would", "may", "might", "must", "shall", "is", "are", "was", "were", "be", "been",
    "being", "have", "has", "had", "i", "we", "you", "me", "us", "my", "our", "your", "please", "tell", "about",
    "also", "regarding", "any", "some", "else", "more", "get", "gets", "got", "there", "here", "from", "than",
    "yes", "ok", "okay", "thanks", "thank", "know", "want", "like", "need", "still", "just", "only", "very",
    "other", "others", "another", "case", "cases", "ones", "etc", "all", "each", "every", "too", "well", "now",
}) | STOPWORDS_EN | PRONOUNS
_WORD = re.compile(r"[^\W_][\w'’-]*|\d+(?:[.,:/-]\d+)*")
_NUMBER = re.compile(r"^\d+(?:[.,:/-]\d+)*$")
#: At most this many terms are carried.
MAX_CARRIED = 10
#: A question without a connector or pronoun is elliptical only with at most this many content words.
ELLIPTICAL_WORDS = 1
#: A pronoun-led question is a follow-up with at most this many content words of its own.
PRONOUN_WORDS = 4


@dataclass(frozen=True)
class FollowUp:
    """What the rules decided for one question."""

    standalone: str
    rewritten: bool
    #: no_history | self_contained | no_change | carried
    reason: str
    carried: list[str] = field(default_factory=list)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its topic, in order, once each (original casing)."""
    out: list[str] = []
    seen: set[str] = set()
    for w in words(text):
        key = w.casefold().strip("'’-")
        if not key or key in FUNCTION_WORDS or len(key) < 2 and not key.isdigit() or key in seen:
            continue
        seen.add(key)
        out.append(w)
    return out


def is_entity(word: str, position: int) -> bool:
    """A capitalised word that does not open the question (names, products, places, acronyms)."""
    return position > 0 and word[:1].isupper()


def _numbers(ws: list[str]) -> list[str]:
    return [w for w in ws if _NUMBER.match(w)]


def _entities(text: str) -> set[str]:
    return {w.casefold() for i, w in enumerate(words(text)) if is_entity(w, i) and not _NUMBER.match(w)}


def connector(question: str) -> str | None:
    low = " ".join(question.casefold().split())
    for c in CONNECTORS:
        if low == c or low.startswith(c + " ") or low.startswith(c + ","):
            return c
    return None


def is_follow_up(question: str) -> bool:
    """Leans on the previous question: a leading connector, a pronoun in a short question, or
    an elliptical fragment ("Contractors?")."""
    own = content_words(question)
    if connector(question) is not None:
        return True
    lowered = {w.casefold() for w in words(question)}
    if lowered & PRONOUNS and len(own) <= PRONOUN_WORDS:
        return True
    return len(own) <= ELLIPTICAL_WORDS


def rewrite(question: str, previous: list[str]) -> FollowUp:
    """The standalone form of ``question`` given the previous questions (standalone forms,
    oldest first); only the newest is used (it already carries what came before it)."""
    q = " ".join(question.split())
    if not previous or not any(p.strip() for p in previous):
        return FollowUp(q, False, "no_history")
    if not is_follow_up(q):
        return FollowUp(q, False, "self_contained")
    prev = next(p for p in reversed(previous) if p.strip())
    own = {w.casefold() for w in content_words(q)}
    own_stems = set(analyze(q))
    replaces_number = bool(_numbers(words(q)))
    own_entities = _entities(q)
    carried: list[str] = []
    taken: set[str] = set()
    topic = {w.casefold() for w in content_words(prev)}
    for i, w in enumerate(words(prev)):
        key = w.casefold()
        if key not in topic or key in own or key in taken:
            continue
        stems = set(analyze(w))
        if stems and stems <= own_stems:
            continue
        if replaces_number and _NUMBER.match(w):
            continue
        if own_entities and is_entity(w, i) and not _NUMBER.match(w):
            continue
        taken.add(key)
        carried.append(w)
    carried = carried[:MAX_CARRIED]
    if not carried:
        return FollowUp(q, False, "no_change")
    base = q.rstrip(" ?!.")
    standalone = f"{base} ({' '.join(carried)})?"
    if set(analyze(standalone)) == own_stems:
        return FollowUp(q, False, "no_change")
    return FollowUp(standalone, True, "carried", carried)
