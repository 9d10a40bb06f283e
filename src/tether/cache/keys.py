"""The answer cache's keys: what makes two requests the same question under the same permissions,
index version and configuration (see :mod:`tether.cache.answers` for why each part is there)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
from psycopg.rows import DictRow

from tether.store import answer_cache as sql

if TYPE_CHECKING:
    from tether.retrieve.filters import SearchFilter

#: Compact a token's change rows once there are more than this many.
COMPACT_ROWS = 32

_NEGATIONS = frozenset({"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without",
                        "cannot", "except", "unless"})
#: Words that flip or shift what is asked while barely moving the embedding ("minimum" /
#: "maximum" 0.97, "end-of-year" / "mid-year" 0.97 on the demo questions): part of the signature.
_CONTRASTS = frozenset({
    "minimum", "maximum", "min", "max", "first", "last", "before", "after", "start", "end", "begin", "mid",
    "primary", "secondary", "increase", "decrease", "more", "less", "most", "least", "highest", "lowest",
    "earliest", "latest", "above", "below", "over", "under", "upper", "lower", "inbound", "outbound",
    "buy", "sell", "gross", "net", "monthly", "weekly", "daily", "yearly", "annual", "hourly",
})
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def normalise(question: str) -> str:
    """Unicode-normalised, case-folded, typographic apostrophes straightened, whitespace
    collapsed, trailing punctuation dropped."""
    q = unicodedata.normalize("NFKC", question).casefold().replace("\u2019", "'")
    q = " ".join(q.split())
    return q.rstrip(" ?!.\u3002\uff1f\uff01").strip()


def question_signature(question: str) -> str:
    """The numbers, negations and contrast words of a question: two questions whose embeddings
    are close but whose signatures differ ("... in 2024" / "... in 2025", "... allowed" / "... not
    allowed", "minimum" / "maximum") never share a semantic hit."""
    q = normalise(question)
    numbers = sorted(_NUMBER.findall(q))
    words = _WORD.findall(q)
    negs = sorted({w for w in words if w in _NEGATIONS or w.endswith("n't")})
    contrasts = sorted({w for w in words if w in _CONTRASTS})
    return " ".join(numbers) + "|" + " ".join(negs) + "|" + " ".join(contrasts)


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def schema_hash(json_schema: dict | None) -> str:
    return "" if json_schema is None else digest(json_schema)


def filter_hash(flt: SearchFilter | None) -> str:
    if flt is None:
        return ""
    d = dataclasses.asdict(flt) if dataclasses.is_dataclass(flt) else vars(flt)
    return digest({k: (sorted(v) if isinstance(v, (list, tuple)) else v) for k, v in d.items()})


def config_fingerprint(settings: Any) -> str:
    """Everything configured that shapes an answer (embedder, retrieval, models, grounding,
    guard policies): changing any of it starts from an empty cache."""
    d = settings.model_dump(include={"embed", "retrieve", "generate", "ground", "guard", "scan_ingest"},
                            mode="json")
    return digest(d)


def permission_scope(conn: psycopg.Connection[DictRow], tokens: list[str]) -> tuple[list[str], str, str, list[str]]:
    """(effective tokens, permission key, index version, tokens to compact) for ``tokens``."""
    rows = sql.token_versions(conn, tokens)
    eff = [r for r in rows if r["effective"]]
    names = sorted(r["token"] for r in eff)
    version = digest([[r["token"], int(r["version"])] for r in sorted(eff, key=lambda r: r["token"])])
    return names, digest(names), version, [r["token"] for r in rows if int(r["n_rows"]) > COMPACT_ROWS]


@dataclass
class Scope:
    """Where an answer for this request may be found and stored."""

    tokens: list[str]  # effective ACL tokens
    perm_key: str
    index_version: str
    scope_hash: str
    key_hash: str
    signature: str
    vector: np.ndarray | None = None
    compact: list[str] = field(default_factory=list)  # tokens whose change rows need compacting


def scope_of(conn: psycopg.Connection[DictRow], acl_tokens: list[str], question: str, model: str | None,
             json_schema: dict | None, flt: SearchFilter | None, settings: Any) -> Scope:
    """The request's scope: everything but the question (semantic lookups stay inside it), and
    the exact key (the scope plus the normalised question)."""
    tokens, perm_key, version, compact = permission_scope(conn, acl_tokens)
    scope_hash = digest(["answer-cache/1", perm_key, version, model or "", schema_hash(json_schema),
                         filter_hash(flt), config_fingerprint(settings)])
    return Scope(tokens, perm_key, version, scope_hash, digest(scope_hash, normalise(question)),
                 question_signature(question), compact=compact)
