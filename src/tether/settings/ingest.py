"""``[chunk]`` and ``[ingest]``: how documents are cut into chunks, and the limits and job
leases of ingestion."""

from __future__ import annotations

from pydantic import BaseModel


class ChunkSettings(BaseModel):
    max_tokens: int = 200
    overlap_tokens: int = 40
    min_tokens: int = 20


class IngestSettings(BaseModel):
    max_file_bytes: int = 20 * 1024 * 1024
    #: Seconds without a heartbeat after which a running job is considered abandoned.
    job_lease_s: float = 30.0
    heartbeat_s: float = 5.0
    max_attempts: int = 3
