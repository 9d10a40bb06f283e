"""The nouns that flow between stages. Plain dataclasses: cheap to build, easy to test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PUBLIC = "public"

BlockKind = Literal["heading", "paragraph", "list", "table", "code"]


@dataclass(frozen=True)
class Block:
    """A structural unit of a loaded document: ``text[start:end]`` of the document's text."""

    kind: BlockKind
    start: int
    end: int
    level: int = 0  # heading level (1 = top); 0 for non-headings
    page: int | None = None  # 1-based page number where the format has pages
    #: A table's header row (loaders write it again before each group of rows, so a chunk of
    #: rows starts with it: :mod:`tether.ingest.chunker`).
    header: bool = False


@dataclass
class LoadedDocument:
    """What a loader returns: the extracted text (offsets refer to it) and its structure."""

    text: str
    blocks: list[Block]
    format: str
    title: str = ""
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk before embedding: ``document_text[start:end] == text`` always holds."""

    ordinal: int
    start: int
    end: int
    text: str
    section_path: tuple[str, ...] = ()
    page: int | None = None
    token_count: int = 0
    #: The language its BM25 terms are analysed in (ISO 639-1; detected at ingest).
    language: str = "en"


@dataclass(frozen=True)
class Acl:
    """Who may read a document. Stored as tokens (``u:<id>``, ``g:<id>``, ``public``)."""

    owner: str | None = None  # principal name
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    public: bool = False

    @classmethod
    def parse(cls, specs: list[str], owner: str | None = None) -> Acl:
        """Parse CLI-style specs: ``group:legal``, ``user:ana``, ``public``."""
        from tether.errors import InvalidInput

        users: list[str] = []
        groups: list[str] = []
        public = False
        for spec in specs:
            kind, _, name = spec.partition(":")
            if spec == PUBLIC:
                public = True
            elif kind in ("group", "g") and name:
                groups.append(name)
            elif kind in ("user", "u") and name:
                users.append(name)
            else:
                raise InvalidInput(
                    f"invalid ACL entry {spec!r}; expected 'public', 'group:NAME' or 'user:NAME'"
                )
        return cls(owner=owner, users=tuple(users), groups=tuple(groups), public=public)


SYSTEM_PRINCIPAL_ID = 0


@dataclass(frozen=True)
class Principal:
    """Who a request or command acts as. Services take one explicitly for every decision (read,
    manage, review, administer); there is no "no principal means administrator"."""

    id: int
    name: str
    kind: str = "user"  # user | service | system
    role: str = "member"  # admin | member | reviewer
    group_ids: tuple[int, ...] = ()
    group_names: tuple[str, ...] = ()
    #: The API key this request authenticated with (usage and budgets roll up per key).
    api_key_id: int | None = None

    @classmethod
    def system(cls) -> Principal:
        """The operator at the command line (``tether docs rm``, ``tether users add`` without
        ``--as``): an administrator by role. It is never stored, so no API key or session can
        become it, and its ACL tokens (``public``, ``u:0``) match no user's or group's
        documents: admin rights come from the role, read rights stay the ACL's. The audit log
        records its changes with no actor (shown as "(operator)")."""
        return cls(id=SYSTEM_PRINCIPAL_ID, name="(operator)", kind="system", role="admin")

    @property
    def is_system(self) -> bool:
        return self.kind == "system" and self.id == SYSTEM_PRINCIPAL_ID

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_reviewer(self) -> bool:
        """Reviewers and administrators work the human review queue."""
        return self.role in ("reviewer", "admin")

    @property
    def acl_tokens(self) -> list[str]:
        """The tokens a document's ACL must share with this principal for it to be readable."""
        return [PUBLIC, f"u:{self.id}", *(f"g:{g}" for g in self.group_ids)]


@dataclass
class Passage:
    """A retrieved chunk, with the scores each retriever gave it."""

    chunk_id: int
    document_id: int
    ordinal: int
    text: str
    char_start: int
    char_end: int
    title: str = ""
    source_uri: str = ""
    section_path: tuple[str, ...] = ()
    page: int | None = None
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    classification: str = ""
    #: From an authoritative collection (``store/collections.py``): answers prefer these.
    authoritative: bool = False


# --- generation and grounding (generate/, ground/) ---------------------------------------------

Verdict = Literal["supported", "unsupported", "uncited", "contradicted"]


@dataclass(frozen=True)
class Usage:
    """Tokens a request consumed (summed over every generation call it made)."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.calls + other.calls,
        )


@dataclass(frozen=True)
class Generation:
    """What one generator call returned."""

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str = "stop"
    latency_s: float = 0.0

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens, 1)


@dataclass(frozen=True)
class Citation:
    """A ``[n]`` marker resolved to exact character spans of the source document.

    ``doc_start``/``doc_end`` are offsets in the document's text; ``quote`` equals
    ``passage.text[doc_start - passage.char_start : doc_end - passage.char_start]``.
    """

    number: int
    chunk_id: int
    document_id: int
    title: str
    doc_start: int
    doc_end: int
    quote: str
    source_uri: str = ""
    page: int | None = None
    #: Whether the source is an official one (an authoritative collection); others are labelled.
    authoritative: bool = False


@dataclass(frozen=True)
class SentenceVerdict:
    """The grounding outcome for one sentence (or structured claim) of an answer."""

    index: int
    text: str
    start: int  # offsets in the generated text
    end: int
    verdict: Verdict
    score: float
    citations: tuple[Citation, ...] = ()
    cited_numbers: tuple[int, ...] = ()
    invalid_numbers: tuple[int, ...] = ()  # [n] markers that refer to no given passage
    reasons: tuple[str, ...] = ()

    @property
    def supported(self) -> bool:
        return self.verdict == "supported"


@dataclass
class Answer:
    """What a question gets: grounded text (or an abstention) and everything needed to audit it."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    sentences: list[SentenceVerdict] = field(default_factory=list)
    abstained: bool = False
    escalate: bool = False
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    data: object | None = None  # the validated JSON object when a schema was requested
    reasons: list[str] = field(default_factory=list)  # why it abstained / escalated
    attempts: int = 1

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable view (for the API and streaming ``done`` events)."""
        from dataclasses import asdict

        return asdict(self)
