"""Question focus: which units of the packed passages address the question, and how well.

Why: similarity finds text *about* the topic of a question; the verifier reads a (question,
unit) pair together and says whether the unit *answers* it. Both the answerability gate
(:mod:`tether.ground.answerable`) and the extractive generator (:mod:`tether.generate.extractive`)
rank the same units (:func:`tether.text.units.quotable_units`) the same way, so they share this
module and one memo of verifier scores: the generator's scores for the units the gate already
read cost nothing.

Cost: the verifier is the expensive part (about 3 ms a pair on 2 cores), so only a short list
is read by it: each passage's best unit by similarity and the next best overall, up to
``shortlist`` units (6: the gate and the generator share them through the memo).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tether.embed.base import Embedder
from tether.ground.analysis import QUESTION_FRAME, STOPWORDS, names, terms
from tether.ground.verifier import Verifier
from tether.text.units import Unit, quotable_units
from tether.types import Passage

#: Weight of the cosine (the rest: the share of the question's content terms), as the extractive
#: generator has always blended them.
SIM_WEIGHT = 0.6
ANCHOR_WEIGHT = 0.2


@dataclass(frozen=True)
class Candidate:
    """One unit of one packed passage (``number`` is its source number, [1] = first)."""

    number: int
    passage: Passage
    unit: Unit

    @property
    def key(self) -> tuple[int, int]:
        return (self.number, self.unit.start)


def candidates(passages: Sequence[Passage]) -> list[Candidate]:
    """Every quotable unit of every passage, in source order (a bare title line, under four words
    without a full stop, and the passage's own heading state nothing worth quoting and are left
    out)."""
    return [Candidate(n, p, u) for n, p in enumerate(passages, start=1) for u in quotable_units(p.text)
            if not _title_line(u) and not _heading_of(u, p)]


def _heading_of(u: Unit, p: Passage) -> bool:
    """The passage's own title or section heading, repeated as the chunk's first line: what the
    verifier reads as the unit's context, never an answer by itself ("What happens when you
    exceed a limit" quoted without the paragraph under it)."""
    return u.kind == "sentence" and u.text.strip() in {x.strip() for x in (p.title, *p.section_path) if x}


def _title_line(u: Unit) -> bool:
    return u.kind == "sentence" and len(u.text.split()) < 4 and not u.text.rstrip().endswith((".", "!", "?", ":"))


def verifier_text(c: Candidate) -> str:
    """What the verifier reads for a unit: the passage's title, the unit's context (a row's
    header, a list's lead-in) and the unit."""
    head = " > ".join(dict.fromkeys(x for x in (c.passage.title, *c.passage.section_path) if x))
    lines = [x for x in (head, c.unit.context, c.unit.text) if x]
    return "\n".join(lines)


def similarity(embedder: Embedder, question: str, cands: Sequence[Candidate]) -> tuple[np.ndarray, np.ndarray]:
    """(blended score per candidate, unit vectors): ``SIM_WEIGHT`` * cosine + the rest * the share
    of the question's content terms the unit contains, both of the unit read with its context (a
    list item under "Complete these courses within 30 days:" is about those courses), plus
    ``ANCHOR_WEIGHT`` * the share of the question's anchors it names ("week 12" picks that row of
    a rota whose rows all look alike)."""
    if not cands:
        return np.zeros(0), np.zeros((0, embedder.dimension))
    vecs = embedder.embed([question] + [_with_context(c) for c in cands])
    q, uvecs = vecs[0], vecs[1:]
    q_terms = terms(question)
    overlap = np.array([len(q_terms & terms(f"{c.unit.context} {c.unit.text}")) / max(1, len(q_terms))
                        for c in cands])
    wanted = anchors(question)
    named = np.array([anchor_share(wanted, verifier_text(c)) if wanted else 0.0 for c in cands])
    return SIM_WEIGHT * (uvecs @ q) + (1 - SIM_WEIGHT) * overlap + ANCHOR_WEIGHT * named, uvecs


def _with_context(c: Candidate) -> str:
    return f"{c.unit.context}\n{c.unit.text}" if c.unit.context else c.unit.text


def lead_in_items(cands: Sequence[Candidate], i: int) -> list[int]:
    """The items of the list that unit ``i`` introduces ("... within 30 days of joining:")."""
    c = cands[i]
    if c.unit.kind != "sentence" or not c.unit.text.rstrip().endswith(":"):
        return []
    return [j for j in range(i + 1, len(cands)) if cands[j].number == c.number and cands[j].unit.kind == "item"
            and cands[j].unit.context == c.unit.text.strip()]


#: Units read beyond each passage's best: a passage's second-best unit is often the other half
#: of the answer ("RPO: 5 minutes" / "RTO: 30 minutes" are two items of one list).
SHORTLIST_EXTRA = 3


def shortlist(cands: Sequence[Candidate], sims: np.ndarray, size: int, extra: int = SHORTLIST_EXTRA) -> list[int]:
    """Indices of the units the verifier reads: each passage's best by similarity, then the best
    of the rest, ``size`` in all and at least ``extra`` beyond the passages' bests."""
    order = [int(i) for i in np.argsort(-sims, kind="stable")]
    picked: list[int] = []
    seen: set[int] = set()
    for i in order:
        if cands[i].number not in seen:
            seen.add(cands[i].number)
            picked.append(i)
    for i in order:
        if len(picked) >= max(size, len(seen) + extra):
            break
        if i not in picked:
            picked.append(i)
    return picked


class AnswerScorer:
    """P(answers) for (question, text) pairs through one verifier, with a bounded memo (the gate
    and the generator of one request read the same pairs; so does the next asker of a question)."""

    def __init__(self, verifier: Verifier, size: int = 4096) -> None:
        self.verifier = verifier
        self.size = size
        self._memo: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def thresholds(self):  # noqa: ANN201 - the verifier's Thresholds
        return self.verifier.thresholds

    def clear(self) -> None:
        """Forget every memoised score (benchmarks measure a question's first asking)."""
        with self._lock:
            self._memo.clear()

    def scores(self, question: str, texts: Sequence[str]) -> list[float]:
        keys = [(question.strip(), t) for t in texts]
        out: dict[int, float] = {}
        with self._lock:
            for i, k in enumerate(keys):
                if k in self._memo:
                    self._memo.move_to_end(k)
                    out[i] = self._memo[k]
        todo = [i for i in range(len(keys)) if i not in out]
        if todo:
            fresh = self.verifier.answer_scores_pairs([keys[i] for i in todo])
            with self._lock:
                for i, s in zip(todo, fresh):
                    out[i] = s
                    self._memo[keys[i]] = s
                while len(self._memo) > self.size:
                    self._memo.popitem(last=False)
        return [out[i] for i in range(len(keys))]


_CODE = re.compile(r"\b[A-Z]{1,3}\d+\b|\b[A-Z][a-z]{1,3}\d+\b|\b[A-Z]{1,4}-\d{2,}(?:-\d+)*\b")  # L8, Sev2, PL-2026-004
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_COUNTED = re.compile(r"\b([A-Za-z]{3,}) (\d{1,3})\b(?![.,]\d)")  # "week 12", "tier 0"
_CURRENCY = frozenset("eur usd gbp chf".split())
_NORM = re.compile(r"[^a-z0-9]+")


def norm(text: str) -> str:
    """Lower case, every run of other characters one space ("iso_week: 12" -> "iso week 12")."""
    return f" {_NORM.sub(' ', text.lower().replace(',', ''))} "


def anchors(question: str) -> list[str]:
    """What a question is specifically about, as normalised phrases: identifiers with digits
    ("L8", "PL-2026-004"), years, names ("Brightwater Health", "Mars"; not all-caps acronyms,
    which documents often spell out), and counted things ("week 12", "tier 0"). Amounts and
    other bare numbers are parameters of a question, not anchors."""
    out: list[str] = [m.group(0) for m in _CODE.finditer(question)] + _YEAR.findall(question)
    for name in names(question):
        # "Business and Enterprise" names two things (either may head its own table column);
        # a word glued to digits ("Sev2") is an identifier, taken whole by _CODE.
        for part in re.split(r"\s+and\s+", re.sub(r"['’]s\b", "", name)):
            words = [w for w in part.split() if not (w.isupper() and len(w) > 1)
                     and not re.search(rf"\b{re.escape(w)}\d", question)]
            if words and any(len(w) >= 3 for w in words):
                out.append(" ".join(words))
    for m in _COUNTED.finditer(question):
        # "week 12", "tier 0" name a thing; "rated 4", "scored 3" give a value (a table writes
        # it as a cell under "Rating"), which is a parameter of the question, not an anchor
        if m.group(1).lower() not in STOPWORDS | _CURRENCY and not m.group(1).lower().endswith("ed"):
            out.append(f"{m.group(1)} {m.group(2)}")
    return list(dict.fromkeys(norm(a).strip() for a in out if norm(a).strip()))


def anchor_share(wanted: Sequence[str], text: str) -> float:
    """Share of the anchors found (as whole words) in ``text``; 1.0 when there are none."""
    if not wanted:
        return 1.0
    t = norm(text)
    return sum(f" {a} " in t for a in wanted) / len(wanted)


_PART_SPLIT = re.compile(r"\s*[?;]\s*|,\s+(?=(?:how|what|when|where|who|which|why)\b)"
                         r"|,?\s+and\s+(?=(?:how|what|when|where|who|whom|which|why|until|by when|"
                         r"is|are|was|were|do|does|did|can|could|must|should|will|would|at what|for how|"
                         r"up to|from what|to whom|in which)\b)", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The parts of a multi-part question, split conservatively: at ``?`` and ``;``, and at an
    "and" that starts a new question ("..., and when must I use them?"), never at an "and"
    between nouns ("the RPO and RTO") nor inside a short opening ("When and where is ...").
    A part has at least three words and is written as a question ("At what rate am I
    auto-enrolled?": the verifier was trained on questions); a single part is the question itself."""
    q = question.strip()
    parts, last = [], 0
    for m in _PART_SPLIT.finditer(q):
        left = q[last:m.start()].strip(" ,")
        if len(left.split()) >= 3:
            parts.append(left)
            last = m.end()
    tail = q[last:].strip(" ,?;")
    if len(tail.split()) >= 3:
        parts.append(tail)
    elif parts and tail:
        parts[-1] = q[q.index(parts[-1]):].strip(" ,?;")
    if len(parts) < 2:
        return [q]
    return [p[0].upper() + p[1:].rstrip(" ,?;") + "?" for p in parts]


_FRAME_TERMS = frozenset(terms(" ".join(QUESTION_FRAME)))


def informative_terms(question: str) -> set[str]:
    """The question's terms an answer should name: its content terms less the words that frame a
    question ("how long", "do I get")."""
    return terms(question) - _FRAME_TERMS


#: Words that say what kind of answer is wanted (a size, a share, a distance, a list), not
#: what it is about: a question may use them where the documents never do ("How big is the
#: budget?", "List every band").
MEASURE_WORDS = frozenset(
    """amount number total size length width height depth weight value worth percentage share rate
    level degree distance duration period frequency time times beyond exactly big far large small high
    low long short wide deep old often soon late early heavy expensive cheap
    list every each name give show describe explain""".split()
)


def topic_words(question: str) -> list[str]:
    """The words a question hinges on, for :func:`tether.retrieve.vocabulary.unseen_words`:
    alphabetic content words of three letters or more (parts of a hyphenated compound on their
    own), less the words that frame a question or name the kind of answer wanted, and less
    acronyms written in capitals ("ARR", "RPO": documents often spell them out). Numbers and
    identifiers are left to the anchors."""
    out: list[str] = []
    for raw in _WORDS.findall(question):
        for part in raw.split("-"):
            w = part.lower()
            if (len(w) >= 3 and not (part.isupper() and len(part) > 1) and w not in STOPWORDS
                    and w not in MEASURE_WORDS and not terms(w) <= _FRAME_TERMS and w not in out):
                out.append(w)
    return out


_WORDS = re.compile(r"(?<![\w-])[A-Za-z]+(?:-[A-Za-z]+)*(?![\w-])")  # not "Sev" of "Sev2"


def term_coverage(wanted: set[str], texts: Sequence[str]) -> float:
    """The share of ``wanted`` the texts name together (1.0 when nothing is wanted)."""
    if not wanted:
        return 1.0
    have: set[str] = set()
    for t in texts:
        have |= terms(t)
    return len(wanted & have) / len(wanted)
