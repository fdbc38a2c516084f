"""Checking what a moderator typed (edit before approval, feature edits): pure functions.

Every bad field is named in the :class:`~moderation.errors.InvalidInput` raised, so the
form can be shown again with each message next to its field.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidInput

__all__ = ["FIELDS", "parse_datetime", "parse_edits"]

FIELDS = ("title", "description", "category", "lon", "lat", "starts_at", "ends_at")
MAX_TITLE = 120
MAX_DESCRIPTION = 2000


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 date-time; without a zone it is taken as UTC.

    >>> parse_datetime("2026-06-21T18:00:00+02:00").isoformat()
    '2026-06-21T18:00:00+02:00'
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(values: Mapping[str, str], key: str, low: float, high: float,
            errors: dict[str, str]) -> float | None:
    raw = (values.get(key) or "").strip().replace(",", ".")
    try:
        number = float(raw)
    except ValueError:
        errors[key] = "un nombre décimal est attendu / a decimal number is expected"
        return None
    if not math.isfinite(number) or not low <= number <= high:
        errors[key] = f"doit être entre {low} et {high} / must be between {low} and {high}"
        return None
    return number


def parse_edits(values: Mapping[str, str], *, categories: Collection[str]) -> dict[str, Any]:
    """Typed, checked values of an edit form (keys of :data:`FIELDS`).

    Parameters
    ----------
    values
        The form as strings (``request.form``); ``lon``/``lat`` accept a decimal comma.
    categories
        The slugs a feature may have.

    Raises
    ------
    InvalidInput
        Naming each field that is wrong.
    """
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    title = " ".join((values.get("title") or "").split())
    if not title:
        errors["title"] = "le titre est obligatoire / a title is required"
    elif len(title) > MAX_TITLE:
        errors["title"] = f"{MAX_TITLE} caractères au plus / at most {MAX_TITLE} characters"
    out["title"] = title
    description = (values.get("description") or "").strip().replace("\r\n", "\n")
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = (f"{MAX_DESCRIPTION} caractères au plus / "
                                 f"at most {MAX_DESCRIPTION} characters")
    out["description"] = description
    category = (values.get("category") or "").strip()
    if category not in categories:
        errors["category"] = "catégorie inconnue / unknown category"
    out["category"] = category
    out["lon"] = _number(values, "lon", -180.0, 180.0, errors)
    out["lat"] = _number(values, "lat", -90.0, 90.0, errors)
    for key in ("starts_at", "ends_at"):
        raw = (values.get(key) or "").strip()
        out[key] = None
        if raw:
            try:
                out[key] = parse_datetime(raw)
            except ValueError:
                errors[key] = ("date ISO 8601 attendue, ex. 2026-06-21T18:00 / "
                               "an ISO 8601 date-time is expected")
    if out["starts_at"] and out["ends_at"] and out["ends_at"] < out["starts_at"]:
        errors["ends_at"] = "la fin précède le début / ends before it starts"
    if errors:
        raise InvalidInput(errors)
    return out
