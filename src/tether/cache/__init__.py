"""Caches of the answer path (``answers``: exact and semantic answer cache in PostgreSQL)."""
