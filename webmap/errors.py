"""HTTP errors: one table from domain errors to status codes, answered as RFC 9457.

Views raise domain errors or werkzeug's HTTP exceptions; nothing below a view knows
about status codes. Every error answer under ``/api`` is ``application/problem+json``;
the public message never carries the logged detail (SQL, paths, passwords).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException, InternalServerError

from geo.errors import DatabaseUnavailable

__all__ = ["STATUS_FOR", "WebmapError", "init_app", "problem"]

log = logging.getLogger(__name__)


class WebmapError(Exception):
    """Base for webmap/ errors."""


STATUS_FOR: dict[type[Exception], tuple[int, str]] = {
    DatabaseUnavailable: (503, "The database is unavailable; try again shortly."),
}


def problem(status: int, title: str, *, detail: str | None = None,
            **extra: Any) -> Response:
    """An ``application/problem+json`` response (RFC 9457)."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    mimetype="application/problem+json")


def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    response = problem(code, exc.name, detail=exc.description)
    for key, value in (exc.get_headers() if code == 405 else []):
        if key.lower() == "allow":
            response.headers["Allow"] = value
    if request.accept_mimetypes.accept_html and not request.path.startswith(("/api/", "/ogc/")) \
            and not request.accept_mimetypes.accept_json:
        return exc.get_response()
    return response


def init_app(app: Flask) -> None:
    """Register the error handlers on ``app``."""
    app.register_error_handler(HTTPException, _http_error)
    for exc_type, (status, message) in STATUS_FOR.items():
        def handler(exc: Exception, status: int = status, message: str = message) -> Response:
            log.warning("%s: %s", type(exc).__name__, exc)
            return problem(status, message)
        app.register_error_handler(exc_type, handler)

    @app.errorhandler(InternalServerError)
    def internal(exc: InternalServerError) -> Response:
        log.error("unhandled error on %s %s", request.method, request.path,
                  exc_info=exc.original_exception)
        return problem(500, "Internal Server Error",
                       detail="Something went wrong on our side; it has been logged.")
