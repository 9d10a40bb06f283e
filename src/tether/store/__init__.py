"""PostgreSQL: the embedded server, the connection pool, migrations and repositories."""
