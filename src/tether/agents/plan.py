"""The embedded research planner: deterministic, no model.

Why a module of its own: research mode (``answer/research.py``) needs a plan before it can run
steps, and without an LLM the plan has to come from the question's text and the first hop's
passages alone, the same way every time (a plan that can be replayed and tested).

1. :func:`decompose`: the question as asked is step 1; a multi-part question
   (:func:`tether.ground.focus.question_parts`) adds one step per part. A part that leans on the
   question around it ("... and what is paid after that?") gets the informative terms of the
   first part added, so it searches for its own subject.
2. :func:`bridge_entities`: after the first hop, the names and identifiers (``flow-api``,
   "Keiko Vantress", "Utrecht") that the best passages mention in sentences sharing terms with
   the question (at least ``MIN_BRIDGE_OVERLAP`` of its informative terms), and that the question
   itself does not name: the bridges a second hop searches
   for (:func:`hop_query`: the entity with the question's informative terms).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tether.ground.analysis import STOPWORDS, names, terms
from tether.ground.focus import informative_terms, question_parts
from tether.text import split_sentences
from tether.types import Passage

#: Identifiers written in lower case with hyphens or digits (``flow-api``, ``rb-db-002``).
_IDENT = re.compile(r"(?<![\w-])[a-z][a-z0-9]*(?:-[a-z0-9]+)+(?![\w-])")
#: A part that refers back to the rest of the question.
_LEANS = re.compile(r"\b(?:that|this|it|its|they|them|their|those|these|then|after that)\b", re.IGNORECASE)
#: Passages of the first hop read for bridges, and sentences per passage.
BRIDGE_PASSAGES = 5
MIN_PART_TERMS = 3
#: A bridge is named in a sentence sharing at least this many informative terms with the question.
MIN_BRIDGE_OVERLAP = 2
#: Hyphenated words that are ordinary English, not identifiers ("co-founder", "re-enter").
_PREFIXES = frozenset({"co", "re", "non", "pre", "self", "e", "multi", "sub", "well", "full", "part", "one", "two",
                       "anti", "post", "long", "short", "high", "low", "first", "second", "third", "day", "year"})


@dataclass(frozen=True)
class Step:
    """One planned retrieval: ``kind`` is question | part | hop | tool."""

    kind: str
    query: str
    reason: str
    entity: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "query": self.query, "reason": self.reason,
                **({"entity": self.entity} if self.entity else {})}


def decompose(question: str) -> list[Step]:
    """The first hop: the question, then each part of a multi-part question."""
    q = question.strip()
    steps = [Step("question", q, "the question as asked")]
    parts = question_parts(q)
    if len(parts) < 2:
        return steps
    lead = informative_terms(parts[0])
    for i, part in enumerate(parts, start=1):
        query = part
        own = informative_terms(part)
        if i > 1 and (len(own) < MIN_PART_TERMS or _LEANS.search(part)):
            extra = [w for w in _words(parts[0]) if w.lower() not in STOPWORDS and _stem_in(w, lead - own)]
            if extra:
                query = f"{part} ({' '.join(dict.fromkeys(extra))})"
        steps.append(Step("part", query, f"part {i} of {len(parts)}"))
    return steps


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'\-]*|\d+(?:[.,]\d+)*", text)


def _stem_in(word: str, wanted: set[str]) -> bool:
    return bool(terms(word) & wanted)


def bridge_entities(question: str, passages: Sequence[Passage], limit: int) -> list[tuple[str, str]]:
    """Names and identifiers the first hop's best passages mention next to the question's terms
    and the question does not name, best first (at most ``limit``): ranked by the best sentence
    naming them (terms shared with the question), then by the rank of its passage. Each comes
    with that sentence (what the first hop already says about it)."""
    if limit <= 0:
        return []
    wanted = informative_terms(question)
    asked = terms(question)
    asked_lower = question.lower()
    score: dict[str, float] = {}
    first: dict[str, int] = {}
    where: dict[str, str] = {}
    for rank, p in enumerate(passages[:BRIDGE_PASSAGES]):
        weight = 1.0 / (1 + rank)
        for sentence in _units(p.text):
            overlap = len(terms(sentence) & wanted)
            if overlap < MIN_BRIDGE_OVERLAP:
                continue
            for ent in _entities(sentence):
                key = ent.lower()
                if key in asked_lower or not (terms(ent) - asked) or len(key) < 3:
                    continue
                if overlap + weight > score.get(ent, 0.0):  # the best sentence, then rank
                    score[ent], where[ent] = overlap + weight, sentence
                first.setdefault(ent, len(first))
    ranked = sorted(score, key=lambda e: (-score[e], first[e]))
    out: list[tuple[str, str]] = []
    for ent in ranked:
        if any(ent.lower() in o.lower() or o.lower() in ent.lower() for o, _s in out):
            continue
        out.append((ent, where[ent]))
        if len(out) == limit:
            break
    return out


_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")


def _units(text: str) -> list[str]:
    """The statements of a passage: a list's items, a record's block of ``key: value`` lines (a
    JSON or CSV row rendered as one paragraph), and the sentences of prose."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if lines and all(_BULLET.match(ln) for ln in lines):
            out += lines
        elif lines:
            out += [s.text for s in split_sentences(" ".join(lines))]
    return out


#: The key of a ``key: value`` field (``people[8].office: Utrecht``): the value is not a sentence opening.
_FIELD_KEY = re.compile(r"(?:^|(?<=\s))[\w\[\].]+:\s")


def _entities(sentence: str) -> list[str]:
    found = [n for n in names(_FIELD_KEY.sub(", ", sentence)) if not n.isupper() or len(n) > 3]
    found += [i for i in _IDENT.findall(sentence) if i.split("-")[0] not in _PREFIXES]
    return list(dict.fromkeys(found))


def hop_query(question: str, entity: str, bridge: str = "") -> str:
    """The second hop's search: the bridge entity with what the question asks that the bridge
    sentence does not already say ("Utrecht" + "manager works" for "Who is the office manager
    of the office where the VP Engineering works?", the bridge naming the VP's office)."""
    wanted = informative_terms(question) - terms(bridge)
    rest = [w for w in _words(question) if w.lower() not in STOPWORDS and _stem_in(w, wanted)]
    return f"{entity} {' '.join(dict.fromkeys(rest))}".strip()
