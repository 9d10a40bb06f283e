"""``[conversations]``: threads (retention), follow-up rewriting and the history budget."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ConversationSettings(BaseModel):
    """Conversations (services/conversations.py) and the rewrite step (answer/rewrite.py)."""

    #: Threads not updated for this many days are purged (``tether conversations purge``); 0 keeps them.
    retention_days: float = Field(default=0.0, ge=0)
    #: How follow-ups become standalone questions: "auto" (an LLM when the answering model is an
    #: OpenAI-compatible one, else the deterministic rules), "rules", "llm" or "off".
    rewriter: Literal["auto", "rules", "llm", "off"] = "auto"
    #: Tokens of history the rewriter sees (the newest turns that fit; older ones are dropped and counted).
    history_tokens: int = Field(default=1024, ge=16)
    #: With an LLM rewriter, at most this share of the model's context window (registry) goes to history.
    history_share: float = Field(default=0.25, gt=0, le=1)
    #: Turns read from the database per turn (the budget then keeps the newest that fit).
    max_history_turns: int = Field(default=50, ge=1)
    #: Titles are cut to this many characters (a new thread is titled by its first question).
    max_title_chars: int = Field(default=120, ge=8)
