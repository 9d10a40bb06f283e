"""``[cache]``: the permission-scoped answer cache (exact and semantic)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CacheSettings(BaseModel):
    """The answer cache (cache/answers.py): exact and semantic, per effective permission key and
    index version; hits re-check every source document against the asker."""

    enabled: bool = True
    #: Also reuse the answer to a paraphrase (same scope, same numbers and negations).
    semantic: bool = True
    #: Cosine similarity of the questions' embeddings at or above which a paraphrase hits
    #: (measured on demo paraphrases and near-misses: bench/cache.py).
    threshold: float = Field(default=0.95, ge=0.0, le=1.0)
    ttl_s: float = Field(default=86400.0, gt=0)
    #: Beyond this many entries the oldest are evicted.
    max_entries: int = Field(default=10000, ge=1)
