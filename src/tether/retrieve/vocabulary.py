"""Which words of a question no passage the asker may read contains at all.

Why: the verifier reads topic well and specifics poorly. "Can I bring my dog to the Utrecht
office?" retrieves the Utrecht office's address, manager and holidays, and the verifier scores
them as answering (0.80): every quote is about the Utrecht office, none about dogs. What tells
such a question from an answerable one is that a word it hinges on ("dog", "resign", "married",
"custodian") occurs in no document the asker may read, while the words of answerable questions
almost always occur somewhere. The BM25 index already knows: a word is *seen* when one of its
terms has a posting on a chunk inside the asker's permissions (and the request's filter).

Only readable chunks count, so the answer is the same whether the word sits in a document the
asker may not read or in none (the gate that uses it decides alike in both cases). The cost is
one indexed ``EXISTS`` probe per term, stopping at the first readable posting.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import DictRow

from tether.retrieve.analyzer import analyze, analyze_query
from tether.retrieve.filters import SearchFilter, where_clause
from tether.store.rls import enter_reader

#: Endings the stemmer keeps: "reach" is seen in a text that only says "reachable" (stem
#: "reachabl"). Probed as exact terms, so the lookup stays on the terms index.
_SUFFIXES = ("e", "er", "or", "abl", "ibl", "al", "ion", "ment", "ing", "ed", "iti", "ic", "ist", "ive", "ant",
             "ent", "ship", "ful", "ness", "ure", "ari", "ori")


def _variants(terms: set[str]) -> set[str]:
    """``terms`` and, for English ones (no language prefix), their derived forms."""
    return terms | {t + s for t in terms if ":" not in t for s in _SUFFIXES}


def unseen_words(conn: psycopg.Connection[DictRow], words: Sequence[str], *, acl_tokens: list[str] | None,
                 flt: SearchFilter | None = None) -> list[str]:
    """The ``words`` none of whose BM25 terms (as retrieval reads a query, in every language)
    occurs in a chunk the asker may read (nor a derived form of them, ``_SUFFIXES``); in input
    order. An English stop word is never unseen."""
    terms_of = {w: _variants(set(analyze_query(w))) if analyze(w) else set() for w in dict.fromkeys(words)}
    wanted = sorted(set().union(*terms_of.values())) if terms_of else []
    if not wanted:
        return []
    where, params = where_clause(acl_tokens, flt, "c")
    params["terms"] = wanted
    sql = ("SELECT t.term FROM bm25_terms t WHERE t.term = ANY(%(terms)s) AND t.df > 0 AND EXISTS ("
           " SELECT 1 FROM bm25_postings p JOIN chunks c ON c.id = p.chunk_id"
           f" WHERE p.term_id = t.id AND {where})")
    with conn.transaction():
        if acl_tokens is not None:
            enter_reader(conn, acl_tokens)
        rows = conn.execute(sql, params).fetchall()
    seen = {r["term"] if isinstance(r, dict) else r[0] for r in rows}
    return [w for w, ts in terms_of.items() if ts and not ts & seen]


__all__ = ["unseen_words"]
