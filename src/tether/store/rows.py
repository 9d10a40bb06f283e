"""The row of a statement that always returns exactly one, and the connection type that gives dict rows.

An aggregate (``SELECT count(*) ...``), an ``INSERT ... RETURNING`` or a re-read of a row locked
or checked a moment ago in the same transaction cannot come back empty; ``cursor.fetchone()`` is
still typed ``row | None``. :func:`one` says so once: it returns the row, and an empty result (a
bug, never bad input) raises at once instead of failing later on ``None[...]``.

:data:`Conn` is what :meth:`tether.store.db.Database.connection` hands out: a connection whose
rows are dicts (``psycopg.Connection[DictRow]``).
"""

from __future__ import annotations

from typing import TypeVar

import psycopg
from psycopg.rows import DictRow

Row = TypeVar("Row")
#: A pooled connection (``row_factory=dict_row``).
Conn = psycopg.Connection[DictRow]


def one(cur: psycopg.Cursor[Row]) -> Row:
    """The single row ``cur`` must return."""
    row = cur.fetchone()
    if row is None:
        raise LookupError("the statement returned no row where it always returns one")
    return row

