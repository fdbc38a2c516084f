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

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .city import AreaLevel

__all__ = [
    "DEFAULT_PUBLIC_URL",
    "PRIVATE_ATTRIBUTE_KEYS",
    "PRIVATE_KEYS_SQL",
    "PublicField",
    "area_alias",
    "area_joins",
    "feature_json_sql",
    "photos_sql",
    "public_fields",
    "public_names",
    "public_root",
    "url_literal",
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
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"
"""The public root when ``CARTE_PUBLIC_URL`` is unset: the same default as the web app's
``PUBLIC_URL`` setting and the mail package's links (a development server)."""

_URL_SAFE = re.compile(r"[A-Za-z0-9/._~-]")


def public_root(environ: Mapping[str, str] | None = None) -> str:
    """The site's public root that photo URLs start with: ``CARTE_PUBLIC_URL``.

    The one place the SQL builders below read it from when their caller passes none
    (the CLI, the worker, the exports); the web app passes its ``PUBLIC_URL`` setting,
    which is read from the same variable. No trailing slash:
    ``https://carte.example`` or ``https://example.org/carte``.
    """
    env = os.environ if environ is None else environ
    return (env.get("CARTE_PUBLIC_URL") or DEFAULT_PUBLIC_URL).strip().rstrip("/")


def url_literal(root: str) -> str:
    r"""``root`` as a PostgreSQL string literal that any driver passes through untouched.

    Every character but ``[A-Za-z0-9/._~-]`` is written as an escape
    (``E'https\x3a//carte.example'``): a colon or a percent sign inside the SQL text
    would otherwise be read as a bind parameter by SQLAlchemy's ``text()`` (``]:5000``)
    or by a DB-API driver, and a quote could end the literal.
    """
    out = []
    for ch in root:
        if _URL_SAFE.fullmatch(ch):
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "E'" + "".join(out) + "'"


def photos_sql(public_url: str | None = None) -> str:
    """The public photos of the feature ``p`` (issue 19), as a JSON array, ``[]`` when none.

    Only ``ready`` photos linked to the feature: a photo a moderator hid or removed, or
    one still pending, refused or in quarantine, is in no output. The caller's row is
    already a published feature (every output filters on that). Each photo is ``url``
    and ``thumbnail_url`` (our metadata-free re-encodings, content-addressed, absolute:
    ``<public_url>/photos/<sha256>.jpg``, so a download, an OGC client or a mirror of
    the change feed can fetch them), ``width`` and ``height`` (of the display size),
    ``licence`` (``CC-BY-SA-4.0`` or ``CC0-1.0``, as chosen at upload), ``author`` (the
    name to credit, or null) and ``alt``: the resident's description, or
    "Photo <n> — <title>". Ordered as the resident sent them. The rows behind it are
    read by ``photo_feature_idx``.

    Parameters
    ----------
    public_url
        The site's public root (default: :func:`public_root`, from
        ``CARTE_PUBLIC_URL``); ``""`` gives URLs relative to the site (``/photos/…``).
        It is a literal of the SQL text, so a cache keyed on the text changes with it.
    """
    root = url_literal((public_root() if public_url is None else public_url)
                       .strip().rstrip("/"))
    return f"""coalesce((
      SELECT json_agg(json_build_object(
               'url', {root} || '/photos/' || ph.display_key,
               'thumbnail_url', {root} || '/photos/' || ph.thumb_key,
               'width', ph.width, 'height', ph.height,
               'licence', ph.licence, 'author', nullif(btrim(ph.author), ''),
               'alt', coalesce(nullif(btrim(ph.alt), ''), 'Photo ' || ph.n || ' — ' || p.title))
             ORDER BY ph.n)
      FROM (SELECT x.display_key, x.thumb_key, x.width, x.height, x.licence, x.author, x.alt,
                   row_number() OVER (ORDER BY x.position NULLS LAST, x.id) AS n
            FROM photo x WHERE x.feature_id = p.id AND x.status = 'ready') ph),
      '[]'::json)"""  # noqa: S608 - the root is an escaped literal (url_literal)


_AFTER_AREAS = (
    PublicField("source", "text", "p.source", "where the feature came from"),
    PublicField("attribution", "text", "p.attribution", "the source's attribution, if any"),
    PublicField("published_at", "datetime", "p.published_at", "first publication (UTC)"),
    PublicField("updated_at", "datetime", "p.updated_at", "last change (UTC)"),
)


def _photos_field(public_url: str | None) -> PublicField:
    # Last, so that the columns open-data consumers read since the first export keep
    # their places.
    return PublicField("photos", "json", photos_sql(public_url),
                       "residents' photos: list of {url, thumbnail_url, width, height, "
                       "licence, author, alt} (absolute URLs; [] when none)")


def public_fields(levels: Sequence[AreaLevel], public_url: str | None = None
                  ) -> tuple[PublicField, ...]:
    """The public fields of a feature of a city with these area ``levels``, in order.

    Paris: ``id, category, title, description, starts_at, ends_at, attributes,
    arrondissement, arrondissement_name, quartier, quartier_name, source, attribution,
    published_at, updated_at, photos``. ``public_url`` is the root of the photos' URLs
    (:func:`photos_sql`; default ``CARTE_PUBLIC_URL``).
    """
    areas: list[PublicField] = []
    for depth, level in enumerate(levels, start=1):
        name, alias = level.public_name or level.slug, area_alias(depth)
        areas.append(PublicField(name, "text", f"{alias}.code",
                                 f"code of the feature's {level.names.get('en', name)}"))
        areas.append(PublicField(f"{name}_name", "text", f"{alias}.name",
                                 f"name of the feature's {level.names.get('en', name)}"))
    return (*_BEFORE_AREAS, *areas, *_AFTER_AREAS, _photos_field(public_url))


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


def feature_json_sql(levels: Sequence[AreaLevel], public_url: str | None = None) -> str:
    """SQL expression of one public GeoJSON feature (RFC 7946) for a row ``p``.

    Its properties are :func:`public_fields` of the city's ``levels`` (date-times in
    UTC, ``Z``; photo URLs under ``public_url``, default ``CARTE_PUBLIC_URL``); the row
    needs the feature's columns and the area rows of :func:`area_joins`. PostgreSQL
    writes the JSON: Python never holds a row.
    """
    props = ",\n        ".join(
        f"'{f.name}', {_iso(f.sql) if f.kind == 'datetime' else f.sql}"
        for f in public_fields(levels, public_url))
    return f"""json_build_object(
      'type', 'Feature', 'id', p.id,
      'geometry', ST_AsGeoJSON(p.geom, 7)::json,
      'properties', json_build_object(
        {props}))::text"""
