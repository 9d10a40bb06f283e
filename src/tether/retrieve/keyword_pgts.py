"""BM25 through Timescale's ``pg_textsearch`` index (``retrieve.keyword_backend = "pg_textsearch"``).

The alternative to Tether's own exact BM25 (retrieve/keyword.py): the index (store/extensions.py,
``chunks_text_bm25``) scores with Block-Max WAND and returns the top k by ``ORDER BY text <@>
query LIMIT k``. The permission filter and the metadata filters stay inside the same statement
(``where_clause``), and RLS applies as for every search; the index scan post-filters and grows its
batch until ``k`` visible rows are found or the matches run out (measured, tests/retrieve).

Its ranking is close to, not the same as, the exact one: PostgreSQL's parser and its English
configuration tokenise and count document length differently from Tether's analyzer, and all
languages share the English stemmer. tests/retrieve/test_keyword_pgts.py reports the overlap@10
with ``keyword.exact_search``. Tether's stopwords are removed from the query first (the index
keeps every word, see ``ensure_bm25_index``), so both backends drop the same query words.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import DictRow, tuple_row

from tether.errors import ConfigError
from tether.retrieve.analyzer import _TOKEN, STOPWORDS_EN
from tether.retrieve.filters import SearchFilter, where_clause
from tether.retrieve.keyword import _planner
from tether.store.extensions import INDEX

_UNDEFINED = ("42704", "42P01", "42883")  # undefined object / table / function


def _ordered(rows: list[tuple[int, float]]) -> bool:
    """Index order is ascending ``<@>`` (negated BM25): the scores must never decrease."""
    return all(a[1] <= b[1] + 1e-6 * max(1.0, abs(b[1])) for a, b in zip(rows, rows[1:]))


def query_text(query: str) -> str:
    """The query's words, lowercased, without Tether's English stopwords."""
    return " ".join(w for w in _TOKEN.findall(query.lower()) if w not in STOPWORDS_EN)


def search(
    conn: psycopg.Connection[DictRow], query: str, *, acl_tokens: list[str] | None,
    flt: SearchFilter | None = None, k: int = 100,
) -> list[tuple[int, float]]:
    """``(chunk_id, BM25 score)`` best first, at most ``k``, inside the permission filter."""
    text = query_text(query)
    if not text or k <= 0:
        return []
    where, params = where_clause(acl_tokens, flt, "c")
    params.update(q=text, k=k)
    order = f"c.text <@> to_bm25query(%(q)s, '{INDEX}')"
    # bm25_get_current_score(): the score the index scan just computed for this row (the
    # extension's own planner hook uses it for select-list scores; written out here because any
    # other select expression, even "-(score)", scores every row again: measured 12 vs 2.5 ms
    # for 100 rows). It is right only under the bm25 index scan: ``_planner`` leaves the planner
    # no other ordered path, and ``_ordered`` checks the scores come out in index order.
    sql = f"SELECT c.id, bm25_get_current_score() AS s FROM chunks c WHERE {where} ORDER BY {order} LIMIT %(k)s"
    fallback = f"SELECT c.id, {order} AS s FROM chunks c WHERE {where} ORDER BY {order} LIMIT %(k)s"
    try:
        with conn.transaction(), _planner(conn, {"jit": "off", "enable_seqscan": "off", "enable_bitmapscan": "off"}):
            cur = conn.cursor(row_factory=tuple_row)
            rows = cur.execute(sql, params).fetchall()
            if not _ordered(rows):  # not the index scan's scores: score each row instead
                rows = cur.execute(fallback, params).fetchall()
    except psycopg.Error as exc:
        if getattr(exc, "sqlstate", None) in _UNDEFINED:
            raise ConfigError("retrieve.keyword_backend = 'pg_textsearch' but the database has no pg_textsearch "
                              f"index {INDEX} (restart with the setting on, or see retrieve/keyword_pgts.py)") from exc
        raise
    return sorted(((int(c), -float(s)) for c, s in rows if s < 0.0), key=lambda r: (-r[1], r[0]))
