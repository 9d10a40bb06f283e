"""Shared steps of the connector tests: run one sync to the end and read what it did."""

from __future__ import annotations

from tether.types import Principal

SYSTEM = Principal.system()


def sync(engine, name: str) -> dict:
    """Enqueue a sync run of ``name``, work it off in this thread, return the finished run."""
    started = engine.connectors.sync(SYSTEM, name)
    engine.work(batch_id=started["batch_id"])
    return engine.connectors.run(SYSTEM, started["run_id"])


def docs(engine, collection: str) -> dict[str, dict]:
    """The collection's documents by source URI."""
    return {d["source_uri"]: d for d in engine.documents.list(SYSTEM, collection, every=True)}
