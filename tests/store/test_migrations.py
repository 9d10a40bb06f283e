import psycopg

from tether.store.migrations import apply_migrations, available


def test_migrations_apply_once_and_are_idempotent(pg_server):
    name = "t_mig_fresh"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.replace("/postgres?", f"/{name}?")
    with psycopg.connect(url, autocommit=True) as conn:
        first = apply_migrations(conn)
        assert first == [m.version for m in available()]
        assert apply_migrations(conn) == []
        ext = conn.execute("SELECT extversion FROM pg_extension WHERE extname='vector'").fetchone()
        assert ext is not None


def test_upgrade_from_first_version_keeps_data(pg_server):
    """An old database (only migration 1) with rows in it upgrades to the latest schema."""
    name = "t_mig_upgrade"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.replace("/postgres?", f"/{name}?")
    with psycopg.connect(url, autocommit=True) as conn:
        assert apply_migrations(conn, target=1) == [1]
        conn.execute("INSERT INTO principals (name) VALUES ('old-user')")
        rest = apply_migrations(conn)
        assert rest == [m.version for m in available() if m.version > 1]
        assert conn.execute("SELECT count(*) FROM principals WHERE name='old-user'").fetchone()[0] == 1
