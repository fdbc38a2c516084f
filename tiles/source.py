"""Reading published features out of PostGIS, fast enough for a million of them.

Two statements in one REPEATABLE READ snapshot: a binary ``COPY`` of the fixed-width
columns (id, lon, lat, category index), read straight into a numpy structured array,
and one ``string_agg`` of the short titles in the same order. No Python object is made
per row: a million points load in about a second.

Only what is live at the build's instant is read: a published event that is over
(:mod:`geo.events`) is not on the map, so a full build simply leaves it out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from geo.events import city_zone, live_sql, local_midnight

from .options import TileOptions
from .points import PointSet

__all__ = ["live_params", "load_categories", "load_points", "read_points"]

_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("lon", ">f8"),
                 ("l3", ">i4"), ("lat", ">f8"), ("l4", ">i4"), ("cat", ">i4")])
_HEADER = 19  # PGCOPY signature (11) + flags (4) + extension length (4)

_WHERE = "f.status = 'published'"
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def load_categories(engine: Engine) -> list[str]:
    """Category slugs in display order: the index space of the tiles' ``category``."""
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT slug FROM category ORDER BY position, slug")).scalars())


def _category_case(categories: Sequence[str]) -> str:
    """``CASE`` from slug to index: 2x faster than joining ``category`` for a million rows.

    Slugs are safe literals: the database's CHECK allows only ``[a-z0-9-]``.
    """
    if not categories:
        return "0"
    for slug in categories:
        if not _SLUG.fullmatch(slug):
            raise ValueError(f"unexpected category slug {slug!r}")
    whens = " ".join(f"WHEN '{slug}' THEN {i}" for i, slug in enumerate(categories))
    return f"CASE f.category {whens} ELSE 0 END"


def _copy_sql(categories: Sequence[str], bbox: Sequence[float] | None,
              extra: str = "") -> tuple[str, str]:
    where = f"{_WHERE} AND {live_sql('f', since='%s', since_day='%s')}{extra}"
    if bbox is not None:
        w, s, e, n = (float(v) for v in bbox)
        where += f" AND f.geom && ST_MakeEnvelope({w!r}, {s!r}, {e!r}, {n!r}, 4326)"
    # Only floats formatted by repr(), checked slugs and constant fragments are
    # interpolated; instants are parameters.
    sql = (f"SELECT f.id, ST_X(f.geom), ST_Y(f.geom), ({_category_case(categories)})::int4 "  # noqa: S608
           f"FROM feature f WHERE {where} ORDER BY f.id")
    return sql, where


def live_params(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The instant a build shows and its local midnight (the parameters of ``live_sql``)."""
    now = now or datetime.now(UTC)
    return now, local_midnight(now, city_zone())


def load_points(engine: Engine, options: TileOptions, *,
                bbox: Sequence[float] | None = None, now: datetime | None = None) -> PointSet:
    """Live published features (optionally only inside ``bbox``) as a :class:`PointSet`."""
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    try:
        dbapi.autocommit = True
        dbapi.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            return read_points(dbapi, options, bbox=bbox, now=now)
        finally:
            dbapi.execute("COMMIT")
    finally:
        dbapi.autocommit = False
        raw.close()


def read_points(dbapi: Any, options: TileOptions, *, bbox: Sequence[float] | None = None,
                changed_since: Any = None, now: datetime | None = None) -> PointSet:
    """Read points on an open psycopg connection, inside the caller's transaction.

    ``changed_since`` (a timestamp) reads only the published features updated since
    then (the caller first removes every feature updated since then). ``now`` is the
    instant whose live features are read (default: the current time).
    """
    categories = [r[0] for r in dbapi.execute(
        "SELECT slug FROM category ORDER BY position, slug").fetchall()]
    params: tuple[Any, ...] = live_params(now)
    extra = ""
    if changed_since is not None:
        extra = " AND f.updated_at >= %s"
        params = (*params, changed_since)
    select, where = _copy_sql(categories, bbox, extra)
    cur = dbapi.cursor()
    buf = bytearray()
    with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT binary)", params) as copy:
        for chunk in copy:
            buf += chunk
    n = (len(buf) - _HEADER - 2) // _ROW.itemsize
    row = cur.execute(text_sql_titles(where, options.title_chars), params).fetchone()
    blob = (row[0] or "").encode() if row else b""
    if n and blob.count(b"\n") != n - 1:
        row = cur.execute(text_sql_titles(where, options.title_chars, fold=True),
                          params).fetchone()
        blob = (row[0] or "").encode()
    body = memoryview(buf)[_HEADER:len(buf) - 2]
    rows = np.frombuffer(body, dtype=_ROW)
    return PointSet.from_arrays(
        ids=rows["id"].astype(np.int64), lon=rows["lon"].astype(np.float64),
        lat=rows["lat"].astype(np.float64), cat=rows["cat"].astype(np.int16), titles=blob,
        categories=categories, max_zoom=options.max_zoom, title_chars=options.title_chars)


def text_sql_titles(where: str, chars: int, *, fold: bool = False) -> str:
    """One string of every title in id order (the index scan keeps the order).

    ``fold`` replaces line breaks inside titles, which would shift every later title;
    it costs 2x, so it is only used when the count of lines shows it is needed.
    """
    title = "translate(f.title, E'\\n\\r', '  ')" if fold else "f.title"
    # ``where`` is built by _copy_sql from floats only.
    sql = ("SELECT string_agg(t, E'\\n') FROM (SELECT "  # noqa: S608
           f"left({title}, {int(chars)}) AS t FROM feature f WHERE {where} ORDER BY f.id) s")
    return sql
