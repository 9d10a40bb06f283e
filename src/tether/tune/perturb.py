"""Rule-based edits that turn a true sentence into a false one (training augmentations).

Why: the public sets have few contradictions (SciFact: 341), and a model that never sees
"25 days" against "30 days" or "open" against "closed" learns topic overlap instead of meaning.
Each rule edits one thing (a negation, an antonym, a number), so the edited sentence is
contradicted by the evidence that entailed the original. The rules are conservative: a
sentence no rule fits is skipped, never guessed at.
"""

from __future__ import annotations

import random
import re

ANTONYMS = dict(
    pair
    for a, b in (
        ("increase", "decrease"), ("increases", "decreases"), ("increased", "decreased"), ("increasing", "decreasing"),
        ("higher", "lower"), ("more", "less"), ("greater", "smaller"), ("larger", "smaller"), ("before", "after"),
        ("positive", "negative"), ("positively", "negatively"), ("open", "closed"), ("opened", "closed"),
        ("early", "late"), ("earlier", "later"), ("first", "last"), ("older", "younger"), ("oldest", "youngest"),
        ("north", "south"), ("east", "west"), ("male", "female"), ("enhances", "reduces"), ("enhanced", "reduced"),
        ("promotes", "inhibits"), ("activates", "inhibits"), ("upregulated", "downregulated"), ("maximum", "minimum"),
        ("above", "below"), ("allowed", "forbidden"), ("required", "optional"), ("rises", "falls"), ("gain", "loss"),
        ("benefit", "harm"), ("beneficial", "harmful"), ("improves", "worsens"), ("improved", "worsened"),
    )
    for pair in ((a, b), (b, a))
)
_AUX = r"is|are|was|were|can|could|will|would|may|might|should|must|does|do|did"
_VERBS = (
    "increase decrease reduce cause improve inhibit promote induce regulate prevent enhance lower raise affect "
    "require mediate suppress activate block correlate lead result contribute protect predict impair trigger "
    "stimulate depend express bind drive limit alter modulate control accelerate delay confer produce elevate "
    "attenuate exacerbate worsen play occur exist show have"
).split()


def negate(claim: str) -> str | None:
    """A rule-based negation of a declarative claim, or None when no rule applies."""
    m = re.search(r"\b(does|do|did|is|are|was|were|can|could|will|would|should|must) not\b", claim)
    if m:
        return claim[: m.start()] + m.group(1) + claim[m.end():]
    if re.search(r"\bcannot\b", claim):
        return re.sub(r"\bcannot\b", "can", claim, count=1)
    if re.search(r"\bnot\b|n't\b|\bno\b|\bnever\b", claim, re.IGNORECASE):
        return None
    m = re.search(rf"\b({_AUX})\b", claim)
    verb = _third_person_verb(claim)
    if m and (verb is None or m.start() < verb[0]):
        return claim[: m.end()] + " not" + claim[m.end():]
    perfect = re.search(r"\b(has|have|had) (been|\w+ed|\w+en|won|made|led|held|found|become|done|shown|seen)\b", claim)
    if perfect and (verb is None or perfect.start() <= verb[0]):
        return claim[: perfect.end(1)] + " not" + claim[perfect.end(1):]
    if verb is not None:
        start, end, base = verb
        return claim[:start] + "does not " + base + claim[end:]
    return None


def _third_person_verb(claim: str) -> tuple[int, int, str] | None:
    """(start, end, base form) of the first known verb in the third person singular."""
    for w in re.finditer(r"\b[a-z]+s\b", claim):
        word = w.group(0)
        if word == "has":
            return w.start(), w.end(), "have"
        for base in (word[:-1], word[:-2]):
            if base in _VERBS:
                return w.start(), w.end(), base
    return None


def swap_antonym(text: str) -> str | None:
    """The first word with a listed antonym replaced by it (case kept), or None."""
    for m in re.finditer(r"\b[A-Za-z]+\b", text):
        word = m.group(0)
        other = ANTONYMS.get(word.lower())
        if other:
            other = other.capitalize() if word[0].isupper() else other
            return text[: m.start()] + other + text[m.end():]
    return None


def change_number(text: str, rng: random.Random) -> str | None:
    """One free-standing number (not part of a name such as IL-6) replaced by a different one."""
    nums = [m for m in re.finditer(r"(?<![\w.\-])\d+(?:\.\d+)?(?![\w.]*\d)", text)]
    if not nums:
        return None
    m = rng.choice(nums)
    old = m.group(0)
    if "." in old:
        new = f"{float(old) * rng.choice((2, 3, 0.5)):.{len(old.split('.')[1])}f}"
    else:
        n = int(old)
        new = str(n + rng.choice((1, 2, 5, 10)) if n < 1000 else n + rng.choice((-7, -3, 3, 7)))
    return None if new == old else text[: m.start()] + new + text[m.end():]


def falsify(text: str, rng: random.Random) -> tuple[str, str] | None:
    """(rule, edited text) by one rule chosen at random among those that apply, or None."""
    options = []
    for rule, edit in (("number", lambda t: change_number(t, rng)), ("antonym", swap_antonym), ("negation", negate)):
        out = edit(text)
        if out and out != text:
            options.append((rule, out))
    return rng.choice(options) if options else None
