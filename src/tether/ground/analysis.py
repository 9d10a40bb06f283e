"""Text features the support checks compare: content terms, numbers, names, negations.

Kept deliberately simple and deterministic (regexes + a Snowball stemmer) so that a reason
such as ``number_missing:3.5`` can be explained to a reviewer in one line.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

# Function words only: comparatives and quantifiers ("only", "more", "before", "both") carry the
# claim in sentences such as "X has only one species" and must be backed by the source.
STOPWORDS = frozenset(
    """a an the and or but if then that this these those there here of in on at to for from by
    with as into onto about is are was were be been being am do does did doing have has had
    having it its it's they them their he him his she her hers we us our you your i me my which
    who whom whose what when where why how can could may might must shall should will would s t
    yes""".split()
)
# Words that report rather than claim ("according to the source", "is located in"): not
# required to occur in the cited span.
LIGHT = frozenset(
    """according source sources document documents passage text states stated says said mentions
    mentioned notes noted indicates indicated describes described explains explained based located
    called named known""".split()
)
# Words that frame a question rather than name what it is about ("how long", "how many days do
# I get"): not required of an answer.
QUESTION_FRAME = frozenset(
    """get gets got getting give given many much long often quick quickly soon allowed allow need
    needs needed please tell know want standard usual usually exactly""".split()
)
NEGATIONS = frozenset(
    "not no never none neither nor cannot nobody nothing nowhere without lack lacks lacked".split()
)
_NUM_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000, "million": 10**6,
    "billion": 10**9, "half": 0.5, "once": 1, "twice": 2, "dozen": 12,
}
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d+(?:[.,]\d+)*")
_NUMBER = re.compile(r"(?<![\w.])[-−]?\$?\d+(?:,\d{3})*(?:\.\d+)?(?:\s?%| percent)?")
_NAME_WORD = r"[A-Z][A-Za-z'’\-]*[A-Za-z]|[A-Z]\.?"
_NAME = re.compile(rf"(?:{_NAME_WORD})(?:\s+(?:(?:of|the|de|van|von|da|del|der|la|le|for|and)\s+)?(?:{_NAME_WORD}))*")
_CITE = re.compile(r"\[\^?\d+(?:\s*[,;\u2013-]\s*\d+)*\]")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokens(text: str) -> list[str]:
    """Lower-cased word and number tokens, possessives stripped ("Nixon's" -> "nixon")."""
    out = []
    for t in _TOKEN.findall(_CITE.sub(" ", text)):
        t = t.lower().replace("’", "'")
        if t.endswith("'s"):
            t = t[:-2]
        out.append(t.strip("'-"))
    return [t for t in out if t]


def terms(text: str) -> set[str]:
    """Stemmed content terms: what lexical overlap is measured on."""
    toks = [t for t in tokens(text) if t not in STOPWORDS and t not in LIGHT and len(t) > 1 or t.isdigit()]
    return set(_stemmer().stemWords(toks))


def unmatched_words(claim: str, source: str) -> list[str]:
    """Content words of ``claim`` whose stems never occur in ``source`` (for readable reasons)."""
    have = terms(source)
    stem = _stemmer().stemWord
    out: list[str] = []
    for t in tokens(claim):
        content = (t not in STOPWORDS and t not in LIGHT and len(t) > 1) or t.isdigit()
        if content and stem(t) not in have and t not in out:
            out.append(t)
    return out


def _num_value(raw: str) -> str:
    s = raw.replace("$", "").replace("−", "-").replace("percent", "%").replace(" ", "")
    pct = s.endswith("%")
    s = s.rstrip("%").replace(",", "")
    try:
        v = float(s)
    except ValueError:
        return raw
    txt = str(int(v)) if v.is_integer() and abs(v) < 1e18 else f"{v:g}"
    return txt + ("%" if pct else "")


def numbers(text: str) -> set[str]:
    """Normalised numbers: "2,000,000" -> "2000000", "$3.5" -> "3.5", "50 percent" -> "50%"."""
    text = _CITE.sub(" ", text)
    return {_num_value(m.group(0)) for m in _NUMBER.finditer(text)}


def number_words(text: str) -> set[str]:
    """Numbers written as words ("three" -> "3"), used only to accept claims, never to reject."""
    return {f"{_NUM_WORDS[t]:g}" for t in tokens(text) if t in _NUM_WORDS}


def numbers_supported(claim: str, source: str) -> list[str]:
    """Numbers of ``claim`` that ``source`` does not contain (as digits or as words)."""
    have = numbers(source) | number_words(source)
    have |= {h.rstrip("%") for h in have}
    missing = []
    for n in sorted(numbers(claim)):
        if n in have or (n.endswith("%") and n.rstrip("%") in have):
            continue
        missing.append(n)
    return missing


def names(text: str) -> list[str]:
    """Capitalised names ("Richard Nixon", "Bank of England", "Mumbai").

    A lone capitalised word that opens a sentence is not taken as a name; leading stopwords
    ("The Oberoi") are dropped.
    """
    text = _CITE.sub(" ", text)
    found: list[str] = []
    for m in _NAME.finditer(text):
        words = m.group(0).split()
        opens = not re.sub(r"[\s\-*#>\"'“(]", "", text[: m.start()]) or bool(
            re.search(r"[.!?:]\s*$", text[: m.start()])
        )
        if opens and len(words) == 1:
            continue
        while words and words[0].lower() in STOPWORDS:
            words = words[1:]
        if words and not (len(words) == 1 and len(words[0].rstrip(".")) < 2):
            found.append(" ".join(words))
    return found


def names_missing(claim: str, source: str) -> list[str]:
    """Names of ``claim`` that ``source`` lacks: every word must occur, in the same order, with
    at most two words between neighbours ("Amy Johnson" matches "Amy Jo Johnson"; "Brooks
    Garth" does not match "Garth Brooks")."""
    stem = _stemmer().stemWord
    have = [stem(t) for t in tokens(source)]
    where: dict[str, list[int]] = {}
    for i, t in enumerate(have):
        where.setdefault(t, []).append(i)
    missing = []
    for name in names(claim):
        words = [stem(w) for w in tokens(name) if w not in STOPWORDS]
        if words and not _in_order(words, where):
            missing.append(name)
    return missing


def _in_order(words: list[str], where: dict[str, list[int]], gap: int = 3) -> bool:
    for first in where.get(words[0], []):
        pos = first
        for w in words[1:]:
            nxt = [i for i in where.get(w, []) if pos < i <= pos + gap]
            if not nxt:
                break
            pos = nxt[0]
        else:
            return True
    return False


def negated(text: str) -> bool:
    """Whether the text carries a negation ("not", "never", "n't", "no" ...)."""
    return bool(negation_scopes(text)) or "n't" in text.lower().replace("’", "'")


def negation_scopes(text: str, width: int = 4) -> set[str]:
    """Stemmed content terms within ``width`` words after each negation ("did not pay a
    dividend" -> {"pay", "dividend"}); what the negation is about."""
    toks = tokens(text.replace("n't", " not").replace("n’t", " not"))
    out: set[str] = set()
    for i, t in enumerate(toks):
        if t in NEGATIONS:
            out.add("<neg>")
            scope = [w for w in toks[i + 1 : i + 1 + width] if w not in STOPWORDS and w not in NEGATIONS]
            out |= set(_stemmer().stemWords(scope))
    return out


def negation_mismatch(claim: str, spans: list[str]) -> str | None:
    """``negation_added`` when the claim negates something no cited span negates;
    ``negation_dropped`` when a span negates a term the claim asserts without negation."""
    claim_scope = negation_scopes(claim) - {"<neg>"}
    span_scopes = [negation_scopes(s) - {"<neg>"} for s in spans]
    if negated(claim):
        if not any(negated(s) for s in spans):
            return "negation_added"
        if claim_scope and not any(claim_scope & sc for sc in span_scopes):
            return "negation_added"
        return None
    want = terms(claim)
    if any(sc & want for sc in span_scopes):
        return "negation_dropped"
    return None
