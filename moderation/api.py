"""Public JSON endpoints of moderation: residents' flags and the change feed.

``POST /api/v1/features/<id>/flags`` and ``GET /api/v1/changes``. Errors are
``application/problem+json`` (RFC 9457) naming each bad field in ``errors``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import Session

from geo.problems import PROBLEM_JSON, problem_body

from .changes import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    decode_cursor,
    encode_cursor,
    list_changes,
    parse_since,
)
from .errors import InvalidInput, NotFound
from .flags import DEFAULT_THRESHOLD, FLAGS_PER_HOUR, add_flag, recent_flags
from .web import engine, request_client_key

__all__ = ["bp"]

bp = Blueprint("moderation_api", __name__, url_prefix="/api/v1")
MAX_ID = 2**63 - 1


def _json(body: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=mimetype)


def _problem(status: int, title: str, detail: str | None = None, **extra: Any) -> Response:
    # InvalidInput and NotFound are answered by the app's error table (webmap.web).
    return Response(problem_body(status, title, detail=detail, **extra), status=status,
                    mimetype=PROBLEM_JSON)


@bp.post("/features/<int:feature_id>/flags")
def flag_feature(feature_id: int) -> Response:
    """Flag a published feature: ``{"reason": "..."}``. One flag per client and feature."""
    if not request.is_json:
        return _problem(415, "Unsupported Media Type", "send application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput({"body": "a JSON object with a reason is expected"})
    if feature_id > MAX_ID:
        raise NotFound(f"no published feature {feature_id}")
    client = request_client_key()
    cfg = current_app.config
    with Session(engine()) as s, s.begin():
        if recent_flags(s, client) >= cfg.get("MODERATION_FLAGS_PER_HOUR", FLAGS_PER_HOUR):
            response = _problem(429, "Too Many Requests",
                                "too many flags from this client; try again later")
            response.headers["Retry-After"] = "3600"
            return response
        result = add_flag(s, feature_id, body.get("reason"), client_key=client,
                          threshold=int(cfg.get("MODERATION_FLAG_THRESHOLD",
                                                DEFAULT_THRESHOLD)))
    return _json({"feature_id": feature_id, "flagged": True,
                  "message": "Merci : un modérateur va examiner ce point. / Thank you: a "
                             "moderator will review this item."},
                 201 if result.created else 200)


@bp.get("/changes")
def changes() -> Response:
    """What was published, changed or removed since ``since`` (or after ``cursor``)."""
    args = request.args
    cursor = decode_cursor(args["cursor"]) if args.get("cursor") else None
    since = parse_since(args["since"]) if args.get("since") else None
    try:
        limit = int(args.get("limit", DEFAULT_LIMIT))
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except ValueError as exc:
        raise InvalidInput({"limit": f"an integer from 1 to {MAX_LIMIT}"}) from exc
    settle = float(current_app.config.get("CHANGES_SETTLE_SECONDS", 2.0))
    with Session(engine()) as s:
        page = list_changes(s, since=since, cursor=cursor, limit=limit, settle=settle,
                            public_url=current_app.config.get("PUBLIC_URL"))  # photos' URLs
    query = {"cursor": encode_cursor(page.next)}
    if limit != DEFAULT_LIMIT:
        query["limit"] = str(limit)
    response = _json({"changes": page.changes, "next": "/api/v1/changes?" + urlencode(query),
                      "more": page.more})
    response.headers["Cache-Control"] = "no-cache"
    return response
