"""``[api]``: request limits, sessions, rate limits and the in-process worker of the HTTP edge."""

from __future__ import annotations

from pydantic import BaseModel


class ApiSettings(BaseModel):
    """Limits and switches of the HTTP edge (``[api]``, ``TETHER_API__*``)."""

    #: Largest JSON (or form) body accepted on any route but uploads.
    max_body_bytes: int = 1 * 1024 * 1024
    #: Extra room a multipart upload may take beyond ``Settings.ingest.max_file_bytes``.
    upload_overhead_bytes: int = 64 * 1024
    max_question_chars: int = 4000
    max_search_k: int = 100
    #: ``/v1/search``: characters of each hit's text and of each section heading returned.
    max_snippet_chars: int = 2000
    session_ttl_s: int = 12 * 3600
    session_cookie: str = "tether_session"
    #: Mark the session cookie Secure (set when served behind HTTPS).
    cookie_secure: bool = False
    #: Run an ingest worker thread inside each API process (off when dedicated workers run).
    run_worker: bool = True
    #: Requests per minute per API key (or signed-in browser), shared by all API processes; 0: off.
    rate_limit_per_minute: int = 600
    #: Failed authentications (bad API key, failed sign-in) per minute per source address and per
    #: API-key prefix before every attempt from there is refused for the rest of the minute; 0: off.
    auth_failures_per_minute: int = 20
    #: Bearer token a Prometheus scraper may present for ``/metrics`` (empty: administrators only).
    metrics_token: str = ""
    #: Serve ``/metrics``, ``/openapi.json`` and ``/docs`` to anyone (only on a private network).
    ops_public: bool = False
