"""Agents: Tether as a permission-safe tool for any agent (the MCP server in ``mcp_server``,
the operations it exposes in ``tools``). The MCP client and research mode land here later."""
