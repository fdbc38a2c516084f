"""The block check in front of submissions and flags (a hook, so intake stays untouched).

``ingestion`` may not import ``moderation`` (the import rules), so the check is an
application ``before_request`` hook that :func:`moderation.init_app` installs: a POST to
the submission API, the HTML submission form or a flag endpoint from a blocked client
is answered 403 in the request's language, before intake reads the body.
"""

from __future__ import annotations

import json
import re

from flask import Response, current_app, request
from sqlalchemy.orm import Session

from geo.clients import client_address

from .blocks import is_blocked
from .i18n import lang, t, when
from .web import engine, request_client_key

__all__ = ["GUARDED", "check_blocked"]

GUARDED = re.compile(r"^/api/v1/submissions/?$|^/submit/?$|^/api/v1/features/\d+/flags/?$")


def check_blocked() -> Response | None:
    """403 for a blocked client's submission or flag; ``None`` otherwise."""
    if request.method != "POST" or not GUARDED.match(request.path):
        return None
    address = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                             proxies=current_app.config.get("TRUSTED_PROXIES_PARSED") or [])
    with Session(engine()) as s:
        found = is_blocked(s, request_client_key(), address)
    if found is None:
        return None
    detail = t("Les envois depuis votre connexion sont suspendus jusqu'au %(until)s par la "
               "modération. Raison : %(reason)s", until=str(when(found.until).striptags()),
               reason=found.reason)
    title = t("Envois suspendus")
    if request.path.startswith("/api/"):
        body = {"type": "/problems/client-blocked", "title": title, "status": 403,
                "detail": detail, "until": found.until.isoformat()}
        response = Response(json.dumps(body, ensure_ascii=False), status=403,
                            mimetype="application/problem+json")
    else:
        from markupsafe import escape

        response = Response(
            f'<!doctype html><html lang="{lang()}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
            f"<p>{escape(detail)}</p></main></body></html>", status=403,
            mimetype="text/html")
    response.headers["Content-Language"] = lang()
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response
