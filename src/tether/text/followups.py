"""The deterministic follow-up rewriter: a question that only makes sense after the previous one
("And for other relatives?", "What about contractors?", "How many days is that?") becomes a
standalone question that reads like one a user could have asked on its own.

It exists so the embedded default (no LLM) understands follow-ups, and so that what it does can
be read and tested: rules, not a model. It reads only the user's own earlier questions (their
standalone forms), never answers, so a standalone question it writes holds nothing taken from a
document. A question is left alone when it is self-contained: enough content words and neither a
pronoun pointing back nor a bare fragment, even after a leading connector ("And what is the
minimum password length?" has its own verb and topic) -- or when the rewrite would not change its
BM25 terms (``analyze``): then retrieval would see the same query.

Rewrites put the follow-up into the previous question's frame, so the answer selector (which reads
the question as a question) sees a natural one, and the new words weigh as much as the old:

- a pronoun ("How long is it valid?") is replaced by the previous question's topic phrase ("a
  password reset link"); a possessive puts it before its noun ("its RPO and RTO" -> "failover RPO
  and RTO for the main database");
- a fragment fills the slot it names in the previous question ("framed"): a number replaces the
  previous number ("And in 2025?"), a noun phrase sharing the previous one's head replaces it
  ("And the Team tier?" for "the Business tier"), an entity replaces the last entity ("What
  about Paris?" for London), a phrase opening with a preposition or "when" replaces the previous
  phrase opening with the same word (or is appended), and any other noun phrase replaces the
  object of the previous question's last prepositional phrase;
- what fits neither (a short question of its own, "And how many are paid at full salary?") gets
  the previous question's topic terms carried in parentheses ("carried").

A rewrite holds only words the asker typed (this question or the previous standalone one, itself
built from their words): no glue word is invented, so the echoed standalone question can be
checked to reveal nothing (the leakage suite blanks such echoes) -- a form that would need another
word falls back to carrying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tether.retrieve.analyzer import analyze
from tether.text.question_words import (
    _AUXILIARIES,
    _CLAUSE_WORDS,
    _DETERMINERS,
    _ECHO_WORD,
    _FRAME_OPENERS,
    _MEASURES,
    _NUMBER,
    _OBJECT_SLOTS,
    _POSSESSIVE,
    _REPLACEABLE,
    _SLOT_WORDS,
    PRONOUNS,
    _entities,
    _numbers,
    _runs,
    _tokens,
    content_words,
    is_entity,
    words,
)

#: Openings that make a question lean on the previous one.
CONNECTORS = ("and what about", "and how about", "what about", "how about", "and for", "and in", "and",
              "also", "but", "same for", "what if", "then", "or")
#: Connectors after which the rest is a fragment to put into the previous question's frame.
_FRAGMENT_LEADS = ("and what about", "and how about", "what about", "how about", "same for", "and", "also",
                   "but", "then", "or")
#: At most this many terms are carried.
MAX_CARRIED = 10
#: A question without a connector or pronoun is elliptical only with at most this many content words.
ELLIPTICAL_WORDS = 1
#: A pronoun-led question is a follow-up with at most this many content words of its own.
PRONOUN_WORDS = 4
#: A question with its own verb after a connector is self-contained with at least this many.
FRAMED_WORDS = 4


@dataclass(frozen=True)
class FollowUp:
    """What the rules decided for one question."""

    standalone: str
    rewritten: bool
    #: no_history | self_contained | no_change | resolved (pronoun) | framed (fragment) | carried
    reason: str
    carried: list[str] = field(default_factory=list)


def connector(question: str) -> str | None:
    low = " ".join(question.casefold().split())
    for c in CONNECTORS:
        if low == c or low.startswith(c + " ") or low.startswith(c + ","):
            return c
    return None


def _body(question: str) -> tuple[str | None, str]:
    """The fragment lead the question opens with (if any) and the rest, without end punctuation."""
    q = question.strip().rstrip(" ?!.")
    low = q.casefold()
    for c in _FRAGMENT_LEADS:
        if low == c or low.startswith(c + " ") or low.startswith(c + ","):
            return c, q[len(c):].lstrip(" ,")
    return None, q


def _has_frame(body: str) -> bool:
    """Opens with a question word and has a verb of its own ("how many are paid"; not "when
    hosting customers")."""
    toks = _tokens(body)
    return bool(toks) and toks[0].key in _FRAME_OPENERS and any(t.key in _AUXILIARIES for t in toks)


def is_follow_up(question: str) -> bool:
    """Leans on the previous question: a pronoun in a short question, a leading connector before
    fewer than ``FRAMED_WORDS`` content words, or an elliptical fragment ("Contractors?")."""
    own = content_words(question)
    lowered = {w.casefold() for w in words(question)}
    if lowered & PRONOUNS and len(own) <= PRONOUN_WORDS or leading_pronoun(question):
        return True
    if connector(question) is not None:
        lead, _ = _body(question)
        return not (lead is not None and len(own) >= FRAMED_WORDS)
    return len(own) <= ELLIPTICAL_WORDS


#: After "it", these make it the empty subject of "is it true that ...", "is it possible to ...".
_EXPLETIVE = frozenset({"possible", "allowed", "true", "ok", "okay", "necessary", "mandatory", "required",
                        "permitted", "normal", "common", "worth", "better", "fine", "legal", "acceptable", "enough",
                        "too", "really", "likely", "safe", "wise", "free"})


def leading_pronoun(question: str) -> bool:
    """A pronoun ("it", "they", "its", "their", "them") before any content word of the question:
    its antecedent cannot be in the question, so it is in the one before ("Does it get anything
    beyond the standard SLA?", "If they see 98.5% availability, what credit do they get?"),
    however long the question. The empty "it" of "Is it true that ..." does not count."""
    toks = _tokens(question)
    for n, t in enumerate(toks):
        if t.content:
            return False
        if t.key in ("it", "its", "they", "them", "their"):
            after = [x.key for x in toks[n + 1:n + 3]]
            if t.key == "it" and (after[:1] and after[0] in _EXPLETIVE
                                  or after[:1] in (["is"], ["was"]) and after[1:] and after[1] in _EXPLETIVE):
                continue
            return True
    return False


def _last_entity(question: str) -> str:
    """The last run of capitalised words of ``question`` past its first word ("Halden Logistics"),
    verbatim; "" when there is none ("I" is not one)."""
    toks = _tokens(question)
    runs = _runs(toks, lambda i: is_entity(toks[i].text, i) and not _NUMBER.match(toks[i].text)
                 and toks[i].key != "i")
    if not runs:
        return ""
    a, b = runs[-1]
    return question[toks[a].start:toks[b - 1].end]


def _object_of(phrase: str) -> str:
    """A topic phrase without a leading subject and verb: "law governs the Brightwater Health
    agreement" -> "the Brightwater Health agreement" (a word other than a preposition right
    before a determiner is read as the verb); "liability cap in the X contract" is kept."""
    toks = _tokens(phrase)
    for n in range(1, len(toks) - 1):
        if toks[n + 1].key in _DETERMINERS and toks[n].key not in _SLOT_WORDS and toks[n].content:
            return phrase[toks[n + 1].start:]
    return phrase


def topic_phrase(question: str, skip: set[str] | frozenset[str] = frozenset()) -> str:
    """The phrase a question is about, verbatim: from its first content word (past the question
    words, "how long" and the like) to the next auxiliary or subject, without trailing function
    words ("How many unused leave days can I carry over?" -> "unused leave days"), with the
    determiner before it ("a password reset link"); leading words in ``skip`` (the follow-up's
    own) are dropped."""
    toks = _tokens(question)
    i = 0
    while i < len(toks) and (not toks[i].content or toks[i].key in _MEASURES and i and toks[i - 1].key == "how"
                             or toks[i].key in skip):
        i += 1
    j = i
    while j < len(toks) and toks[j].key not in _CLAUSE_WORDS:
        j += 1
    while j > i and not toks[j - 1].content:
        j -= 1
    if j <= i:
        return ""
    d = i - 1
    while d >= 0 and toks[d].key in _DETERMINERS:
        d -= 1
    start = toks[d + 1].start if d + 1 < i else toks[i].start
    if d >= 0 and toks[d].key in ("do", "does", "did"):  # "When does the X term end?": drop the verb
        v = i
        while v + 1 < j and toks[v + 1].content:
            v += 1
        if v > i:
            rest = question[toks[v].end:toks[j - 1].end] if v + 1 < j else ""
            return (question[start:toks[v - 1].end] + rest).strip("() ")
    return question[start:toks[j - 1].end].strip("() ")


def _resolve_pronoun(q: str, prev: str) -> str | None:
    """``q`` with its first back-pointing pronoun replaced by the previous topic phrase."""
    toks = _tokens(q)
    own = {t.key for t in toks if t.content}
    vocabulary = {t.key for t in toks + _tokens(prev)}
    phrase = topic_phrase(prev, own)
    if not phrase:
        return None
    for n, t in enumerate(toks):
        nxt = toks[n + 1] if n + 1 < len(toks) else None
        determiner = nxt is not None and nxt.content and t.key in ("that", "this", "these", "those")
        if t.key in _REPLACEABLE and not determiner:
            # "they"/"them" point at the organisation or people the previous question named
            who = _last_entity(prev) if t.key in ("they", "them") else ""
            return _sentence(q[:t.start] + (who or _object_of(phrase)) + q[t.end:])
        if t.key in _POSSESSIVE and nxt is not None and nxt.content:
            m = n + 1
            while m + 1 < len(toks) and (toks[m + 1].content or toks[m + 1].key in ("and", "or")
                                         and m + 2 < len(toks) and toks[m + 2].content):
                m += 1
            if n and toks[n - 1].key in ("do", "does", "did") and m > n + 1:  # "do its X last": the verb
                m -= 1
            if m + 1 == len(toks) and {"of", "the"} <= vocabulary:  # it ends the question: "the cap of the X"
                return _sentence(q[:t.start] + "the " + q[nxt.start:toks[m].end] + " of " + phrase)
            ptoks = _tokens(phrase)
            cut = next((k for k in range(1, len(ptoks)) if ptoks[k].key in _SLOT_WORDS), None)
            if m + 1 == len(toks) and cut is not None:  # "failover RPO and RTO for the main database"
                return _sentence(q[:t.start] + phrase[:ptoks[cut].start] + q[nxt.start:toks[m].end] + " "
                                 + phrase[ptoks[cut].start:])
            return _sentence(q[:t.start] + phrase + " " + q[nxt.start:])  # "the X NDA obligations"
    return None


def _fill_frame(fragment: str, prev: str) -> str | None:
    """The previous question with the slot ``fragment`` names filled by it (see the module doc)."""
    ftoks, ptoks = _tokens(fragment), _tokens(prev)
    if not ftoks or not ptoks:
        return None
    lead = ftoks[0].key if ftoks[0].key in _SLOT_WORDS else None
    np_start = 1 if lead else 0
    while np_start < len(ftoks) and ftoks[np_start].key in _DETERMINERS:
        np_start += 1
    if np_start >= len(ftoks):
        return None
    np = fragment[ftoks[np_start].start:].strip()
    with_det = fragment[ftoks[1 if lead else 0].start:].strip()
    nps = ftoks[np_start:]
    body = prev.rstrip(" ?!.")

    def splice(a: int, b: int, text: str) -> str:
        return _sentence(body[:a] + text + body[b:])

    # a number replaces the previous question's numbers ("And in 2025?")
    fnums, pnums = [t for t in nps if _NUMBER.match(t.text)], [t for t in ptoks if _NUMBER.match(t.text)]
    if fnums and pnums and len(fnums) == len(nps):
        return splice(pnums[-1].start, pnums[-1].end, " ".join(t.text for t in fnums))
    # a noun phrase sharing the previous one's head replaces it ("the Team tier" for "the Business tier")
    head = nps[-1]
    head_stems = set(analyze(head.text))
    for n in range(len(ptoks) - 1, -1, -1) if head.content else ():
        if ptoks[n].content and (ptoks[n].key == head.key or head_stems and set(analyze(ptoks[n].text)) == head_stems):
            m = n
            while m > 0 and ptoks[m - 1].content:
                m -= 1
            if lead is None:
                return splice(ptoks[m].start, ptoks[n].end, np)
            break
    # an entity replaces the last entity ("What about Paris?" for London)
    if any(is_entity(t.text, 1) and not _NUMBER.match(t.text) for t in nps):
        ents = _runs(ptoks, lambda i: is_entity(ptoks[i].text, i) and not _NUMBER.match(ptoks[i].text))
        if ents:
            a, b = ents[-1]
            return splice(ptoks[a].start, ptoks[b - 1].end, np)
    # a phrase opening with a slot word replaces the previous one opening with it, or is appended
    if lead is not None:
        same = [t for t in ptoks if t.key == lead]
        if same:
            return splice(same[-1].start, len(body), fragment.strip())
        return _sentence(body + " " + fragment.strip())
    # another noun phrase replaces the object of the last prepositional phrase ("to London")
    slots = [n for n, t in enumerate(ptoks) if t.key in _OBJECT_SLOTS]
    if slots:
        n = slots[-1]
        if n + 1 < len(ptoks):
            return splice(ptoks[n + 1].start, len(body), with_det)
    return None


def _own_words(standalone: str, q: str, prev: str) -> bool:
    """Every word of ``standalone`` is one the asker typed (in ``q`` or the previous question): the
    rules add no word of their own, so an echoed standalone question reveals nothing."""
    typed = {w.casefold() for w in _ECHO_WORD.findall(q + " " + prev)}
    return all(w.casefold() in typed for w in _ECHO_WORD.findall(standalone))


def _sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip(" ?!.,")
    return text[:1].upper() + text[1:] + "?"


def _carry(q: str, prev: str) -> tuple[str, list[str]]:
    """The fallback: ``q`` with the previous question's topic terms it lacks, in parentheses."""
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
        return q, []
    return f"{q.rstrip(' ?!.')} ({' '.join(carried)})?", carried


def rewrite(question: str, previous: list[str]) -> FollowUp:
    """The standalone form of ``question`` given the previous questions (standalone forms,
    oldest first); only the newest is used (it already carries what came before it)."""
    q = " ".join(question.split())
    if not previous or not any(p.strip() for p in previous):
        return FollowUp(q, False, "no_history")
    if not is_follow_up(q):
        return FollowUp(q, False, "self_contained")
    prev = " ".join(next(p for p in reversed(previous) if p.strip()).split())
    own_stems = set(analyze(q))
    lead, body = _body(q)
    standalone: str | None = None
    reason = "carried"
    if {t.key for t in _tokens(q)} & (_REPLACEABLE | _POSSESSIVE):
        standalone, reason = _resolve_pronoun(q, prev), "resolved"
    elif (lead is not None or len(content_words(q)) <= ELLIPTICAL_WORDS) and not _has_frame(body):
        standalone, reason = _fill_frame(body, prev), "framed"
    if standalone is None or not _own_words(standalone, q, prev):
        standalone, carried = _carry(q, prev)
        reason = "carried"
    else:
        own = {t.key for t in _tokens(q)}
        carried = [w for w in content_words(standalone) if w.casefold() not in own]
    if not carried or set(analyze(standalone)) == own_stems:
        return FollowUp(q, False, "no_change")
    return FollowUp(standalone, True, reason, carried[:MAX_CARRIED])
