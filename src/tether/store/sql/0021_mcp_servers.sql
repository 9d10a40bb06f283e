-- External MCP servers whose tools research mode may call (issue 19; src/tether/agents/mcp_client.py).
-- A row never holds a secret: ``env`` maps a child-process variable to the NAME of a variable of
-- Tether's environment, ``headers`` an HTTP header to such a name.
CREATE TABLE mcp_servers (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    transport   text NOT NULL CHECK (transport IN ('stdio', 'http')),
    command     text[] NOT NULL DEFAULT '{}',   -- stdio: argv
    url         text NOT NULL DEFAULT '',       -- http: the streamable HTTP endpoint
    env         jsonb NOT NULL DEFAULT '{}',
    headers     jsonb NOT NULL DEFAULT '{}',
    tools       text[] NOT NULL DEFAULT '{}',   -- the tools research mode may call; empty: all
    enabled     boolean NOT NULL DEFAULT true,
    created_by  bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((transport = 'stdio' AND cardinality(command) > 0) OR (transport = 'http' AND url <> ''))
);
