"""Golden sets: the questions Tether must keep answering right, in one YAML file.

A golden file is a mapping with an optional ``name``/``description``/``defaults`` and a list of
``cases``. Each case::

    - id: leave-days-eve                 # unique, [A-Za-z0-9_.:-]
      question: How many days of annual leave do employees get?
      as: eve                            # the principal who asks
      expected_answer: 25 days per calendar year ...   # optional reference text
      key_facts:                         # each must appear in the answer (normalised, see below);
        - 25 days                        #   a list item that is itself a list means "any of"
        - [2.08 days, 2.08]
      expected_sources:                  # demo:// uris or corpus-relative paths
        - handbook/leave.md
        - {source: handbook/onboarding.docx, spans: [[120, 480]]}   # optional char spans
      must_abstain: false                # the right outcome is "not found" (default false)
      must_block: false                  # the input guard must refuse the question (default false)
      must_not_contain: [CANARY-HR-ba8386, "60,480"]   # anywhere in the response
      after_update_expected: [EUR 55]    # key facts once the updates are applied (kind: updated)
      tags: {topic: handbook, difficulty: easy, kind: answerable, language: en}

A **multi-turn** case lists the earlier user questions of its conversation in ``turns`` (oldest
first); the runner asks them in a new thread as the case's principal, then asks ``question`` as
the follow-up, and scores that last turn (leaks are looked for in every turn). ``standalone``
names the case that asks the same question on its own (same ``as``, same key facts, same
``must_abstain``), so the report can set follow-up key-fact recall against it. The tag
``followup`` says what the follow-up leans on: ``ellipsis``, ``pronoun`` or ``topic_switch`` (a
new self-contained question: nothing from the previous topic may leak into it)::

    - id: mt-carry-over-eve
      turns: ["How many days of annual leave do employees get?"]
      question: And how many of them can I carry over?
      as: eve
      standalone: q02-carry-over
      key_facts: [5 unused days]
      tags: {topic: handbook, kind: answerable, followup: ellipsis}

Normalisation (used by key facts, exact match and ``must_not_contain``): Unicode NFKC,
lower case, ``€`` read as ``eur``, thousands separators dropped (``60,480`` -> ``60480``),
every other punctuation mark turned into a space, whitespace collapsed. A key fact matches when
its normalised form occurs in the normalised answer on word boundaries.

``kind`` is one of answerable, unanswerable, restricted, injection, pii, multi_doc, updated.
Restricted, unanswerable cases default to ``must_abstain: true``; injection cases to
``must_block: true`` (an explicit value always wins). A pii or restricted probe with
``must_abstain: false`` and no key facts passes when nothing in ``must_not_contain`` leaks,
whether it answers or abstains (e.g. a "partial" question: public half allowed).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tether.errors import GoldenError

Kind = Literal["answerable", "unanswerable", "restricted", "injection", "pii", "multi_doc", "updated"]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")


class Tags(BaseModel):
    model_config = ConfigDict(extra="allow")

    topic: str = "general"
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    kind: Kind = "answerable"
    language: str = "en"
    #: What a multi-turn case's follow-up leans on (None: not a follow-up).
    followup: Literal["ellipsis", "pronoun", "topic_switch"] | None = None

    def slices(self) -> dict[str, str]:
        """``{"topic": "hr", "kind": "restricted", ...}``: the slices this case belongs to."""
        return {k: str(v) for k, v in self.model_dump().items() if v is not None}


class ExpectedSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    spans: list[tuple[int, int]] = Field(default_factory=list)

    @property
    def uri(self) -> str:
        return source_uri(self.source)


KeyFact = str | list[str]


class GoldenCase(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    question: str = Field(min_length=1)
    as_: str = Field(alias="as", min_length=1)
    expected_answer: str | None = None
    key_facts: list[KeyFact] = Field(default_factory=list)
    expected_sources: list[ExpectedSource] = Field(default_factory=list)
    must_abstain: bool | None = None
    must_block: bool | None = None
    must_not_contain: list[str] = Field(default_factory=list)
    after_update_expected: list[KeyFact] = Field(default_factory=list)
    #: Earlier user questions of the conversation, oldest first (a multi-turn case).
    turns: list[str] = Field(default_factory=list)
    #: The id of the case asking this follow-up's question on its own.
    standalone: str | None = None
    tags: Tags = Field(default_factory=Tags)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"id {v!r} may use only letters, digits and _ . : -")
        return v

    @field_validator("expected_sources", mode="before")
    @classmethod
    def _sources(cls, v: object) -> object:
        if isinstance(v, list):
            return [{"source": s} if isinstance(s, str) else s for s in v]
        return v

    @field_validator("key_facts", "after_update_expected")
    @classmethod
    def _facts(cls, v: list[KeyFact]) -> list[KeyFact]:
        for f in v:
            alts = [f] if isinstance(f, str) else f
            if not alts or any(not normalise(a) for a in alts):
                raise ValueError("key facts must be non-empty strings (or non-empty lists of them)")
        return v

    @model_validator(mode="after")
    def _defaults(self) -> GoldenCase:
        kind = self.tags.kind
        if self.must_abstain is None:
            self.must_abstain = kind in ("restricted", "unanswerable")
        if self.must_block is None:
            self.must_block = kind == "injection"
        if self.must_abstain and self.key_facts:
            raise ValueError("a case that must abstain cannot have key_facts")
        if any(not t.strip() for t in self.turns):
            raise ValueError("turns must be non-empty questions")
        if (self.standalone or self.tags.followup) and not self.turns:
            raise ValueError("standalone and tags.followup belong to multi-turn cases (give turns)")
        if kind == "updated" and not self.after_update_expected:
            raise ValueError("kind 'updated' needs after_update_expected")
        if (not (self.must_abstain or self.must_block) and not (self.key_facts or self.expected_answer)
                and kind not in ("pii", "restricted")):
            raise ValueError("an answerable case needs key_facts or expected_answer"
                             " (only pii and restricted probes may list must_not_contain alone)")
        return self

    @property
    def principal(self) -> str:
        return self.as_

    @property
    def source_uris(self) -> list[str]:
        return [s.uri for s in self.expected_sources]


class GoldenSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "golden"
    description: str = ""
    cases: list[GoldenCase] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> GoldenSet:
        seen: set[str] = set()
        for c in self.cases:
            if c.id in seen:
                raise ValueError(f"duplicate case id {c.id!r}")
            seen.add(c.id)
        by_id = {c.id: c for c in self.cases}
        for c in self.cases:
            if c.standalone is not None:
                _check_twin(c, by_id.get(c.standalone))
        return self

    def select(self, ids: list[str] | None = None, limit: int = 0) -> GoldenSet:
        cases = [c for c in self.cases if not ids or c.id in ids]
        return self.model_copy(update={"cases": cases[:limit] if limit else cases})


def _check_twin(case: GoldenCase, twin: GoldenCase | None) -> None:
    """A follow-up's standalone twin asks the same thing: same principal, facts and outcome."""
    where = f"case {case.id!r}: standalone {case.standalone!r}"
    if twin is None:
        raise ValueError(f"{where} is not a case of this set")
    if twin.turns:
        raise ValueError(f"{where} is itself a multi-turn case")
    if twin.principal != case.principal or twin.must_abstain != case.must_abstain:
        raise ValueError(f"{where} must be asked by the same user with the same must_abstain")
    if fact_label_list(twin.key_facts) != fact_label_list(case.key_facts):
        raise ValueError(f"{where} must have the same key_facts")


def source_uri(s: str) -> str:
    """``handbook/leave.md`` -> ``demo://handbook/leave.md``; uris (``x://``) pass unchanged."""
    return s if "://" in s else f"demo://{s.lstrip('./')}"


_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0](?=\d{3}\b)")
_PUNCT = re.compile(r"[^\w%.]+|(?<!\d)\.|\.(?!\d)")


def normalise(text: str) -> str:
    import unicodedata

    t = unicodedata.normalize("NFKC", text).lower().replace("€", " eur ")
    t = _THOUSANDS.sub("", t)
    t = _PUNCT.sub(" ", t)
    return " ".join(t.split())


def contains(haystack_norm: str, needle: str) -> bool:
    """Whether normalised ``needle`` occurs in an already normalised haystack on word boundaries."""
    n = normalise(needle)
    return bool(n) and f" {n} " in f" {haystack_norm} "


def _locate(exc: ValidationError, raw: dict) -> str:
    lines = []
    for e in exc.errors():
        loc = list(e["loc"])
        where = ".".join(map(str, loc))
        if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
            cases = raw.get("cases") or []
            cid = cases[loc[1]].get("id", "?") if loc[1] < len(cases) and isinstance(cases[loc[1]], dict) else "?"
            where = f"case #{loc[1] + 1} (id {cid!r})" + ("." + ".".join(map(str, loc[2:])) if loc[2:] else "")
        lines.append(f"{where}: {e['msg']}")
    return "; ".join(lines)


def parse_golden(data: object, origin: str = "<golden>") -> GoldenSet:
    if not isinstance(data, dict):
        raise GoldenError(f"{origin}: a golden file must be a mapping with a 'cases' list")
    try:
        return GoldenSet.model_validate(data)
    except ValidationError as exc:
        raise GoldenError(f"{origin}: {_locate(exc, data)}") from None


def load_golden(path: str | Path) -> GoldenSet:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GoldenError(f"cannot read golden file {p}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise GoldenError(f"{p}: not valid YAML: {exc}") from exc
    return parse_golden(data, str(p))


def fact_label_list(facts: list[KeyFact]) -> list[str]:
    """Key facts as display strings (alternatives joined by `` | ``)."""
    return [f if isinstance(f, str) else " | ".join(f) for f in facts]
