"""The published schema of a feature: its public fields, defined once.

OGC API items, ``/api/v1/features``, the GeoJSON, CSV, GeoPackage and FlatGeobuf
exports all derive their properties from :func:`public_fields`, so a field added,
renamed or withheld here changes every output together, and a field that is not here
never leaves the database (no query reads ``email``, ``client_key`` or moderators'
notes; :data:`PRIVATE_ATTRIBUTE_KEYS` are dropped from ``attributes`` even if a form
ever stored them).

Each field carries the SQL that reads it from a published row: ``p`` is the feature,
and each area level has its own alias (:func:`area_alias`: ``a1``, ``a2``...), joined
by :func:`area_joins`. The area fields come from the city's levels: a level's
``public_name`` holds the area's code and ``<public_name>_name`` its name, so Paris
keeps ``arrondissement``, ``arrondissement_name``, ``quartier``, ``quartier_name``
(what open-data consumers read since the first export) while another city shows its
own level's name and nothing of Paris's.

The feature row holds its areas in ``area_ids``, positional by depth (migration
``0016_area_refs``): a city may have one level, two or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .city import AreaLevel

__all__ = [
    "PHOTOS_SQL",
    "PRIVATE_ATTRIBUTE_KEYS",
    "PRIVATE_KEYS_SQL",
    "PublicField",
    "area_alias",
    "area_joins",
    "feature_json_sql",
    "public_fields",
    "public_names",
]

Kind = Literal["integer", "text", "datetime", "json"]

PRIVATE_ATTRIBUTE_KEYS = ("email", "contact_email", "phone", "telephone", "client_key",
                          "tracking_token", "tracking_url", "ip", "moderator_note", "notes")
"""Attribute keys dropped from every public output even if a form ever stored them."""

PRIVATE_KEYS_SQL = "ARRAY[" + ", ".join(f"'{k}'" for k in PRIVATE_ATTRIBUTE_KEYS) + "]::text[]"
"""The same keys as a SQL ``text[]``, for ``attributes - PRIVATE_KEYS_SQL``."""


def area_alias(depth: int) -> str:
    """The SQL alias of the area row of level ``depth`` (1: the first): ``a1``, ``a2``..."""
    return f"a{int(depth)}"


@dataclass(frozen=True)
class PublicField:
    """One public property of a published feature.

    ``sql`` reads it from the row aliases (``p`` and :func:`area_alias`); ``kind``
    tells each format how to write it (an integer, text, a UTC date-time, JSON).
    """

    name: str
    kind: Kind
    sql: str
    description: str


_BEFORE_AREAS = (
    PublicField("id", "integer", "p.id", "stable identifier of the feature"),
    PublicField("category", "text", "p.category", "category slug (see /api/v1/categories)"),
    PublicField("title", "text", "p.title", "title as published"),
    PublicField("description", "text", "p.description", "description as published"),
    PublicField("starts_at", "datetime", "p.starts_at", "start of a dated feature (UTC)"),
    PublicField("ends_at", "datetime", "p.ends_at", "end of a dated feature (UTC)"),
    PublicField("attributes", "json", f"(p.attributes - {PRIVATE_KEYS_SQL})",
                "the category's fields (private keys removed)"),
)
PHOTOS_SQL = """coalesce((
      SELECT json_agg(json_build_object(
               'url', '/photos/' || ph.display_key,
               'thumbnail_url', '/photos/' || ph.thumb_key,
               'width', ph.width, 'height', ph.height,
               'licence', ph.licence, 'author', nullif(btrim(ph.author), ''),
               'alt', coalesce(nullif(btrim(ph.alt), ''), 'Photo ' || ph.n || ' — ' || p.title))
             ORDER BY ph.n)
      FROM (SELECT x.display_key, x.thumb_key, x.width, x.height, x.licence, x.author, x.alt,
                   row_number() OVER (ORDER BY x.position NULLS LAST, x.id) AS n
            FROM photo x WHERE x.feature_id = p.id AND x.status = 'ready') ph),
      '[]'::json)"""
"""The public photos of the feature ``p`` (issue 19), as a JSON array, ``[]`` when none.

Only ``ready`` photos linked to the feature: a photo a moderator hid or removed, or one
still pending, refused or in quarantine, is in no output. The caller's row is already a
published feature (every output filters on that). Each photo is ``url`` and
``thumbnail_url`` (our metadata-free re-encodings, content-addressed, relative to the
site's root), ``width`` and ``height`` (of the display size), ``licence``
(``CC-BY-SA-4.0`` or ``CC0-1.0``, as chosen at upload), ``author`` (the name to credit,
or null) and ``alt``: the resident's description, or "Photo <n> — <title>". Ordered as
the resident sent them. The rows behind it are read by ``photo_feature_idx``.
"""

_AFTER_AREAS = (
    PublicField("source", "text", "p.source", "where the feature came from"),
    PublicField("attribution", "text", "p.attribution", "the source's attribution, if any"),
    PublicField("published_at", "datetime", "p.published_at", "first publication (UTC)"),
    PublicField("updated_at", "datetime", "p.updated_at", "last change (UTC)"),
    # Last, so that the columns open-data consumers read since the first export keep
    # their places.
    PublicField("photos", "json", PHOTOS_SQL,
                "residents' photos: list of {url, thumbnail_url, width, height, licence, "
                "author, alt} (URLs relative to the site; [] when none)"),
)


def public_fields(levels: Sequence[AreaLevel]) -> tuple[PublicField, ...]:
    """The public fields of a feature of a city with these area ``levels``, in order.

    Paris: ``id, category, title, description, starts_at, ends_at, attributes,
    arrondissement, arrondissement_name, quartier, quartier_name, source, attribution,
    published_at, updated_at, photos``.
    """
    areas: list[PublicField] = []
    for depth, level in enumerate(levels, start=1):
        name, alias = level.public_name or level.slug, area_alias(depth)
        areas.append(PublicField(name, "text", f"{alias}.code",
                                 f"code of the feature's {level.names.get('en', name)}"))
        areas.append(PublicField(f"{name}_name", "text", f"{alias}.name",
                                 f"name of the feature's {level.names.get('en', name)}"))
    return (*_BEFORE_AREAS, *areas, *_AFTER_AREAS)


def public_names(levels: Sequence[AreaLevel]) -> tuple[str, ...]:
    """The names of :func:`public_fields`, in order."""
    return tuple(f.name for f in public_fields(levels))


def area_joins(levels: Sequence[AreaLevel], row: str = "p") -> str:
    """The ``LEFT JOIN``s that give each level's area row its alias, for ``row``.

    ``row.area_ids[d]`` is the id of the row's area of level ``d`` (``0016_area_refs``).
    """
    return "\n".join(
        f"LEFT JOIN area {area_alias(d)} ON {area_alias(d)}.id = {row}.area_ids[{d}]"
        for d in range(1, len(levels) + 1))


def _iso(column: str) -> str:
    return (f"to_char({column} AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")


def feature_json_sql(levels: Sequence[AreaLevel]) -> str:
    """SQL expression of one public GeoJSON feature (RFC 7946) for a row ``p``.

    Its properties are :func:`public_fields` of the city's ``levels`` (date-times in
    UTC, ``Z``); the row needs the feature's columns and the area rows of
    :func:`area_joins`. PostgreSQL writes the JSON: Python never holds a row.
    """
    props = ",\n        ".join(
        f"'{f.name}', {_iso(f.sql) if f.kind == 'datetime' else f.sql}"
        for f in public_fields(levels))
    return f"""json_build_object(
      'type', 'Feature', 'id', p.id,
      'geometry', ST_AsGeoJSON(p.geom, 7)::json,
      'properties', json_build_object(
        {props}))::text"""
