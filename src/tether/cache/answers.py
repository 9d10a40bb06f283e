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
   A semantic (paraphrase) hit is served only to the user who asked the cached question
   (migration 0017, ``asker_id``): an answer may restate its question, and another user's
   question text is not theirs to see. Exact hits (the same normalised question) stay shared.

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
budget check, so a spent budget does not stop it. Streams run the same answer pipeline
(:mod:`tether.answer`) and so use the cache the same way: a hit is replayed as events (sources,
the answer's text, its sentences, done), and a streamed answer is stored under the same rules.

Trace: a ``cache`` span (``result`` hit|miss, ``hit``, ``kind`` exact|semantic, ``similarity``),
trace attributes ``cache`` = ``hit_exact`` | ``hit_semantic`` | ``miss`` and ``cache.saved_usd``.
Counters (hits, misses, saved USD and latency) live in ``answer_cache_counters``: ``tether cache
stats``. The SQL is :mod:`tether.store.answer_cache`, the keys :mod:`tether.cache.keys`; the cache
is given the database, settings and embedder it needs (it knows nothing of the engine).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import psycopg
from psycopg.rows import DictRow

from tether.cache.codec import answer_from_dict, passage_from_dict, passage_to_dict
from tether.cache.keys import (  # noqa: F401 - re-exported: the cache's public helpers
    Scope,
    normalise,
    permission_scope,
    question_signature,
    scope_of,
)
from tether.observe.trace import Call, cost_usd
from tether.store import answer_cache as sql
from tether.store.answer_cache import clear, compact_changes, stats  # noqa: F401 - re-exported
from tether.store.rls import enter_reader
from tether.types import Answer, Passage, Usage

if TYPE_CHECKING:
    from tether.embed.base import Embedder
    from tether.observe.trace import Trace
    from tether.retrieve.filters import SearchFilter
    from tether.settings import CacheSettings, Settings
    from tether.store.db import Database
    from tether.types import Principal

log = logging.getLogger(__name__)

#: Semantic candidates examined per lookup (the best valid one above the threshold is served).
SEMANTIC_CANDIDATES = 3


@dataclass
class Lookup:
    """The cache's answer to one request: an entry to serve (hit) or where to store (miss)."""

    kind: str = "off"  # off | hit_exact | hit_semantic | miss | error
    answer: Answer | None = None  # a hit's answer (usage zeroed: the request consumed nothing)
    passages: list[Passage] = field(default_factory=list)  # a hit's packed sources, [1]..[n]
    model: str = ""
    confidence: float = 0.0
    scope: Scope | None = None
    similarity: float | None = None
    entry_id: int | None = None
    saved_usd: float = 0.0
    saved_ms: float = 0.0
    embed_ms: float | None = None  # the question was embedded for a semantic lookup (ms)
    details: dict = field(default_factory=dict)  # for the audit record of a hit

    @property
    def hit(self) -> bool:
        return self.answer is not None


class AnswerCache:
    """The answer cache of one process: its database, settings and (lazily made) embedder."""

    def __init__(self, db: Database, settings: Settings, embedder: Callable[[], Embedder]) -> None:
        self.db = db
        self.config = settings
        self._embedder = embedder
        self._available: bool | None = None

    @property
    def embedder(self) -> Embedder:
        return self._embedder()

    @property
    def settings(self) -> CacheSettings:
        return self.config.cache

    def available(self) -> bool:
        """Whether the cache's tables exist (a database migrated while 0010 was a placeholder
        lacks them: the cache then stays off, with one warning, instead of failing every lookup)."""
        if self._available is None:
            try:
                with self.db.connection() as conn:
                    self._available = sql.tables_exist(conn)
            except Exception:  # noqa: BLE001
                log.exception("answer cache: could not check its tables")
                return False
            if not self._available:
                log.warning("answer cache tables are missing (migration 0010); the answer cache is off")
        return self._available

    # lookup ----------------------------------------------------------------------------------
    def scope(self, conn: psycopg.Connection[DictRow], principal: Principal, question: str, model: str | None,
              json_schema: dict | None, flt: SearchFilter | None) -> Scope:
        return scope_of(conn, principal.acl_tokens, question, model, json_schema, flt, self.config)

    def lookup(self, principal: Principal, question: str, model: str | None, json_schema: dict | None,
               flt: SearchFilter | None, trace: Trace) -> Lookup:
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
            if not out.hit:
                span.set(result="miss", hit=False)
                trace.set(cache="miss")
                self._record_embed(out, question, trace)
                self._bookkeeping(out, misses=1)
                return out
            span.set(result="hit", hit=True, kind=out.kind.removeprefix("hit_"), entry=out.entry_id,
                     saved_usd=round(out.saved_usd, 8),
                     **({"similarity": round(out.similarity, 4)} if out.similarity is not None else {}))
            self._record_hit(out)
        ans = out.answer
        assert ans is not None
        cited = sorted({c.document_id for c in ans.citations})
        trace.set(cache=out.kind, **{"cache.saved_usd": round(out.saved_usd, 8)},
                  abstained=False, blocked=False, escalate=False, route="cache", cited_documents=cited,
                  grounded=all(v.supported for v in ans.sentences))
        self._record_embed(out, question, trace)
        out.details = {"abstained": False, "cited_documents": len(cited), "cache": out.kind,
                       "cache_entry": out.entry_id}
        return out

    def _record_embed(self, out: Lookup, question: str, trace: Trace) -> None:
        """The question's embedding for the semantic lookup, as a call (on a hit the only one; on
        a miss only when the embedder keeps no cache, so retrieval pays again)."""
        if out.embed_ms is None:
            return
        es = self.config.embed
        tokens = self.embedder.count_tokens(question)
        trace.record_call(Call("embed", es.model, tokens, 0, cost_usd(tokens, 0, es.price_per_mtok, 0), out.embed_ms))

    def _lookup(self, principal: Principal, question: str, model: str | None, json_schema: dict | None,
                flt: SearchFilter | None, cs: CacheSettings) -> Lookup:
        out = Lookup("miss")

        def embed() -> np.ndarray:
            # the same text retrieval embeds next: the embedder's LRU makes the second one free
            t0 = time.perf_counter()
            vec = np.asarray(self.embedder.embed([question])[0], dtype=np.float32)
            out.embed_ms = (time.perf_counter() - t0) * 1000
            return vec

        with self.db.connection() as conn, conn.transaction():
            out.scope = sc = self.scope(conn, principal, question, model, json_schema, flt)
            enter_reader(conn, principal.acl_tokens)
            rows = self._candidates(conn, principal, sc, cs, embed if cs.semantic else None)
        invalid: list[int] = []
        for r in rows:
            if not r["valid"]:
                invalid.append(int(r["id"]))
                continue
            if not out.hit:
                out.kind = "hit_exact" if r["exact"] else "hit_semantic"
                out.similarity = None if r["exact"] else float(r["similarity"])
                out.entry_id = int(r["id"])
                out.saved_usd = float(r["cost_usd"])
                out.saved_ms = float(r["latency_ms"])
                out.answer = dataclasses.replace(answer_from_dict(r["answer"]), usage=Usage())
                out.passages = [passage_from_dict(p) for p in r["passages"]]
                out.model, out.confidence = r["model"], float(r["confidence"])
        if invalid:
            self._invalidate(invalid)
        if not out.hit and self.embedder.cache_size:
            out.embed_ms = None  # retrieval re-embeds (and accounts for) the question: an LRU hit
        return out

    def _candidates(self, conn: psycopg.Connection[DictRow], principal: Principal, sc: Scope, cs: CacheSettings,
                    embed: Callable[[], np.ndarray] | None) -> list[dict]:
        """The exact entry, else the closest semantic ones above the threshold; each with
        ``valid``: its sources re-checked against this principal in the same statement."""
        tokens = list(principal.acl_tokens)
        rows = sql.exact_entries(conn, tokens, sc.key_hash)
        if (rows and rows[0]["valid"]) or embed is None:
            return rows
        sc.vector = embed()
        return rows + sql.near_entries(conn, tokens, key_hash=sc.key_hash, scope_hash=sc.scope_hash,
                                       signature=sc.signature, vector=sc.vector, n=SEMANTIC_CANDIDATES,
                                       threshold=cs.threshold, asker_id=principal.id)

    # store -----------------------------------------------------------------------------------
    def store(self, lookup: Lookup, principal: Principal, answer: Answer, passages: list[Passage], model: str,
              confidence: float, trace: Trace) -> bool:
        """Keep a freshly produced, guarded answer (a miss's). Never raises."""
        sc = lookup.scope
        if lookup.kind != "miss" or sc is None or not self.settings.enabled:
            return False
        passages = list(passages)
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

    def _store(self, sc: Scope, principal: Principal, answer: Answer, passages: list[Passage], model: str,
               confidence: float, trace: Trace) -> bool:
        cs = self.settings
        tokens = list(principal.acl_tokens)
        chunk_ids = sorted({p.chunk_id for p in passages})
        doc_ids = sorted({p.document_id for p in passages} | {c.document_id for c in answer.citations})
        with self.db.connection() as conn, conn.transaction():
            sql.repeatable_read(conn)
            _, perm_key, version, _ = permission_scope(conn, tokens)
            if (perm_key, version) != (sc.perm_key, sc.index_version):
                return False  # something the asker can read changed while answering
            docs = sql.readable_documents(conn, doc_ids, tokens)
            if [int(d["id"]) for d in docs] != doc_ids:
                return False
            latency = trace._now_ms() if hasattr(trace, "_now_ms") else 0.0
            sql.upsert(conn, key=sc.key_hash, scope=sc.scope_hash, perm=sc.perm_key, version=sc.index_version,
                       signature=sc.signature, vector=sc.vector, model=model, answer=answer.to_dict(),
                       passages=[passage_to_dict(p) for p in passages], doc_ids=doc_ids,
                       doc_versions=[int(d["version"]) for d in docs], doc_stamps=[d["updated_at"] for d in docs],
                       chunk_ids=chunk_ids, confidence=confidence, cost_usd=trace.cost_usd, latency_ms=latency,
                       ttl_s=cs.ttl_s, asker_id=principal.id)
            sql.count(conn, stores=1, evicted=sql.evict(conn, cs.max_entries))
        return True

    # bookkeeping -----------------------------------------------------------------------------
    def _bookkeeping(self, out: Lookup, **counts: float) -> None:
        try:
            with self.db.transaction() as conn:
                for token in (out.scope.compact if out.scope is not None else []):
                    compact_changes(conn, token)
                sql.count(conn, **counts)
        except Exception:  # noqa: BLE001
            log.exception("answer cache bookkeeping failed")

    def _record_hit(self, out: Lookup) -> None:
        try:
            with self.db.transaction() as conn:
                sql.mark_hit(conn, int(out.entry_id or 0))
                for token in (out.scope.compact if out.scope is not None else []):
                    compact_changes(conn, token)
                sql.count(conn, **{"hits_exact" if out.kind == "hit_exact" else "hits_semantic": 1,
                                   "saved_usd": out.saved_usd, "saved_ms": out.saved_ms})
        except Exception:  # noqa: BLE001
            log.exception("answer cache bookkeeping failed")

    def _invalidate(self, ids: list[int]) -> None:
        try:
            with self.db.transaction() as conn:
                sql.count(conn, invalidated=sql.delete_entries(conn, ids))
        except Exception:  # noqa: BLE001
            log.exception("answer cache invalidation failed")


__all__ = ["AnswerCache", "Lookup", "Scope", "SEMANTIC_CANDIDATES", "clear", "compact_changes", "normalise",
           "permission_scope", "question_signature", "stats"]
