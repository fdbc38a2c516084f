"""The public change feed: every publication, change and removal, from ``feature_version``.

Each version of a feature is one entry, typed from its status and the previous one
(its properties: every public field of :mod:`geo.published`, area and attribution
included, as the exports have them):
``created`` (first published, or back on the map), ``changed`` (published again with new
values; ``reason`` ``photo_removed`` or ``photo_added`` when a moderator took one photo
down or put it back, its ``photos`` then being the list as it is now) or ``removed``
(hidden, unpublished or merged). Only public fields are listed —
never who decided, the contributor, notes or client keys — and the content of a feature
that is off the map now is not served again, even in its older entries. Entries are ordered by
``(changed_at, feature_id, version)`` and paged with an opaque cursor.

A transaction's ``now()`` is its start time, so a slow transaction can commit an entry
older than one already served; entries younger than ``settle`` seconds are held back so
that a consumer polling with the ``next`` link never misses one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from geo.city import AreaLevel, load_city
from geo.published import area_joins, public_fields

from .charter import REASONS
from .edits import parse_datetime
from .errors import InvalidInput

__all__ = [
    "ChangePage",
    "Cursor",
    "decode_cursor",
    "encode_cursor",
    "list_changes",
    "parse_since",
]

DEFAULT_LIMIT = 100
PHOTO_CHANGES = ("photo_removed", "photo_added")
"""Reason codes of a ``changed`` entry made by one photo's moderation (moderation.photos):
its ``photos`` lost one (hidden or removed: drop your copy) or got one back."""
MAX_LIMIT = 1000


class Cursor(NamedTuple):
    """Where a page ended: the last entry's ordering key."""

    at: datetime
    feature_id: int
    version: int


class ChangePage(NamedTuple):
    """One page of the feed, where the next one starts, and whether it is already due."""

    changes: list[dict[str, Any]]
    next: Cursor
    more: bool   # False: caught up; poll ``next`` again later


def encode_cursor(cursor: Cursor) -> str:
    """An opaque, URL-safe cursor."""
    raw = json.dumps([cursor.at.isoformat(), cursor.feature_id, cursor.version])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> Cursor:
    """The cursor :func:`encode_cursor` made; :class:`InvalidInput` naming ``cursor``."""
    try:
        padded = value + "=" * (-len(value) % 4)
        at, fid, version = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return Cursor(parse_datetime(at), int(fid), int(version))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput({"cursor": "not a cursor this feed gave"}) from exc


def parse_since(value: str) -> datetime:
    """An ISO 8601 instant (UTC when no zone); :class:`InvalidInput` naming ``since``."""
    try:
        parsed = parse_datetime(value)
    except ValueError as exc:
        raise InvalidInput({"since": "an ISO 8601 date-time is expected, e.g. "
                                     "2026-11-27T10:00:00Z"}) from exc
    return parsed


def _query(levels: Sequence[AreaLevel], public_url: str | None = None) -> TextClause:
    """The feed's query; its ``pub_*`` columns are the public fields of the version.

    The fields come from :func:`geo.published.public_fields` (as every other public
    output's), read from a row ``p`` that is the version's own values with the feature's
    area, source, attribution and first publication: a consumer can apply an entry
    without fetching the feature.
    """
    cols = ",\n           ".join(f"{f.sql} AS pub_{f.name}"
                                   for f in public_fields(levels, public_url))
    return text(f"""
    SELECT v.feature_id, v.version, v.status::text AS status, v.changed_at,
           ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat,
           pv.status::text AS previous_status, e.action::text AS action, e.reason,
           (e.after ->> 'merged_into') AS merged_into, f.status::text AS current_status,
           {cols}
    FROM feature_version v
    JOIN feature f ON f.id = v.feature_id
    CROSS JOIN LATERAL (
      SELECT v.feature_id AS id, v.category, v.title, v.description, v.starts_at,
             v.ends_at, v.attributes, f.area_ids, f.source,
             f.attribution, f.published_at, v.changed_at AS updated_at) p
    {area_joins(levels)}
    LEFT JOIN feature_version pv ON pv.feature_id = v.feature_id AND pv.version = v.version - 1
    LEFT JOIN moderation_event e ON e.id = v.event_id
    WHERE v.changed_at >= :at  -- an index range; the row comparison breaks the ties
      AND (v.changed_at, v.feature_id, v.version) > (:at, :fid, :ver)
      AND v.changed_at <= now() - make_interval(secs => :settle)
    ORDER BY v.changed_at, v.feature_id, v.version
    LIMIT :lim
    """)  # noqa: S608 - constant fragments from geo.published only


def _entry(row: Any) -> dict[str, Any]:
    if row.status != "published":
        kind = "removed"
    elif row.previous_status in (None, "hidden", "unpublished"):
        kind = "created"
    else:
        kind = "changed"
    entry: dict[str, Any] = {"id": row.feature_id, "version": row.version, "type": kind,
                             "at": row.changed_at.astimezone(UTC).isoformat()}
    if kind == "removed":
        entry["status"] = row.status
        code = (row.reason or "").split(":", 1)[0]
        if code in REASONS or code == "removed-at-source":  # ingestion.sync retired it
            entry["reason"] = code
        if row.merged_into:
            entry["merged_into"] = int(row.merged_into)
        return entry
    if row.current_status != "published":
        # Taken down since: its old content is not served again, only that it existed.
        entry["withdrawn"] = True
        return entry
    code = (row.reason or "").split(":", 1)[0]
    if code in PHOTO_CHANGES:  # a moderator hid/removed or restored one photo
        entry["reason"] = code
    props = {k.removeprefix("pub_"): v for k, v in row._mapping.items()
             if k.startswith("pub_") and k != "pub_id"}
    entry["feature"] = {
        "type": "Feature", "id": row.feature_id,
        "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
        "properties": {k: v.isoformat() if isinstance(v, datetime) else v
                       for k, v in props.items()},
    }
    return entry


def list_changes(session: Session, *, since: datetime | None = None,
                 cursor: Cursor | None = None, limit: int = DEFAULT_LIMIT,
                 settle: float = 0.0, levels: Sequence[AreaLevel] | None = None,
                 public_url: str | None = None) -> ChangePage:
    """Entries after ``cursor`` (or at/after ``since``), oldest first.

    Parameters
    ----------
    settle
        Seconds an entry must be old to be listed (see the module docstring).
    levels
        The city's area levels (default: the configured city's).
    public_url
        The root of the photos' URLs (default: ``CARTE_PUBLIC_URL``).
    """
    if levels is None:
        levels = load_city(check_files=False).levels
    if cursor is None:
        start = since or datetime(1970, 1, 1, tzinfo=UTC)
        # (at, 0, 0) sorts before every real entry at ``since``: they are included.
        cursor = Cursor(start, 0, 0)
    limit = max(1, min(limit, MAX_LIMIT))
    rows = session.execute(_query(levels, public_url), {"at": cursor.at, "fid": cursor.feature_id,
                                    "ver": cursor.version, "settle": settle,
                                    "lim": limit + 1}).all()
    more = len(rows) > limit
    rows = rows[:limit]
    changes = [_entry(r) for r in rows]
    if rows:
        last = rows[-1]
        cursor = Cursor(last.changed_at, last.feature_id, last.version)
    return ChangePage(changes, cursor, more)
