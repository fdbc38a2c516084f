"""The block check in front of submissions and flags (hooks, so intake stays untouched).

``ingestion`` may not import ``moderation`` (the import rules), so the check is handed
over, not imported: :func:`moderation.init_app` puts :func:`refuse_blocked` (bound to
the app) in ``app.config["CLIENT_GUARD"]``, which the submission API calls once it
knows the client key (``ingestion.api.answer_submission``, also on its fast path), and
installs a ``before_request`` hook for the HTML submission form and the flag endpoint.
A blocked client raises :class:`~moderation.errors.ClientBlocked`, answered by
:func:`blocked_response`: a 403 in the request's language (problem+json on the API).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, Response, current_app, request
from markupsafe import escape
from sqlalchemy.orm import Session
from werkzeug.wrappers import Request

from geo.clients import client_address
from geo.db import get_engine

from .blocks import is_blocked
from .errors import ClientBlocked
from .i18n import lang, t, when
from .web import request_client_key

__all__ = ["GUARDED", "before_request", "blocked_response", "refuse_blocked"]

GUARDED = re.compile(r"^/submit/?$|^/api/v1/features/\d+/flags/?$")


def refuse_blocked(app: Flask, req: Request, client_key: str) -> None:
    """Raise :class:`ClientBlocked` when a live block covers this client (key or range).

    Works without a request context (the submission fast path), hence ``app`` and the
    werkzeug request given explicitly.
    """
    address = client_address(req.remote_addr, req.headers.get("X-Forwarded-For"),
                             proxies=app.config.get("TRUSTED_PROXIES_PARSED") or [])
    with Session(get_engine(app.config["DATABASE_URL"])) as s:
        found = is_blocked(s, client_key, address)
    if found is not None:
        raise ClientBlocked(found.until, found.reason)


def before_request() -> None:
    """The check for the form and the flags, which go through Flask."""
    if request.method == "POST" and GUARDED.match(request.path):
        refuse_blocked(current_app._get_current_object(),  # type: ignore[attr-defined]
                       request, request_client_key())


def blocked_response(exc: ClientBlocked) -> Response:
    """403 in the client's language: problem+json on the API, a short page otherwise."""
    title = t("Envois suspendus")
    detail = t("Les envois depuis votre connexion sont suspendus jusqu'au %(until)s par la "
               "modération. Raison : %(reason)s", until=when(exc.until).striptags(),
               reason=exc.reason)
    if request.path.startswith("/api/"):
        body: dict[str, Any] = {"type": "/problems/client-blocked", "title": title,
                                "status": 403, "detail": detail,
                                "until": exc.until.isoformat()}
        response = Response(json.dumps(body, ensure_ascii=False), status=403,
                            mimetype="application/problem+json")
    else:
        response = Response(
            f'<!doctype html><html lang="{lang()}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
            f"<p>{escape(detail)}</p></main></body></html>", status=403, mimetype="text/html")
    response.headers["Content-Language"] = lang()
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Cache-Control"] = "no-store"
    return response
