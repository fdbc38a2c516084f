"""Errors raised by ingestion/.

IngestError
├── CategoryDataError     data/categories.json cannot be read or is inconsistent
├── BadSourceFile         an import file cannot be opened or parsed at all
├── CrsError              a --crs is unknown, or a point lies outside its area of use
├── ImportRunError        a decision on an import run cannot be taken
│   ├── RunNotFound       no run has this id
│   └── RunAlreadyDecided the run is not pending (published, refused or failed already)
└── RequestRefused        an HTTP submission is refused before validation
    ├── PayloadTooLarge   the body is larger than the configured cap (413)
    ├── UnsupportedMediaType  the body is not JSON or a form (415)
    ├── MalformedBody     the body is not strict JSON, not UTF-8, or nested too deep (400)
    │   └── IdempotencyMismatch  an Idempotency-Key reused with another body (422)
    └── RateLimited       the client sent too many submissions lately (429)

Invalid *content* (a bad field) is not an exception: validation returns field errors,
and the submission is kept with them.
"""

from __future__ import annotations

__all__ = [
    "BadSourceFile",
    "CategoryDataError",
    "CrsError",
    "IdempotencyMismatch",
    "ImportRunError",
    "IngestError",
    "MalformedBody",
    "PayloadTooLarge",
    "RateLimited",
    "RequestRefused",
    "RunAlreadyDecided",
    "RunNotFound",
    "UnsupportedMediaType",
]


class IngestError(Exception):
    """Base for ingestion/ errors."""


class CategoryDataError(IngestError, ValueError):
    """The categories file cannot be read or is inconsistent."""


class BadSourceFile(IngestError, ValueError):
    """An import file cannot be opened or parsed at all."""


class CrsError(IngestError, ValueError):
    """A CRS is unknown, or a point lies outside its area of use."""


class RequestRefused(IngestError):
    """An HTTP submission refused before its fields could be validated."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, *, submission_id: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.submission_id = submission_id


class PayloadTooLarge(RequestRefused):
    """The body is larger than the configured cap."""

    status = 413
    title = "Payload Too Large"


class UnsupportedMediaType(RequestRefused):
    """The body is neither JSON nor a form."""

    status = 415
    title = "Unsupported Media Type"


class MalformedBody(RequestRefused):
    """The body is not strict JSON, not UTF-8, or nested too deep."""

    status = 400
    title = "Malformed body"


class RateLimited(RequestRefused):
    """The client sent too many submissions lately."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class IdempotencyMismatch(MalformedBody):
    """The Idempotency-Key was already used with a different body."""

    status = 422
    title = "Idempotency-Key reused"

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used with a different body")


class ImportRunError(IngestError):
    """A decision on an import run cannot be taken (see subclasses)."""


class RunNotFound(ImportRunError, LookupError):
    """No import run has this id."""


class RunAlreadyDecided(ImportRunError):
    """The run is not waiting for a decision (already published, refused, or failed)."""
