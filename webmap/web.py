"""What every web blueprint shares: the error table and its answers, and request helpers.

The error table, problem+json, JSON answers, the client key and the per-request
database session.

The error table (:data:`STATUS_CODES`) is the one place where a domain error becomes an
HTTP status, the way titiler's ``DEFAULT_STATUS_CODES`` with ``add_exception_handlers``
does: packages raise the errors of their own ``errors.py`` (free of HTTP), and
:func:`add_exception_handlers` answers them — ``application/problem+json`` (RFC 9457,
built by :func:`geo.problems.problem_body`) for APIs and programs, werkzeug's HTML page
for a browser on an HTML page. A more specific class wins (the table is searched along
the exception's MRO). Blueprint-level handlers (the moderation pages' HTML messages)
still take precedence for their pages.

A database that cannot be reached is an outage, not a bug: every such error (ours,
SQLAlchemy's, psycopg's) answers 503 with ``Retry-After``, and the app recovers by
itself (pools ping or replace their connections) once the database is back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy.exc as sa_exc
from flask import Flask, Response, current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions
from werkzeug.http import HTTP_STATUS_CODES

from community.errors import (
    Blocked,
    CommunityError,
    CommunityNotFound,
    InvalidCommunityInput,
    MagicLinkInvalid,
    NotAllowed,
    SpamRefused,
    TooManyRequests,
)
from community.signups import ItemClosed
from geo.clients import request_key
from geo.db import get_engine
from geo.errors import DatabaseUnavailable, FeatureNotFound, VersionConflict
from geo.problems import PROBLEM_JSON, problem_body
from ingestion.errors import (
    IdempotencyMismatch,
    MalformedBody,
    PayloadTooLarge,
    RateLimited,
    RequestRefused,
    UnsupportedMediaType,
)
from moderation.errors import InvalidInput
from moderation.errors import NotFound as ModerationNotFound

from .ogc.params import BadParameter

__all__ = [
    "OUTAGE_RETRY_AFTER_S",
    "STATUS_CODES",
    "ProblemSpec",
    "add_exception_handlers",
    "client_key",
    "db_session",
    "engine",
    "json_response",
    "problem",
    "problem_for",
]

log = logging.getLogger(__name__)

OUTAGE_RETRY_AFTER_S = 5
"""Seconds a client should wait before retrying during a database outage."""


@dataclass(frozen=True)
class ProblemSpec:
    """How one kind of domain error is answered.

    Parameters
    ----------
    status
        The HTTP status.
    title
        The problem's title; default: the status phrase.
    detail
        The public detail from the exception (default: ``str(exc)`` below 500, a fixed
        sentence otherwise: a 5xx never repeats what was logged).
    members
        Extension members (``invalid_params``, ``errors``...).
    headers
        Extra headers (``Retry-After``).
    """

    status: int
    title: str | None = None
    detail: Callable[[Exception], str | None] | None = None
    members: Callable[[Exception], Mapping[str, Any]] | None = None
    headers: Callable[[Exception], Mapping[str, str]] | None = None


def _outage_detail(_exc: Exception) -> str:
    return "The database is unavailable; try again shortly."


def _retry_after_outage(_exc: Exception) -> Mapping[str, str]:
    return {"Retry-After": str(OUTAGE_RETRY_AFTER_S)}


_OUTAGE = ProblemSpec(503, "Service Unavailable", detail=_outage_detail,
                      headers=_retry_after_outage)


def _refused(status: int) -> ProblemSpec:
    return ProblemSpec(status, detail=lambda e: getattr(e, "detail", str(e)),
                       members=lambda e: {"submission_id": getattr(e, "submission_id", None)})


STATUS_CODES: dict[type[Exception], ProblemSpec] = {
    # geo
    DatabaseUnavailable: _OUTAGE,
    FeatureNotFound: ProblemSpec(404),
    VersionConflict: ProblemSpec(409),
    # the database driver and pool: the database is down, restarting or unreachable
    sa_exc.OperationalError: _OUTAGE,
    sa_exc.InterfaceError: _OUTAGE,
    sa_exc.DisconnectionError: _OUTAGE,
    sa_exc.TimeoutError: _OUTAGE,
    psycopg.OperationalError: _OUTAGE,
    psycopg.InterfaceError: _OUTAGE,
    # a value the database refuses (out of range, NUL...): what the client sent
    sa_exc.DataError: ProblemSpec(400, detail=lambda e: "a value of the request cannot be "
                                                        "handled (out of range or invalid)"),
    psycopg.DataError: ProblemSpec(400, detail=lambda e: "a value of the request cannot be "
                                                         "handled (out of range or invalid)"),
    # webmap
    BadParameter: ProblemSpec(
        400, "Bad query parameter",
        members=lambda e: {"invalid_params": [{"name": e.name, "reason": str(e)}]}),  # type: ignore[attr-defined]
    # ingestion: refusals of a submission before its fields are validated
    RequestRefused: _refused(400),
    MalformedBody: ProblemSpec(400, "Malformed body", detail=lambda e: e.detail,  # type: ignore[attr-defined]
                               members=lambda e: {"submission_id": e.submission_id}),  # type: ignore[attr-defined]
    IdempotencyMismatch: ProblemSpec(422, "Idempotency-Key reused",
                                     detail=lambda e: e.detail),  # type: ignore[attr-defined]
    PayloadTooLarge: _refused(413),
    UnsupportedMediaType: _refused(415),
    RateLimited: ProblemSpec(429, detail=lambda e: e.detail,  # type: ignore[attr-defined]
                             headers=lambda e: {"Retry-After": str(e.retry_after)}),  # type: ignore[attr-defined]
    # moderation (its pages answer these in HTML through their own handlers)
    InvalidInput: ProblemSpec(
        400, detail=lambda e: "; ".join(f"{k}: {v}" for k, v in e.errors.items()),  # type: ignore[attr-defined]
        members=lambda e: {"errors": e.errors}),  # type: ignore[attr-defined]
    ModerationNotFound: ProblemSpec(404),
    # community (issue 20): residents, messages
    CommunityError: ProblemSpec(400, detail=lambda e: e.detail),  # type: ignore[attr-defined]
    InvalidCommunityInput: ProblemSpec(
        400, detail=lambda e: e.detail,  # type: ignore[attr-defined]
        members=lambda e: {"invalid_params": [{"name": k, "reason": v}  # type: ignore[attr-defined]
                                              for k, v in e.errors.items()]}),
    NotAllowed: ProblemSpec(403, detail=lambda e: e.detail),  # type: ignore[attr-defined]
    Blocked: ProblemSpec(403, detail=lambda e: e.detail),  # type: ignore[attr-defined]
    CommunityNotFound: ProblemSpec(404, detail=lambda e: e.detail),  # type: ignore[attr-defined]
    MagicLinkInvalid: ProblemSpec(400, detail=lambda e: e.detail),  # type: ignore[attr-defined]
    TooManyRequests: ProblemSpec(429, detail=lambda e: e.detail,  # type: ignore[attr-defined]
                                 headers=lambda e: {"Retry-After": str(e.retry_after)}),  # type: ignore[attr-defined]
    SpamRefused: ProblemSpec(422, "Message refused as spam",
                             detail=lambda e: e.detail,  # type: ignore[attr-defined]
                             members=lambda e: {"reasons": e.reasons}),  # type: ignore[attr-defined]
    # community (issue 20): sign-ups to missions and events
    ItemClosed: ProblemSpec(409, "Full or closed", detail=lambda e: e.detail),  # type: ignore[attr-defined]
}
"""Domain error -> how it is answered. Anything not here (nor an HTTPException) is a
bug: logged with its traceback and answered 500 without detail."""


def problem(status: int, title: str | None = None, *, detail: str | None = None,
            headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """An ``application/problem+json`` response (RFC 9457)."""
    response = Response(problem_body(status, title or HTTP_STATUS_CODES.get(status, "Error"),
                                     detail=detail, **extra),
                        status=status, mimetype=PROBLEM_JSON)
    if headers:
        response.headers.update(headers)
    return response


def _spec_for(exc: Exception) -> ProblemSpec | None:
    for cls in type(exc).__mro__:
        spec = STATUS_CODES.get(cls)  # type: ignore[arg-type]
        if spec is not None:
            return spec
    return None


def problem_for(exc: Exception) -> Response:
    """The answer to a domain error, from :data:`STATUS_CODES` (500 when unknown)."""
    spec = _spec_for(exc)
    if spec is None:
        return problem(500, "Internal Server Error",
                       detail="Something went wrong on our side; it has been logged.")
    if spec.detail is not None:
        detail = spec.detail(exc)
    else:
        detail = str(exc) if spec.status < 500 else None
    members = dict(spec.members(exc)) if spec.members else {}
    return problem(spec.status, spec.title, detail=detail,
                   headers=spec.headers(exc) if spec.headers else None, **members)


def wants_html() -> bool:
    """Whether this request is a browser's on an HTML page (not an API or a program)."""
    accept = request.accept_mimetypes
    return (accept.accept_html and not accept.accept_json
            and not request.path.startswith(("/api/", "/ogc/")))


def _as_html(response: Response) -> Response:
    """Werkzeug's HTML error page for the same status, headers and detail."""
    status = response.status_code
    exc_type = default_exceptions.get(status)
    if exc_type is None:
        return response
    body = response.get_json(silent=True) or {}
    html = exc_type(description=body.get("detail")).get_response()
    for key in ("Retry-After", "Allow"):
        if key in response.headers:
            html.headers[key] = response.headers[key]
    return html


def _domain_error(exc: Exception) -> Response:
    spec = _spec_for(exc)
    if spec is not None and spec.status >= 500:
        log.warning("%s on %s %s: %s", type(exc).__name__, request.method, request.path, exc)
    response = problem_for(exc)
    return _as_html(response) if wants_html() else response


def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    if code >= 500 and isinstance(exc, InternalServerError):
        return _internal(exc)
    response = problem(code, exc.name, detail=exc.description)
    for key, value in exc.get_headers():
        if key.lower() in ("allow", "retry-after"):
            response.headers[key] = value
    return exc.get_response() if wants_html() else response


def _internal(exc: InternalServerError) -> Response:
    original = exc.original_exception
    if original is not None and _spec_for(original) is not None:  # type: ignore[arg-type]
        return _domain_error(original)  # type: ignore[arg-type]
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
    response = problem(500, "Internal Server Error",
                       detail="Something went wrong on our side; it has been logged.")
    return exc.get_response() if wants_html() else response


def add_exception_handlers(app: Flask) -> None:
    """Answer every error of :data:`STATUS_CODES` and every HTTP error, in one place."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _internal)
    for exc_type in STATUS_CODES:
        app.register_error_handler(exc_type, _domain_error)


# --- request helpers -------------------------------------------------------------------

def json_response(body: Any, status: int = 200, *, mimetype: str = "application/json",
                  headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer (UTF-8 as is, not escaped to ASCII)."""
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype=mimetype)
    if headers:
        response.headers.update(headers)
    return response


def client_key() -> str:
    """The requesting client's key, computed once per request.

    A keyed hash of the client address (see :mod:`geo.clients`): ``X-Forwarded-For``
    is believed only when the peer is one of ``TRUSTED_PROXIES``.
    """
    if "client_key" not in g:
        g.client_key = request_key(
            request.remote_addr, request.headers.get("X-Forwarded-For"),
            proxies=current_app.config.get("TRUSTED_PROXIES_PARSED") or [],
            secret=current_app.config["SECRET_KEY"])
    return g.client_key  # type: ignore[no-any-return]


def engine() -> Engine:
    """The application's database engine."""
    return get_engine(current_app.config["DATABASE_URL"])


@contextmanager
def db_session() -> Iterator[Session]:
    """The request's database session (one per request, closed at teardown)."""
    if "web_db" not in g:
        g.web_db = Session(engine())
    yield g.web_db


def close_db_session(_exc: BaseException | None = None) -> None:
    """Close the request's session (registered as a teardown by the app factory)."""
    session = g.pop("web_db", None)
    if session is not None:
        session.close()
