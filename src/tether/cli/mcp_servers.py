"""`tether mcp-servers add|list|tools|enable|disable|rm`: the external MCP servers whose tools
research mode's LLM planner may call (services/mcp_servers.py). Administrators only; the
operator (``Principal.system()``) acts unless ``--as NAME`` names an administrator."""

from __future__ import annotations

import typer

from tether.cli._common import JSON_OPT, acting, handle_errors, open_engine, out_console, print_json
from tether.errors import InvalidInput

app = typer.Typer(help="External MCP servers research mode may call (administrators).", no_args_is_help=True)
AS_OPT = typer.Option(None, "--as", help="Act as this administrator (default: the operator).")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise InvalidInput(f"{what} takes NAME=ENV_VAR, got {item!r}")
        out[key] = value
    return out


@app.command("add")
@handle_errors
def add(
    name: str,
    command: list[str] = typer.Option([], "--command", help="stdio: the argv, one --command per word."),
    url: str = typer.Option("", "--url", help="http: the streamable HTTP endpoint."),
    env: list[str] = typer.Option([], "--env", help="stdio: CHILD_VAR=ENV_VAR (the value is read from ENV_VAR)."),
    header: list[str] = typer.Option([], "--header", help="http: Header=ENV_VAR (e.g. Authorization=ACME_TOKEN)."),
    tool: list[str] = typer.Option([], "--tool", help="Only these tools may be called (repeatable; default all)."),
    as_user: str = AS_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Register a server (stdio: --command ...; http: --url ...); secrets only as variable names."""
    transport = "http" if url else "stdio"
    with open_engine() as t:
        row = t.mcp_servers.add(acting(t, as_user), name, transport, command=list(command), url=url,
                                env=_pairs(env, "--env"), headers=_pairs(header, "--header"), tools=list(tool))
    if as_json:
        print_json(row)
    else:
        out_console.print(f"registered {transport} MCP server {name}")


@app.command("list")
@handle_errors
def list_(as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """The registered servers."""
    with open_engine() as t:
        rows = t.mcp_servers.list(acting(t, as_user))
    if as_json:
        print_json({"servers": rows})
        return
    for r in rows:
        where = " ".join(r["command"]) if r["transport"] == "stdio" else r["url"]
        out_console.print(f"{r['name']:<20} {r['transport']:<6} {'on ' if r['enabled'] else 'off'} {where}")


@app.command("tools")
@handle_errors
def tools(name: str, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    """Ask the server for the tools research mode may call."""
    with open_engine() as t:
        rows = t.mcp_servers.tools(acting(t, as_user), name)
    if as_json:
        print_json({"server": name, "tools": rows})
        return
    for r in rows:
        out_console.print(f"{r['qualified']}: {r['description']}")


def _toggle(name: str, enabled: bool, as_user: str | None, as_json: bool) -> None:
    with open_engine() as t:
        row = t.mcp_servers.set_enabled(acting(t, as_user), name, enabled)
    if as_json:
        print_json(row)
    else:
        out_console.print(f"{name} {'enabled' if enabled else 'disabled'}")


@app.command("enable")
@handle_errors
def enable(name: str, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    _toggle(name, True, as_user, as_json)


@app.command("disable")
@handle_errors
def disable(name: str, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    _toggle(name, False, as_user, as_json)


@app.command("rm")
@handle_errors
def remove(name: str, as_user: str = AS_OPT, as_json: bool = JSON_OPT) -> None:
    with open_engine() as t:
        out = t.mcp_servers.remove(acting(t, as_user), name)
    if as_json:
        print_json(out)
    else:
        out_console.print(f"removed {name}")
