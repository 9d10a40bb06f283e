"""The error tree. Library code raises these; only the edges (CLI, API) turn them into messages.

    TetherError                      code=internal             500
    ├── ConfigError                  code=config               500
    ├── StoreUnavailable             code=store_unavailable    503  (PostgreSQL unreachable or failing; retry)
    │   └── AuditFailed              code=audit_failed         503  (an answer's trace, audit, usage not stored)
    ├── NotFound                     code=not_found            404
    ├── PermissionDenied             code=forbidden            403
    ├── Unauthenticated              code=unauthenticated      401
    ├── InvalidInput                 code=invalid_input        422
    │   ├── UnknownPrincipal         code=unknown_principal    422
    │   ├── QuestionTooLong          code=question_too_long    422
    │   ├── PayloadTooLarge          code=payload_too_large    413  (a request body over the API's limit)
    │   ├── GoldenError              code=invalid_golden       422  (a golden file that does not validate)
    │   └── IngestError              code=ingest_failed        422
    │       ├── UnsupportedFormat    code=unsupported_format   415
    │       ├── FileTooLarge         code=file_too_large       413
    │       ├── EmptyDocument        code=empty_document       422
    │       ├── CorruptDocument      code=corrupt_document     422
    │       └── DocumentTooComplex   code=document_too_complex 422  (a heading or chunk count over the limits)
    ├── ProviderError                code=provider_error       502
    │   ├── ProviderTimeout          code=provider_timeout     504
    │   ├── ContextOverflow          code=context_overflow     502  (the prompt exceeds the model's window)
    │   └── ProviderUnavailable      code=provider_unavailable 503  (every model in the chain failed)
    ├── ConnectorError               code=connector_failed     502  (a connector's source failed a sync)
    │   ├── SourceUnreachable        code=source_unreachable   502  (host, bucket, path or repository not reachable)
    │   └── CredentialsRejected      code=credentials_rejected 502  (missing, expired or refused credentials)
    ├── ToolCallFailed               code=tool_failed          502  (an external MCP server's tool call failed)
    ├── Conflict                     code=conflict             409
    ├── RateLimited                  code=rate_limited         429  (too many requests this minute; retry)
    ├── QuotaExceeded                code=quota_exceeded       429  (an upload quota: documents, bytes, jobs)
    └── BudgetExceeded               code=budget_exceeded      402  (a hard spending budget is spent)

Each error has a stable ``code`` (part of the API contract) and an HTTP ``status``; a test
(``tests/test_errors.py``) checks this drawing against the classes. ``details["retry_after"]``
(seconds), where present, becomes the API's ``Retry-After`` header. Third-party errors are
translated once, at their boundary, with ``raise ... from exc`` (PostgreSQL's in
``tether.store.db``). Messages must never contain content from a document the caller may not read.
"""

from __future__ import annotations


class TetherError(Exception):
    code = "internal"
    status = 500

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        details = {"details": self.details} if self.details else {}
        return {"error": {"code": self.code, "message": self.message, **details}}


class ConfigError(TetherError):
    code = "config"


class StoreUnavailable(TetherError):
    """PostgreSQL cannot be reached or failed mid-request (connection lost, server shutting
    down, no pooled connection in time). Retryable: ``details.retry_after`` seconds."""

    code = "store_unavailable"
    status = 503


class AuditFailed(StoreUnavailable):
    """The record of an answer run (trace, audit entry and usage events, one transaction) could
    not be stored. The answer is withheld: an ask fails with this error, a stream ends with an
    ``error`` event carrying it instead of ``done``. Retryable: ``details.retry_after``."""

    code = "audit_failed"


class NotFound(TetherError):
    code = "not_found"
    status = 404


class PermissionDenied(TetherError):
    code = "forbidden"
    status = 403


class Unauthenticated(TetherError):
    code = "unauthenticated"
    status = 401


class InvalidInput(TetherError):
    code = "invalid_input"
    status = 422


class UnknownPrincipal(InvalidInput):
    code = "unknown_principal"


class QuestionTooLong(InvalidInput):
    code = "question_too_long"


class PayloadTooLarge(InvalidInput):
    """A request body over the API's limit; ``details.limit`` bytes."""

    code = "payload_too_large"
    status = 413


class GoldenError(InvalidInput):
    """A golden file that cannot be read or does not validate; the message names the case."""

    code = "invalid_golden"


class IngestError(InvalidInput):
    code = "ingest_failed"


class UnsupportedFormat(IngestError):
    code = "unsupported_format"
    status = 415


class FileTooLarge(IngestError):
    code = "file_too_large"
    status = 413


class EmptyDocument(IngestError):
    code = "empty_document"


class CorruptDocument(IngestError):
    code = "corrupt_document"


class DocumentTooComplex(IngestError):
    """A document whose structure would cost far more than its size: a heading over
    ``ingest.max_heading_chars`` (repeated into every chunk), more chunks than
    ``ingest.max_chunks_per_document`` (or the uploader's lower limit), a chunk over
    ``ingest.max_chunk_chars``, or markup nested too deeply to parse; refused before any embedding."""

    code = "document_too_complex"


class ProviderError(TetherError):
    code = "provider_error"
    status = 502


class ProviderTimeout(ProviderError):
    code = "provider_timeout"
    status = 504


class ContextOverflow(ProviderError):
    """The provider rejected the prompt as longer than the model's context window."""

    code = "context_overflow"


class ProviderUnavailable(ProviderError):
    """Every model of a fallback chain failed; ``details["tried"]`` says which and why."""

    code = "provider_unavailable"
    status = 503


class ConnectorError(TetherError):
    """A connector's source failed (the sync stops; the connector's status shows this error).
    Messages name the source (bucket, host, path), never an item's content or a secret."""

    code = "connector_failed"
    status = 502


class SourceUnreachable(ConnectorError):
    code = "source_unreachable"


class CredentialsRejected(ConnectorError):
    code = "credentials_rejected"


class ToolCallFailed(TetherError):
    """A call to an external MCP server's tool failed (unreachable, timed out, refused, a secret
    missing). The message names the server and the kind of failure, never the server's output."""

    code = "tool_failed"
    status = 502


class Conflict(TetherError):
    code = "conflict"
    status = 409


class QuotaExceeded(TetherError):
    """A per-user upload quota (documents held, bytes held, ingest jobs in flight) would be
    exceeded; ``details``: quota, limit (and ``retry_after`` for jobs in flight)."""

    code = "quota_exceeded"
    status = 429


class RateLimited(TetherError):
    """Too many requests from one API key in the current window; ``details.retry_after`` seconds."""

    code = "rate_limited"
    status = 429


class BudgetExceeded(TetherError):
    """A hard spending budget (user, group or API key; per day or month) would be exceeded by this
    request. 402, not 429: waiting seconds and retrying (what clients, and our own resilience
    layer, do on 429) cannot help until the period rolls over or an admin raises the limit, and
    429 already means ``rate_limited``. The message names the scope and period, never figures
    (a group's spend includes other users'); ``details``: scope, period, resets_at."""

    code = "budget_exceeded"
    status = 402
