"""Corrections and closures residents propose for a published feature.

``POST /api/v1/features/{id}/corrections`` goes through the same steps as a
submission: the raw body is committed first (``status = 'received'``), within the same
size, depth and rate limits; then it is validated against the feature's category with
the rules of :mod:`ingestion.validation` and kept ``pending`` (only the fields whose
value differs from the current version, as a diff) or ``invalid`` with its errors.
Nothing here touches the feature: a moderator approves (a new version) or refuses
(with a reason the resident reads on the tracking page), see ``moderation.corrections``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from .categories import CategorySpec
from .errors import RateLimited
from .hours import parse_hours
from .intake import hash_token, parse_strict_json
from .text import clean_text
from .types import FieldError
from .validation import check_characters, check_email, validate_submission

__all__ = ["CORRECTABLE", "CorrectionOutcome", "receive_correction", "validate_correction"]

CORRECTABLE = ("title", "description", "starts_at", "ends_at")
COMMENT_MAX = 2000
KEYS = frozenset({"changes", "closed", "comment", "email", "photo_ids"})  # photo_ids: api.py


class CorrectionOutcome(NamedTuple):
    """What happened to one proposal."""

    id: int
    status: str
    errors: list[dict[str, Any]]
    tracking_token: str | None


def _current(conn: Connection, feature_id: int) -> Mapping[str, Any] | None:
    return conn.execute(text(
        "SELECT id, version, category, title, description, starts_at, ends_at, attributes, "
        "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM feature "
        "WHERE id = :i AND status = 'published'"), {"i": feature_id}).mappings().one_or_none()


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def validate_correction(data: Any, feature: Mapping[str, Any], category: CategorySpec,
                        *, now: datetime, with_photos: bool = False
                        ) -> tuple[dict[str, Any], list[FieldError]]:
    """The proposal normalised (``changes`` as a diff, ``closed``, ``comment``, ``email``).

    The changed fields are checked by validating the whole feature with them applied,
    with the rules a new submission meets; an error on a field the resident did not
    change is not theirs and is left out.
    """
    if not isinstance(data, dict):
        return {}, [FieldError("", "type", "the proposal must be a JSON object")]
    errors = check_characters(data)
    if errors:
        return {}, errors
    for key in sorted(set(data) - KEYS, key=str)[:10]:
        errors.append(FieldError(f"/{key}", "unknown", f"unknown field {key!r}"))
    changes = data.get("changes") or {}
    closed = data.get("closed", False)
    if not isinstance(changes, dict):
        errors.append(FieldError("/changes", "type", "changes must be an object"))
        changes = {}
    if not isinstance(closed, bool):
        errors.append(FieldError("/closed", "type", "closed must be true or false"))
        closed = False
    comment = data.get("comment") or ""
    if not isinstance(comment, str):
        errors.append(FieldError("/comment", "type", "comment must be a string"))
        comment = ""
    comment = clean_text(comment, multiline=True)
    if len(comment) > COMMENT_MAX:
        errors.append(FieldError("/comment", "too_long", f"at most {COMMENT_MAX} characters",
                                 {"max": COMMENT_MAX, "n": len(comment)}))
    email, err = check_email(data.get("email"))
    if err:
        errors.append(err)
    attrs = dict(feature["attributes"] or {})
    merged: dict[str, Any] = {
        "category": feature["category"], "lon": feature["lon"], "lat": feature["lat"],
        "title": feature["title"], "description": feature["description"] or None,
        "starts_at": _iso(feature["starts_at"]), "ends_at": _iso(feature["ends_at"])}
    pointer_of: dict[str, str] = {}
    for key, value in changes.items():
        if key in CORRECTABLE:
            merged[key] = value
            pointer_of[f"/{key}"] = f"/changes/{key}"
        elif key in ("audiences", "accessibility", "accessibility_lacks") \
                or category.field(key) is not None:
            spec = category.field(key)
            if spec is not None and spec.type == "availability" and isinstance(value, str) \
                    and value.strip():
                value = parse_hours(value) or value  # "samedi 10:00-12:00", as the form
            if value is None or value == "" or value == []:
                attrs.pop(key, None)
            else:
                attrs[key] = value
            pointer_of[f"/attributes/{key}"] = f"/changes/{key}"
        else:
            errors.append(FieldError(f"/changes/{key}", "unknown",
                                     f"{category.slug} has no field {key!r}"))
    merged["attributes"] = attrs
    result = validate_submission({k: v for k, v in merged.items() if v is not None},
                                 categories={category.slug: category}, area=None, now=now)
    diff: dict[str, Any] = {}
    if isinstance(result, list):
        for e in result:
            for mine, theirs in pointer_of.items():
                if e.pointer == mine or e.pointer.startswith(mine + "/"):
                    errors.append(e._replace(pointer=theirs + e.pointer[len(mine):]))
    else:
        normalised = {"title": result.title, "description": result.description,
                      "starts_at": _iso(result.starts_at), "ends_at": _iso(result.ends_at)}
        current = {"title": feature["title"], "description": feature["description"] or "",
                   "starts_at": _iso(feature["starts_at"]), "ends_at": _iso(feature["ends_at"])}
        for key in changes:
            if key in CORRECTABLE:
                if normalised[key] != current[key]:
                    diff[key] = normalised[key]
            elif result.attributes.get(key) != (feature["attributes"] or {}).get(key):
                diff[key] = result.attributes.get(key)
    if not errors and not diff and not closed and not with_photos:  # photos alone: fine
        errors.append(FieldError("/changes", "required",
                                 "change at least one field, or report the place closed"))
    return {"changes": diff, "closed": closed, "comment": comment or None,
            "email": email}, errors


_RECEIVE = text("""
    INSERT INTO correction (feature_id, raw, content_type, client_key, lang)
    SELECT :fid, :raw, :ctype, :key, :lang
    WHERE (SELECT count(*) FROM correction WHERE client_key = :key
           AND received_at > now() - make_interval(secs => :window)) < :max_hits
    RETURNING id
""")


def receive_correction(conn: Connection, feature_id: int, raw: bytes, *,
                       content_type: str | None, client_key: str, lang: str | None,
                       categories: Mapping[str, CategorySpec], max_depth: int,
                       limit: tuple[int, int], now: datetime | None = None,
                       with_photos: bool = False) -> CorrectionOutcome | None:
    """Keep the body, then validate it; ``None`` when the feature is not published.

    Raises
    ------
    RateLimited
        Too many proposals from this client in the window (nothing is stored).
    RequestRefused (MalformedBody, UnsupportedMediaType)
        The body is kept (``invalid``) and the error re-raised for the 4xx answer.
    """
    feature = _current(conn, feature_id)
    if feature is None or feature["category"] not in categories:
        return None
    hits, window = limit
    cid = conn.execute(_RECEIVE, {"fid": feature_id, "raw": raw, "ctype": content_type,
                                  "key": client_key, "lang": lang, "window": window,
                                  "max_hits": hits}).scalar()
    conn.commit()
    if cid is None:
        raise RateLimited("too many proposals from this client", retry_after=window)
    try:
        data = parse_strict_json(raw, content_type, max_depth=max_depth)
    except Exception as exc:
        detail = getattr(exc, "detail", str(exc))
        conn.execute(text("UPDATE correction SET status = 'invalid', errors = CAST(:e AS jsonb) "
                          "WHERE id = :i"),
                     {"e": json.dumps([{"pointer": "", "code": type(exc).__name__,
                                        "detail": detail}]), "i": cid})
        conn.commit()
        raise
    proposal, errors = validate_correction(data, feature, categories[feature["category"]],
                                           now=now or datetime.now(UTC),
                                           with_photos=with_photos)
    if errors:
        errs = [e.as_json() for e in errors]
        conn.execute(text("UPDATE correction SET status = 'invalid', errors = CAST(:e AS jsonb) "
                          "WHERE id = :i"), {"e": json.dumps(errs, ensure_ascii=False),
                                             "i": cid})
        conn.commit()
        return CorrectionOutcome(cid, "invalid", errs, None)
    token = secrets.token_urlsafe(24)
    conn.execute(text("""
        UPDATE correction SET status = 'pending', base_version = :v,
          changes = CAST(:c AS jsonb), closed = :closed, comment = :comment, email = :email,
          tracking_token_hash = :t
        WHERE id = :i"""), {"v": feature["version"], "c": json.dumps(proposal["changes"],
                                                                     ensure_ascii=False),
                             "closed": proposal["closed"], "comment": proposal["comment"],
                             "email": proposal["email"], "t": hash_token(token), "i": cid})
    conn.commit()
    return CorrectionOutcome(cid, "pending", [], token)
