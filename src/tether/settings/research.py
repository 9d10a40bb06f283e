"""``[research]``: research mode (``mode: "research"`` on ask): how many steps a plan may take
and what one run may spend (tokens, seconds, dollars), and the external MCP tools it may call."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ResearchSettings(BaseModel):
    """Limits of one research run (answer/research.py); a limit reached ends the planning, the
    answer is then made from the steps done so far (and the trace says which limit stopped it)."""

    #: Retrieval steps per run, the question itself included (sub-questions, second hops, tool calls).
    max_steps: int = Field(default=6, ge=1, le=32)
    #: Second-hop searches for entities found in the first hop's passages (embedded planner).
    max_hops: int = Field(default=2, ge=0, le=8)
    #: Passages each step keeps for the answer (its best ones; the pack step then fits them).
    step_k: int = Field(default=4, ge=1, le=50)
    #: Tokens the steps may read and write in all (retrieved passages, tool results, planner calls).
    max_tokens: int = Field(default=24_000, ge=256)
    #: Wall-clock seconds for the planning and steps (generation and grounding come after).
    max_seconds: float = Field(default=20.0, gt=0)
    #: Dollars the planner's model calls may cost (the answer's own call is budgeted as usual).
    max_cost_usd: float = Field(default=0.05, ge=0)
    #: Characters of one MCP tool result the planner sees (and the trace keeps, redacted).
    tool_result_chars: int = Field(default=4_000, ge=100)
    #: Seconds one MCP tool call (connect, initialise, call) may take.
    tool_timeout_s: float = Field(default=15.0, gt=0)
