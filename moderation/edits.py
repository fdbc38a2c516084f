"""Checking what a moderator typed (edit before approval, feature edits): pure functions.

A moderator's edit is judged by the rules a resident's submission is judged by:
the form is read into the JSON shape of a submission (core fields, and the category's
own fields through :func:`moderation.fields.from_form`) and handed to
:func:`ingestion.validation.validate_submission`. Every refused field is named in the
:class:`~moderation.errors.InvalidInput` raised, under the form input it came from, so
the form is shown again with each message next to its field.

Date-times typed without a zone (the form's ``datetime-local`` inputs) are in the
city's time zone: moderators read and type local times.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from ingestion.categories import CategorySpec
from ingestion.messages import message
from ingestion.validation import validate_submission

from .errors import InvalidInput
from .fields import from_form, input_name

__all__ = ["FIELDS", "error_field", "parse_datetime", "parse_edits"]

FIELDS = ("title", "description", "category", "lon", "lat", "starts_at", "ends_at",
          "attributes")


def parse_datetime(value: str, zone: tzinfo = UTC) -> datetime:
    """An ISO 8601 date-time; without a zone it is taken in ``zone`` (UTC by default).

    >>> parse_datetime("2026-06-21T18:00:00+02:00").isoformat()
    '2026-06-21T18:00:00+02:00'
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _coordinate(raw: Any) -> Any:
    text = str(raw or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text  # validation says "must be a number"


def _when(raw: Any, zone: tzinfo) -> Any:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return parse_datetime(text, zone).isoformat()
    except ValueError:
        return text  # validation says which format it wants


def error_field(pointer: str) -> str:
    """The form input a validation error's JSON pointer designates."""
    parts = pointer.strip("/").split("/")
    if parts[0] == "attributes" and len(parts) > 1:
        return input_name(parts[1].replace("~1", "/").replace("~0", "~"))
    return parts[0] or "form"


def parse_edits(values: Any, *, categories: Mapping[str, CategorySpec],
                now: datetime | None = None, zone: tzinfo = UTC, lang: str = "fr"
                ) -> dict[str, Any]:
    """Typed, checked values of an edit form (keys of :data:`FIELDS`).

    Parameters
    ----------
    values
        The form (``request.form``, or a plain mapping of strings); ``lon``/``lat``
        accept a decimal comma; attribute inputs are named ``a_<field>``.
    categories
        The categories an item may have, by slug.
    now
        The reference time of the date rules (a moderator cannot publish an event
        that ended, any more than a resident can submit one).
    zone
        The time zone of date-times typed without one (the city's).
    lang
        The language of the messages (:func:`ingestion.messages.message`, the very
        sentences a resident reads).

    Raises
    ------
    InvalidInput
        Naming each form input that is wrong.
    """
    slug = str(values.get("category") or "").strip()
    spec = categories.get(slug)
    data = {"category": slug, "title": values.get("title") or "",
            "description": values.get("description") or "",
            "lon": _coordinate(values.get("lon")), "lat": _coordinate(values.get("lat")),
            "starts_at": _when(values.get("starts_at"), zone),
            "ends_at": _when(values.get("ends_at"), zone)}
    if hasattr(values, "getlist"):
        data["attributes"] = from_form(spec, values)
    elif isinstance(values.get("attributes"), Mapping):
        data["attributes"] = dict(values["attributes"])
    result = validate_submission(data, categories=categories, area=None,
                                 now=now or datetime.now(UTC), allow_unknown=True)
    if isinstance(result, list):
        errors: dict[str, str] = {}
        for error in result:
            name = error_field(error.pointer)
            text = message(error.as_json(), spec, lang)
            errors[name] = f"{errors[name]} ; {text}" if name in errors else text
        raise InvalidInput(errors)
    return {"title": result.title, "description": result.description,
            "category": result.category, "lon": result.lon, "lat": result.lat,
            "starts_at": result.starts_at, "ends_at": result.ends_at,
            "attributes": dict(result.attributes)}
