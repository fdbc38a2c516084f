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

__all__ = ["live_params", "load_categories", "load_points", "read_filter_index", "read_points"]

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
              extra: str = "", *, live: bool = True) -> tuple[str, str]:
    where = _WHERE + (f" AND {live_sql('f', since='%s', since_day='%s')}" if live else "") \
        + extra
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
                changed_since: Any = None, now: datetime | None = None,
                live: bool = True) -> PointSet:
    """Read points on an open psycopg connection, inside the caller's transaction.

    ``changed_since`` (a timestamp) reads only the published features updated since
    then (the caller first removes every feature updated since then). ``now`` is the
    instant whose live features are read (default: the current time); ``live=False``
    reads every published feature, over or not (the filter index of the filtered tiles,
    which can be asked for the past).
    """
    categories = [r[0] for r in dbapi.execute(
        "SELECT slug FROM category ORDER BY position, slug").fetchall()]
    params: tuple[Any, ...] = live_params(now) if live else ()
    extra = ""
    if changed_since is not None:
        extra = " AND f.updated_at >= %s"
        params = (*params, changed_since)
    select, where = _copy_sql(categories, bbox, extra, live=live)
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


_FILTER_KEYS = "ARRAY['audiences', 'accessibility', 'accessibility_lacks', 'availability', 'hours']"
_SLOTS = ("(CASE WHEN jsonb_typeof(f.attributes -> 'availability') = 'array' "
          "THEN f.attributes -> 'availability' ELSE '[]'::jsonb END || "
          "CASE WHEN jsonb_typeof(f.attributes -> 'hours') = 'array' "
          "THEN f.attributes -> 'hours' ELSE '[]'::jsonb END)")
_ATTRIBUTES_SQL = f"""
    SELECT (f.attributes -> 'audiences')::text, (f.attributes -> 'accessibility')::text,
           (f.attributes -> 'accessibility_lacks')::text, {_SLOTS}::text, array_agg(f.id)
    FROM feature f
    WHERE f.status = 'published' AND f.attributes ?| {_FILTER_KEYS} {{extra}}
    GROUP BY 1, 2, 3, 4
"""  # noqa: S608 (constants)
_DATES_SQL = """
    SELECT f.id, (extract(epoch FROM f.starts_at) * 1000000)::int8,
           (extract(epoch FROM f.ends_at) * 1000000)::int8
    FROM feature f
    WHERE f.status = 'published' AND (f.starts_at IS NOT NULL OR f.ends_at IS NOT NULL) {extra}
"""
_DAY_INDEX = {d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}


def _minutes(value: Any) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"\d\d:\d\d", value):
        return -1
    return int(value[:2]) * 60 + int(value[3:])


def read_filter_index(dbapi: Any, options: TileOptions, *, changed_since: Any = None,
                      vocabs: tuple[Any, Any] | None = None) -> Any:
    """Every published point and what the filters read, as a :class:`FilterIndex`.

    Inside the caller's (repeatable read) transaction: the points by binary COPY, then
    the few rows with filter attributes or dates (JSON parsed once per distinct value:
    most features share a handful of them). ``changed_since`` reads only the features
    updated since then; ``vocabs`` are the (audience, accessibility) vocabularies to
    extend (those of the index this will be merged into).
    """
    import json

    from .filtered import NONE_BIT, NULL_TIME, FilterIndex, Vocab

    points = read_points(dbapi, options, changed_since=changed_since, live=False)
    aud_vocab, acc_vocab = vocabs or (Vocab(), Vocab())
    extra, params = ("AND f.updated_at >= %s", (changed_since,)) \
        if changed_since is not None else ("", ())
    n = len(points)
    aud = np.full(n, NONE_BIT, dtype=np.uint64)
    acc = np.zeros(n, dtype=np.uint64)
    lacks = np.zeros(n, dtype=np.uint64)
    acc_array = np.zeros(n, dtype=bool)
    lacks_array = np.zeros(n, dtype=bool)
    starts = np.full(n, NULL_TIME, dtype=np.int64)
    ends = np.full(n, NULL_TIME, dtype=np.int64)
    has_slots = np.zeros(n, dtype=bool)
    slot_parts: list[tuple[np.ndarray, list[tuple[int, int, int]]]] = []
    by_id = np.argsort(points.ids, kind="stable")
    sorted_ids = points.ids[by_id]

    def positions(ids: np.ndarray) -> np.ndarray:
        return by_id[np.searchsorted(sorted_ids, ids)]

    # One row per distinct combination of values (features share a handful of them):
    # JSON is parsed once per combination, positions are set with numpy.
    for r_aud, r_acc, r_lacks, r_slots, group in dbapi.execute(
            _ATTRIBUTES_SQL.format(extra=extra), params):
        ids = np.asarray(group, dtype=np.int64)
        k = positions(ids)
        if r_aud is not None:
            value = json.loads(r_aud)
            aud[k] = np.uint64(sum(1 << aud_vocab.bit(v) for v in set(
                value if isinstance(value, list) else [value]) if isinstance(v, str)))
        for raw, bits, is_array in ((r_acc, acc, acc_array), (r_lacks, lacks, lacks_array)):
            value = None if raw is None else json.loads(raw)
            if isinstance(value, list):
                is_array[k] = True
                bits[k] = np.uint64(sum(1 << acc_vocab.bit(v) for v in set(value)
                                        if isinstance(v, str)))
        slots = json.loads(r_slots)
        if slots:
            has_slots[k] = True
            slot_parts.append((ids, [
                (_DAY_INDEX.get(sl.get("day"), -1), _minutes(sl.get("from")),
                 _minutes(sl.get("to"))) if isinstance(sl, dict) else (-1, -1, -1)
                for sl in slots]))
    dated = dbapi.execute(_DATES_SQL.format(extra=extra), params).fetchall()
    if dated:
        ids, s_us, e_us = zip(*dated, strict=True)
        k = positions(np.asarray(ids, dtype=np.int64))
        starts[k] = [NULL_TIME if v is None else v for v in s_us]
        ends[k] = [NULL_TIME if v is None else v for v in e_us]
    slot_ids = np.concatenate([np.repeat(ids, len(sl)) for ids, sl in slot_parts]) \
        if slot_parts else np.zeros(0, dtype=np.int64)
    table = np.concatenate([np.tile(np.asarray(sl, dtype=np.int16).reshape(-1, 3),
                                    (len(ids), 1)) for ids, sl in slot_parts]) \
        if slot_parts else np.zeros((0, 3), dtype=np.int16)
    sids = slot_ids
    return FilterIndex(
        points=points, aud=aud, acc=acc, acc_array=acc_array, lacks=lacks,
        lacks_array=lacks_array, starts=starts, ends=ends, has_slots=has_slots,
        slot_ids=sids, slot_day=table[:, 0].copy(), slot_from=table[:, 1].copy(),
        slot_to=table[:, 2].copy(),
        slot_pt=positions(sids) if len(sids) else sids,
        audience_vocab=aud_vocab, access_vocab=acc_vocab)
