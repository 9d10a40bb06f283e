"""Answer cache: exact and semantic, in PostgreSQL, never across permissions.

A cached answer is served only to someone who could have received exactly that answer
themselves. Three walls, each sufficient on its own for the cases it covers:

1. **The key.** ``(normalised question, requested model, JSON schema hash, filter hash, effective
   permission key, index version, configuration fingerprint)``. The *effective permission key*
   hashes the asker's sorted ACL tokens that can match a document: ``public`` and every group
   token always, the personal ``u:<id>`` token only while some document's ACL names it (owners,
   ``user:`` grants). Users with the same groups and no personal grants therefore share entries;
   anyone whose readable set may differ gets another key. Semantic lookups scan only the
   entries of the same scope (everything but the question), exactly (entries per scope are few;
   no approximate index), and also require the same numbers and negations in both questions.

2. **The index version** (migration 0010). Every insert, update or delete of a document, and
   every update of chunks (quarantine, ACL copies), appends a row per token of the old and new
   ACL to ``answer_cache_changes``; a token's version is the sum of its rows. The index version
   of a scope hashes the versions of its effective tokens. So any ingest, re-ingest, deletion,
   ACL or metadata change of a document the asker can read (before or after the change) moves
   the asker's index version and every entry of the old version is dead: this is what catches a
   *new* document that would change the answer, which no per-entry check can. Changes to
   documents the asker cannot read (before and after) leave the asker's entries alone, so an
   HR ingest does not flush everyone's cache. Writers only insert (no counter row to lock, no
   deadlock between concurrent ingests; a sum does not depend on commit order); the cache
   compacts a token's rows into one of the same sum when it sees many. Chosen over a global
   counter (every change invalidates everything) because that empties the cache on every
   ingest of any collection, and over per-collection counters because an unfiltered question
   searches every collection the asker can read. Versions are read before retrieval and read
   again before storing: an answer is stored only if nothing the asker can read changed in
   between, so an entry's content is never newer or older than its version.

3. **The hit check**, in the same statement that fetches the entry, run as ``tether_reader``
   (row-level security under the explicit predicate): every source document (cited and packed)
   still exists with the same version and ``updated_at`` and is readable by *this* principal's
   ACL tokens, and every source chunk still exists, readable and not quarantined. An entry that
   fails is deleted and the request is a miss. This does not rely on the key or the index
   version being right (tokens bypassed by a bulk load with triggers off, a bug): a source the
   asker cannot read is never served.

What is cached: answered, non-escalated answers only (abstentions, input/output-guard blocks,
budget refusals and ``escalate=True`` answers are not), as served, i.e. after the output guard
(redacted text). The packed source passages are stored with the entry and re-checked as above;
the answer's usage is zeroed on a hit (the request consumed nothing) and the original cost is
recorded as saved. Entries expire after ``cache.ttl_s``; beyond ``cache.max_entries`` the oldest
are evicted when storing. A hit makes no model call and spends nothing: it is served before the
budget check, so a spent budget does not stop it. Streams (``ask_stream``) skip the cache: they show tokens as they are
generated, and replaying a cached answer as a stream would need its own event sequence; a stream
whose sources' policy redacts delegates to ``ask`` and so uses the cache.

Trace: a ``cache`` span (``result`` hit|miss, ``hit``, ``kind`` exact|semantic, ``similarity``),
trace attributes ``cache`` = ``hit_exact`` | ``hit_semantic`` | ``miss`` and ``cache.saved_usd``.
Counters (hits, misses, saved USD and latency) live in ``answer_cache_counters``: ``tether cache
stats``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from tether.store.rls import enter_reader
from tether.types import Answer, Citation, Passage, SentenceVerdict, Usage

if TYPE_CHECKING:
    from tether.engine import AskResult, Tether
    from tether.observe.trace import Trace
    from tether.retrieve.filters import SearchFilter
    from tether.retrieve.pack import Packed
    from tether.settings import CacheSettings
    from tether.types import Principal

log = logging.getLogger(__name__)

#: Counter rows (spread so concurrent requests rarely wait on the same one).
SHARDS = 8
#: Compact a token's change rows once there are more than this many.
COMPACT_ROWS = 32
#: Semantic candidates examined per lookup (the best valid one above the threshold is served).
SEMANTIC_CANDIDATES = 3

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


# --- keys ------------------------------------------------------------------------------------
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


def _h(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def schema_hash(json_schema: dict | None) -> str:
    return "" if json_schema is None else _h(json_schema)


def filter_hash(flt: "SearchFilter | None") -> str:
    if flt is None:
        return ""
    d = dataclasses.asdict(flt) if dataclasses.is_dataclass(flt) else vars(flt)
    return _h({k: (sorted(v) if isinstance(v, (list, tuple)) else v) for k, v in d.items()})


def config_fingerprint(settings: Any) -> str:
    """Everything configured that shapes an answer (embedder, retrieval, models, grounding,
    guard policies): changing any of it starts from an empty cache."""
    d = settings.model_dump(include={"embed", "retrieve", "generate", "ground", "guard", "scan_ingest"},
                            mode="json")
    return _h(d)


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


@dataclass
class Lookup:
    """The cache's answer to one request: a result to serve (hit) or where to store (miss)."""

    kind: str = "off"  # off | hit_exact | hit_semantic | miss | error
    result: "AskResult | None" = None
    scope: Scope | None = None
    similarity: float | None = None
    entry_id: int | None = None
    saved_usd: float = 0.0
    saved_ms: float = 0.0
    embed_ms: float | None = None  # the question was embedded for a semantic lookup (ms)
    details: dict = field(default_factory=dict)  # for the audit record of a hit


def _versions(conn: psycopg.Connection, tokens: list[str]) -> list[dict]:
    return conn.execute(
        "SELECT t.token,"
        " (left(t.token, 2) <> 'u:' OR EXISTS (SELECT 1 FROM documents d WHERE d.acl @> ARRAY[t.token])) AS effective,"
        " coalesce(s.total, 0) AS version, coalesce(s.n_rows, 0) AS n_rows"
        " FROM unnest(%s::text[]) AS t(token)"
        " LEFT JOIN LATERAL (SELECT sum(c.n) AS total, count(*) AS n_rows FROM answer_cache_changes c"
        "                    WHERE c.token = t.token) s ON true",
        (sorted(set(tokens)),),
    ).fetchall()


def permission_scope(conn: psycopg.Connection, tokens: list[str]) -> tuple[list[str], str, str, list[str]]:
    """(effective tokens, permission key, index version, tokens to compact) for ``tokens``."""
    rows = _versions(conn, tokens)
    eff = [r for r in rows if r["effective"]]
    names = sorted(r["token"] for r in eff)
    version = _h([[r["token"], int(r["version"])] for r in sorted(eff, key=lambda r: r["token"])])
    return names, _h(names), version, [r["token"] for r in rows if int(r["n_rows"]) > COMPACT_ROWS]


# --- (de)serialising answers and passages ----------------------------------------------------
def _known(cls: type, d: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def _citation(d: dict) -> Citation:
    return Citation(**_known(Citation, d))


def answer_from_dict(d: dict) -> Answer:
    sentences = []
    for s in d.get("sentences") or []:
        s = _known(SentenceVerdict, s)
        sentences.append(SentenceVerdict(**{
            **s, "citations": tuple(_citation(c) for c in s.get("citations") or ()),
            "cited_numbers": tuple(s.get("cited_numbers") or ()),
            "invalid_numbers": tuple(s.get("invalid_numbers") or ()), "reasons": tuple(s.get("reasons") or ())}))
    a = _known(Answer, d)
    a.update(citations=[_citation(c) for c in d.get("citations") or []], sentences=sentences,
             usage=Usage(**_known(Usage, d.get("usage") or {})), reasons=list(d.get("reasons") or []))
    return Answer(**a)


def passage_from_dict(d: dict) -> Passage:
    p = _known(Passage, d)
    p["section_path"] = tuple(p.get("section_path") or ())
    p["scores"] = dict(p.get("scores") or {})
    return Passage(**p)


# --- the cache -------------------------------------------------------------------------------
class AnswerCache:
    """Bound to one engine (its database, embedder and settings)."""

    def __init__(self, engine: "Tether") -> None:
        self.engine = engine
        self._available: bool | None = None

    def available(self) -> bool:
        """Whether the cache's tables exist (a database migrated while 0010 was a placeholder
        lacks them: the cache then stays off, with one warning, instead of failing every lookup)."""
        if self._available is None:
            try:
                with self.engine.db.connection() as conn:
                    row = conn.execute("SELECT to_regclass('answer_cache') IS NOT NULL"
                                       " AND to_regclass('answer_cache_changes') IS NOT NULL AS ok").fetchone()
                self._available = bool(row["ok"])
            except Exception:  # noqa: BLE001
                log.exception("answer cache: could not check its tables")
                return False
            if not self._available:
                log.warning("answer cache tables are missing (migration 0010); the answer cache is off")
        return self._available

    @property
    def settings(self) -> "CacheSettings":
        return self.engine.settings.cache

    # lookup ----------------------------------------------------------------------------------
    def scope(self, conn: psycopg.Connection, principal: "Principal", question: str, model: str | None,
              json_schema: dict | None, flt: "SearchFilter | None") -> Scope:
        tokens, perm_key, version, compact = permission_scope(conn, principal.acl_tokens)
        scope_hash = _h(["answer-cache/1", perm_key, version, model or "", schema_hash(json_schema),
                         filter_hash(flt), config_fingerprint(self.engine.settings)])
        return Scope(tokens, perm_key, version, scope_hash, _h(scope_hash, normalise(question)),
                     question_signature(question), compact=compact)

    def lookup(self, principal: "Principal", question: str, model: str | None, json_schema: dict | None,
               flt: "SearchFilter | None", trace: "Trace") -> Lookup:
        """Find a valid entry for this request. Never raises: a failing cache is a miss (and
        nothing is stored for that request)."""
        cs = self.settings
        if not cs.enabled or not self.available():
            return Lookup("off")
        with trace.span("cache", semantic=cs.semantic) as span:
            try:
                out = self._lookup(principal, question, model, json_schema, flt, cs)
            except Exception as exc:  # noqa: BLE001 - the cache must never fail a request
                log.exception("answer cache lookup failed")
                span.set(result="miss", hit=False, error=type(exc).__name__)
                trace.set(cache="miss")
                return Lookup("error")
            if out.result is None:
                span.set(result="miss", hit=False)
                trace.set(cache="miss")
                self._record_embed(out, question, trace)
                self._bookkeeping(out, misses=1)
                return out
            span.set(result="hit", hit=True, kind=out.kind.removeprefix("hit_"), entry=out.entry_id,
                     saved_usd=round(out.saved_usd, 8),
                     **({"similarity": round(out.similarity, 4)} if out.similarity is not None else {}))
            self._record_hit(out)
        ans = out.result.answer
        cited = sorted({c.document_id for c in ans.citations})
        trace.set(cache=out.kind, **{"cache.saved_usd": round(out.saved_usd, 8)},
                  abstained=False, blocked=False, escalate=False, route="cache", cited_documents=cited,
                  grounded=all(v.supported for v in ans.sentences))
        self._record_embed(out, question, trace)
        out.details = {"abstained": False, "cited_documents": len(cited), "cache": out.kind,
                       "cache_entry": out.entry_id}
        return out

    def _record_embed(self, out: Lookup, question: str, trace: "Trace") -> None:
        """The question's embedding for the semantic lookup, as a call (on a hit the only one; on
        a miss only when the embedder keeps no cache, so retrieval pays again)."""
        if out.embed_ms is None:
            return
        from tether.observe.trace import Call, cost_usd

        es = self.engine.settings.embed
        tokens = self.engine.embedder.count_tokens(question)
        trace.record_call(Call("embed", es.model, tokens, 0, cost_usd(tokens, 0, es.price_per_mtok, 0), out.embed_ms))

    def _lookup(self, principal: "Principal", question: str, model: str | None, json_schema: dict | None,
                flt: "SearchFilter | None", cs: "CacheSettings") -> Lookup:
        out = Lookup("miss")

        def embed() -> np.ndarray:
            # the same text retrieval embeds next: the embedder's LRU makes the second one free
            t0 = time.perf_counter()
            vec = np.asarray(self.engine.embedder.embed([question])[0], dtype=np.float32)
            out.embed_ms = (time.perf_counter() - t0) * 1000
            return vec

        with self.engine.db.connection() as conn, conn.transaction():
            out.scope = sc = self.scope(conn, principal, question, model, json_schema, flt)
            enter_reader(conn, principal.acl_tokens)
            rows = self._candidates(conn, principal, sc, cs, embed if cs.semantic else None)
        invalid: list[int] = []
        for r in rows:
            if not r["valid"]:
                invalid.append(int(r["id"]))
                continue
            if out.result is None:
                out.kind = "hit_exact" if r["exact"] else "hit_semantic"
                out.similarity = None if r["exact"] else float(r["similarity"])
                out.entry_id = int(r["id"])
                out.saved_usd = float(r["cost_usd"])
                out.saved_ms = float(r["latency_ms"])
                out.result = self._result(r)
        if invalid:
            self._invalidate(invalid)
        if out.result is None and getattr(self.engine.embedder, "cache_size", 0):
            out.embed_ms = None  # retrieval re-embeds (and accounts for) the question: an LRU hit
        return out

    _VALID = (
        "(SELECT count(*) FROM unnest(c.doc_ids, c.doc_versions, c.doc_stamps) AS w(id, version, stamp)"
        "   JOIN documents d ON d.id = w.id AND d.version = w.version AND d.updated_at = w.stamp"
        "  WHERE d.acl && %(tokens)s::text[]) = cardinality(c.doc_ids)"
        " AND (SELECT count(*) FROM chunks k WHERE k.id = ANY(c.chunk_ids) AND k.acl && %(tokens)s::text[]"
        "      AND NOT k.quarantined) = cardinality(c.chunk_ids)"
    )

    def _candidates(self, conn: psycopg.Connection, principal: "Principal", sc: Scope, cs: "CacheSettings",
                    embed: "Callable[[], np.ndarray] | None") -> list[dict]:
        """The exact entry, else the closest semantic ones above the threshold; each with
        ``valid``: its sources re-checked against this principal in the same statement."""
        cols = ("c.id, c.model, c.answer, c.passages, c.confidence, c.cost_usd, c.latency_ms, c.created_at,"
                f" {self._VALID} AS valid")
        params: dict[str, Any] = {"tokens": list(principal.acl_tokens), "key": sc.key_hash}
        rows = conn.execute(
            f"SELECT {cols}, true AS exact, 1.0::float8 AS similarity FROM answer_cache c"
            " WHERE c.key_hash = %(key)s AND c.expires_at > now()", params).fetchall()
        if rows and rows[0]["valid"]:
            return rows
        if embed is None:
            return rows
        sc.vector = embed()
        params.update(scope=sc.scope_hash, sig=sc.signature, vec=sc.vector, n=SEMANTIC_CANDIDATES,
                      threshold=float(cs.threshold))
        near = conn.execute(
            f"SELECT {cols}, false AS exact, c.similarity FROM ("
            "  SELECT e.*, 1 - (e.embedding <=> %(vec)s::vector) AS similarity FROM answer_cache e"
            "   WHERE e.scope_hash = %(scope)s AND e.question_sig = %(sig)s AND e.embedding IS NOT NULL"
            "     AND e.expires_at > now() AND e.key_hash <> %(key)s"
            "   ORDER BY e.embedding <=> %(vec)s::vector LIMIT %(n)s) c"
            " WHERE c.similarity >= %(threshold)s ORDER BY c.similarity DESC", params).fetchall()
        return rows + near

    def _result(self, r: dict) -> "AskResult":
        from tether.engine import AskResult
        from tether.retrieve.pack import Packed
        from tether.retrieve.retriever import Retrieval

        answer = dataclasses.replace(answer_from_dict(r["answer"]), usage=Usage())
        passages = [passage_from_dict(p) for p in r["passages"]]
        return AskResult(answer, passages, Retrieval(passages), Packed(passages, 0), r["model"],
                         float(r["confidence"]))

    # store -----------------------------------------------------------------------------------
    def store(self, lookup: Lookup, principal: "Principal", answer: Answer, packed: "Packed | None", model: str,
              confidence: float, trace: "Trace") -> bool:
        """Keep a freshly produced, guarded answer (a miss's). Never raises."""
        sc = lookup.scope
        if lookup.kind != "miss" or sc is None or not self.settings.enabled:
            return False
        passages = list(packed.passages) if packed is not None else []
        if answer.abstained or answer.escalate or not passages or not answer.text.strip():
            return False
        if any(str(r).startswith(("blocked", "budget")) for r in answer.reasons):
            return False
        if "provider_error" in trace.attrs or any(sp.name == "model.fallback" for sp in trace.spans()):
            return False  # a degraded answer (fallback model) is served once, not kept
        with trace.span("cache.store") as span:
            try:
                stored = self._store(sc, principal, answer, passages, model, confidence, trace)
            except psycopg.errors.SerializationFailure:  # a concurrent store of the same key won
                span.set(stored=False, conflict=True)
                return False
            except Exception as exc:  # noqa: BLE001 - an answer is served even if it cannot be kept
                log.exception("answer cache store failed")
                span.set(stored=False, error=type(exc).__name__)
                return False
            span.set(stored=stored)
        return stored

    def _store(self, sc: Scope, principal: "Principal", answer: Answer, passages: list[Passage], model: str,
               confidence: float, trace: "Trace") -> bool:
        cs = self.settings
        chunk_ids = sorted({p.chunk_id for p in passages})
        doc_ids = sorted({p.document_id for p in passages} | {c.document_id for c in answer.citations})
        with self.engine.db.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            _, perm_key, version, _ = permission_scope(conn, principal.acl_tokens)
            if (perm_key, version) != (sc.perm_key, sc.index_version):
                return False  # something the asker can read changed while answering
            docs = conn.execute(
                "SELECT id, version, updated_at FROM documents WHERE id = ANY(%s) AND acl && %s::text[] ORDER BY id",
                (doc_ids, list(principal.acl_tokens))).fetchall()
            if [int(d["id"]) for d in docs] != doc_ids:
                return False
            cost = trace.cost_usd
            latency = trace._now_ms() if hasattr(trace, "_now_ms") else 0.0
            conn.execute(
                "INSERT INTO answer_cache (key_hash, scope_hash, perm_key, index_version, question_sig, embedding,"
                " model, answer, passages, doc_ids, doc_versions, doc_stamps, chunk_ids, confidence, cost_usd,"
                " latency_ms, expires_at)"
                " VALUES (%(key)s, %(scope)s, %(perm)s, %(ver)s, %(sig)s, %(vec)s, %(model)s, %(answer)s, %(passages)s,"
                "  %(doc_ids)s, %(versions)s, %(stamps)s, %(chunks)s, %(conf)s, %(cost)s, %(lat)s,"
                "  now() + make_interval(secs => %(ttl)s))"
                " ON CONFLICT (key_hash) DO UPDATE SET scope_hash = EXCLUDED.scope_hash, perm_key = EXCLUDED.perm_key,"
                "  index_version = EXCLUDED.index_version, question_sig = EXCLUDED.question_sig,"
                "  embedding = EXCLUDED.embedding, model = EXCLUDED.model, answer = EXCLUDED.answer,"
                "  passages = EXCLUDED.passages, doc_ids = EXCLUDED.doc_ids, doc_versions = EXCLUDED.doc_versions,"
                "  doc_stamps = EXCLUDED.doc_stamps, chunk_ids = EXCLUDED.chunk_ids, confidence = EXCLUDED.confidence,"
                "  cost_usd = EXCLUDED.cost_usd, latency_ms = EXCLUDED.latency_ms, hits = 0, created_at = now(),"
                "  expires_at = EXCLUDED.expires_at, last_hit_at = NULL",
                {"key": sc.key_hash, "scope": sc.scope_hash, "perm": sc.perm_key, "ver": sc.index_version,
                 "sig": sc.signature, "vec": sc.vector, "model": model, "answer": _jsonb(answer.to_dict()),
                 "passages": _jsonb([dataclasses.asdict(p) for p in passages]), "doc_ids": doc_ids,
                 "versions": [int(d["version"]) for d in docs], "stamps": [d["updated_at"] for d in docs],
                 "chunks": chunk_ids, "conf": float(confidence), "cost": float(cost), "lat": float(latency),
                 "ttl": float(cs.ttl_s)},
            )
            evicted = conn.execute("DELETE FROM answer_cache WHERE expires_at <= now()").rowcount
            evicted += conn.execute(
                "DELETE FROM answer_cache WHERE id IN (SELECT id FROM answer_cache"
                " ORDER BY created_at DESC OFFSET %s)", (int(cs.max_entries),)).rowcount
            _count(conn, stores=1, evicted=evicted)
        return True

    # bookkeeping -----------------------------------------------------------------------------
    def _bookkeeping(self, out: Lookup, **counts: float) -> None:
        try:
            with self.engine.db.transaction() as conn:
                if out.scope is not None:
                    for token in out.scope.compact:
                        compact_changes(conn, token)
                _count(conn, **counts)
        except Exception:  # noqa: BLE001
            log.exception("answer cache bookkeeping failed")

    def _record_hit(self, out: Lookup) -> None:
        try:
            with self.engine.db.transaction() as conn:
                conn.execute("UPDATE answer_cache SET hits = hits + 1, last_hit_at = now() WHERE id = %s",
                             (out.entry_id,))
                if out.scope is not None:
                    for token in out.scope.compact:
                        compact_changes(conn, token)
                _count(conn, **{"hits_exact" if out.kind == "hit_exact" else "hits_semantic": 1,
                                "saved_usd": out.saved_usd, "saved_ms": out.saved_ms})
        except Exception:  # noqa: BLE001
            log.exception("answer cache bookkeeping failed")

    def _invalidate(self, ids: list[int]) -> None:
        try:
            with self.engine.db.transaction() as conn:
                n = conn.execute("DELETE FROM answer_cache WHERE id = ANY(%s)", (ids,)).rowcount
                _count(conn, invalidated=n)
        except Exception:  # noqa: BLE001
            log.exception("answer cache invalidation failed")


def _plain(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _jsonb(obj: object) -> Jsonb:
    return Jsonb(obj, dumps=lambda o: json.dumps(o, default=_plain))


def _count(conn: psycopg.Connection, **deltas: float) -> None:
    deltas = {k: v for k, v in deltas.items() if v}
    if not deltas:
        return
    cols = ", ".join(deltas)
    vals = ", ".join(f"%({k})s" for k in deltas)
    sets = ", ".join(f"{k} = answer_cache_counters.{k} + EXCLUDED.{k}" for k in deltas)
    conn.execute(f"INSERT INTO answer_cache_counters (shard, {cols}) VALUES (%(shard)s, {vals})"
                 f" ON CONFLICT (shard) DO UPDATE SET {sets}", {"shard": random.randrange(SHARDS), **deltas})


def compact_changes(conn: psycopg.Connection, token: str) -> None:
    """Fold a token's change rows into one with the same sum (concurrent inserts and compactions
    are safe: each row is deleted, and its ``n`` re-added, exactly once)."""
    conn.execute(
        "WITH gone AS (DELETE FROM answer_cache_changes WHERE token = %(t)s RETURNING n)"
        " INSERT INTO answer_cache_changes (token, n) SELECT %(t)s, sum(n) FROM gone HAVING count(*) > 0",
        {"t": token})


def stats(conn: psycopg.Connection) -> dict[str, Any]:
    """Entries, hits, misses, hit rate and what the hits saved."""
    c = conn.execute(
        "SELECT coalesce(sum(hits_exact), 0) AS hits_exact, coalesce(sum(hits_semantic), 0) AS hits_semantic,"
        " coalesce(sum(misses), 0) AS misses, coalesce(sum(stores), 0) AS stores,"
        " coalesce(sum(invalidated), 0) AS invalidated, coalesce(sum(evicted), 0) AS evicted,"
        " coalesce(sum(saved_usd), 0) AS saved_usd, coalesce(sum(saved_ms), 0) AS saved_ms"
        " FROM answer_cache_counters").fetchone()
    e = conn.execute(
        "SELECT count(*) FILTER (WHERE expires_at > now()) AS entries, count(*) FILTER (WHERE expires_at <= now())"
        " AS expired, count(DISTINCT perm_key) AS permission_keys, min(created_at) AS oldest FROM answer_cache"
    ).fetchone()
    hits = int(c["hits_exact"]) + int(c["hits_semantic"])
    lookups = hits + int(c["misses"])
    return {
        "entries": int(e["entries"]), "expired": int(e["expired"]), "permission_keys": int(e["permission_keys"]),
        "oldest": e["oldest"], "hits": hits, "hits_exact": int(c["hits_exact"]),
        "hits_semantic": int(c["hits_semantic"]), "misses": int(c["misses"]), "lookups": lookups,
        "hit_rate": round(hits / lookups, 4) if lookups else 0.0, "stores": int(c["stores"]),
        "invalidated": int(c["invalidated"]), "evicted": int(c["evicted"]),
        "saved_usd": round(float(c["saved_usd"]), 8), "saved_ms": round(float(c["saved_ms"]), 1),
    }


def clear(conn: psycopg.Connection, *, reset_stats: bool = False) -> int:
    """Delete every entry (and the counters with ``reset_stats``); returns the entries deleted."""
    n = conn.execute("DELETE FROM answer_cache").rowcount
    if reset_stats:
        conn.execute("DELETE FROM answer_cache_counters")
    return n
