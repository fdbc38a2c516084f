"""SQL behind the public feature APIs: pages of GeoJSON built by PostgreSQL itself.

Why SQL builds the JSON: pygeoapi spends ~54 ms of Python per 1,000-feature page
making one object per row (MEASURED.md). Here PostgreSQL writes each feature with
``json_build_object`` and joins them with ``string_agg``; Python receives one string
per page and wraps it. Only public fields are ever selected (:func:`geo.published.public_fields`,
the one definition every output derives from): no query here reads ``submission``,
``flag``, ``moderation_event`` or ``app_user``.

Paging fetches ``limit + 1`` rows to know whether a next page exists without counting;
``numberMatched`` is exact when the page is the last one (``offset + returned``), and
otherwise counted with a cap (:data:`COUNT_CAP`) so that a whole-city page never scans
a million rows just to report a total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from geo.city import AreaLevel
from geo.events import live_sql, local_midnight
from geo.published import PRIVATE_ATTRIBUTE_KEYS, area_joins, feature_json_sql
from geo.types import BBox

from .params import Interval

__all__ = [
    "COUNT_CAP",
    "PRIVATE_ATTRIBUTE_KEYS",
    "SMALL_BOX",
    "AreaFilter",
    "CategoryInfo",
    "FeatureFilter",
    "MapWindow",
    "Page",
    "area_item",
    "area_page",
    "categories",
    "category",
    "city_extent",
    "count_matches",
    "feature_item",
    "feature_page",
    "tile_cells",
]

COUNT_CAP = 100_000
"""Above this many matches, ``numberMatched`` is left out rather than counted."""



def _iso(column: str) -> str:
    return (f"to_char({column} AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")


_PAGE_COLUMNS = ("f.id, f.geom, f.category, f.title, f.description, f.starts_at, f.ends_at, "
                 "f.attributes, f.area_ids, f.source, f.attribution, "
                 "f.published_at, f.updated_at")


@dataclass(frozen=True)
class MapWindow:
    """The map's time window: dated features overlapping it, undated ones always.

    ``start`` is the instant from which a feature must not be over (see
    :mod:`geo.events`: an event without ``ends_at`` lasts until its local midnight), and
    ``start_day`` that instant's local midnight; ``end`` the instant by which it must
    have started. Either side may be open (``None``). The live map is
    ``MapWindow.live(now)``: ``[now, ∞)``, i.e. nothing that is over.
    """

    start: datetime | None
    start_day: datetime | None
    end: datetime | None

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None, zone: tzinfo) -> MapWindow:
        """A window from its two instants, in the city's ``zone``."""
        return cls(start, None if start is None else local_midnight(start, zone), end)

    @classmethod
    def live(cls, now: datetime, zone: tzinfo) -> MapWindow:
        """What is not over at ``now``: the default of the live map, tiles and walk."""
        return cls.of(now, None, zone)


_AVAILABILITY_SLOTS = """(CASE WHEN jsonb_typeof(f.attributes -> 'availability') = 'array'
        THEN f.attributes -> 'availability' ELSE '[]'::jsonb END
     || CASE WHEN jsonb_typeof(f.attributes -> 'hours') = 'array'
        THEN f.attributes -> 'hours' ELSE '[]'::jsonb END)"""


@dataclass(frozen=True)
class FeatureFilter:
    """Which published features a request asks for (already validated values).

    The one meaning of the filter parameters, shared by ``/api/v1/features``, the
    filtered tiles and the walk (TEAM.md, "Filter parameters"); OGC API items use only
    ``bbox``, ``categories`` and ``interval``.
    """

    bbox: BBox | None = None
    categories: tuple[str, ...] | None = None
    window: MapWindow | None = None  # map semantics: undated features always match
    interval: Interval | None = None  # OGC datetime: only dated features can match
    audiences: tuple[str, ...] | None = None
    accessible: tuple[str, ...] | None = None  # () means "any accessibility feature"
    accessible_match: str = "known"  # or "not_unsuitable"
    days: tuple[str, ...] | None = None
    hours: tuple[str, str] | None = None
    near: tuple[float, float] | None = None  # order by distance from (lon, lat)

    def where(self) -> tuple[str, dict[str, Any], bool]:
        """SQL conditions on ``f`` (and ``c`` when the third value is true), parameters."""
        clauses = ["f.status = 'published'"]
        params: dict[str, Any] = {}
        needs_category = False
        if self.bbox is not None:
            clauses.append("f.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)")
            params.update(zip("wsen", self.bbox, strict=True))
        if self.categories is not None:
            clauses.append("f.category = ANY(:categories)")
            params["categories"] = list(self.categories)
        if self.window is not None:
            if self.window.start is not None:
                clauses.append(live_sql("f", since=":win_start", since_day=":win_start_day"))
                params.update(win_start=self.window.start, win_start_day=self.window.start_day)
            if self.window.end is not None:
                # Undated rows, and rows with only an end, have started "always".
                clauses.append("(f.starts_at IS NULL OR f.starts_at <= :win_end)")
                params["win_end"] = self.window.end
        if self.interval is not None:
            clauses.append("f.starts_at IS NOT NULL")
            if self.interval.end is not None:
                clauses.append("f.starts_at <= :dt_end")
                params["dt_end"] = self.interval.end
            if self.interval.start is not None:
                clauses.append("coalesce(f.ends_at, f.starts_at) >= :dt_start")
                params["dt_start"] = self.interval.start
        if self.audiences is not None:
            # A pin's attributes.audiences; a pin that names none is open to everyone,
            # and "everyone" fits every audience.
            clauses.append("jsonb_exists_any(coalesce(f.attributes -> 'audiences', "
                           "'[\"everyone\"]'::jsonb), :audiences)")
            params["audiences"] = [*self.audiences, "everyone"]
        if self.accessible is not None:
            clauses.append(self._accessible_sql(params))
        if self.days is not None or self.hours is not None:
            clauses.append(self._slots_sql(params))
        return " AND ".join(clauses), params, needs_category

    def _accessible_sql(self, params: dict[str, Any]) -> str:
        if self.accessible_match == "not_unsuitable":
            # Hidden only when known not to suit: unknown accessibility is kept.
            if not self.accessible:
                return ("NOT coalesce(jsonb_typeof(f.attributes -> 'accessibility_lacks') "
                        "= 'array' AND f.attributes -> 'accessibility_lacks' <> '[]'::jsonb, "
                        "false)")
            params["accessible"] = list(self.accessible)
            return ("NOT coalesce(jsonb_typeof(f.attributes -> 'accessibility_lacks') = "
                    "'array' AND (f.attributes -> 'accessibility_lacks') ?| "
                    "CAST(:accessible AS text[]), false)")
        if self.accessible:
            params["accessible"] = list(self.accessible)
            # ``?&`` (not jsonb_exists_all) so that the GIN index of 0004 can answer it.
            return ("(f.attributes -> 'accessibility') ?& CAST(:accessible AS text[]) "
                    "AND jsonb_typeof(f.attributes -> 'accessibility') = 'array'")
        return ("jsonb_typeof(f.attributes -> 'accessibility') = 'array' "
                "AND f.attributes -> 'accessibility' <> '[]'::jsonb")

    def _slots_sql(self, params: dict[str, Any]) -> str:
        """Availability (missions, time exchange) or opening-hours slots overlapping.

        A slot ``{day, from, to}`` matches when its day is asked for and its hours
        overlap the asked ones (``HH:MM`` strings compare as times); a slot whose ``to``
        is not after its ``from`` runs past midnight. Features with no slots are kept:
        nothing says they are unavailable.
        """
        conds = []
        if self.days is not None:
            conds.append("s ->> 'day' = ANY(CAST(:slot_days AS text[]))")
            params["slot_days"] = list(self.days)
        if self.hours is not None:
            conds.append("(CASE WHEN s ->> 'to' > s ->> 'from' "
                         "THEN s ->> 'from' < :slot_to AND s ->> 'to' > :slot_from "
                         "ELSE s ->> 'from' < :slot_to OR s ->> 'to' > :slot_from END)")
            params.update(slot_from=self.hours[0], slot_to=self.hours[1])
        slots = _AVAILABILITY_SLOTS
        return (f"(jsonb_array_length({slots}) = 0 OR EXISTS ("  # noqa: S608 (constants)
                f"SELECT 1 FROM jsonb_array_elements({slots}) AS s "
                f"WHERE jsonb_typeof(s) = 'object' AND {' AND '.join(conds)}))")

    def distance(self, params: dict[str, Any]) -> str | None:
        """SQL distance from ``near`` on the sphere (metres), or ``None`` without ``near``.

        ``ORDER BY`` this expression *alone* is a KNN scan of the geography index that
        stops at the LIMIT (7 ms for 100 at 1M points); with a second key PostgreSQL
        sorts every match instead (0.5-0.8 s), so ties are broken by an outer sort.
        """
        if self.near is None:
            return None
        params.update(near_lon=self.near[0], near_lat=self.near[1])
        return ("f.geom::geography <-> CAST(ST_SetSRID(ST_MakePoint(:near_lon, :near_lat), "
                "4326) AS geography)")


SMALL_BOX = 0.002
"""Square degrees (~15 km² at Paris, a seventh of the city) under which a box is small."""


def _box_area(bbox: BBox) -> float:
    w, s, e, n = bbox
    return (e - w) * (n - s)


class Page(NamedTuple):
    """One page of features: the comma-joined GeoJSON features and the counts."""

    features_json: str
    returned: int
    has_more: bool
    matched: int | None


def _from(needs_category: bool) -> str:
    join = " JOIN category c ON c.slug = f.category" if needs_category else ""
    return "feature f" + join


def feature_page(conn: Connection, flt: FeatureFilter, *, levels: Sequence[AreaLevel],
                 limit: int, offset: int,
                 count: bool = True, public_url: str | None = None) -> Page:
    """A page of published features as GeoJSON text, by id (or nearest first: ``near``).

    Parameters
    ----------
    count
        Work out ``numberMatched`` (free on the last page, a capped count otherwise).
    """
    where, params, needs_category = flt.where()
    # With a small box, walking the primary key in order and filtering on the box (the
    # planner's favourite for ORDER BY id LIMIT) reads ~100k rows to find 1,000 at 1M
    # features: 63 ms against 10 ms for the GiST bitmap and a top-N sort (measured).
    # "id + 0" takes the key order away from the planner for small boxes only.
    small = flt.bbox is not None and _box_area(flt.bbox) <= SMALL_BOX
    order = "f.id + 0" if small else "f.id"
    # Every match of a small box is read for the sort anyway: counting them there is
    # nearly free, where a second query cost 30-40 % of the page (measured).
    total = "count(*) OVER ()" if small else "NULL::bigint"
    distance = flt.distance(params)
    if distance is None:
        rows = f"""SELECT {_PAGE_COLUMNS}, {total} AS total FROM {_from(needs_category)}
          WHERE {where} ORDER BY {order} LIMIT :limit_plus OFFSET :offset"""  # noqa: S608
    else:
        # Nearest first: the KNN scan takes the offset + limit + 1 nearest, then ties
        # are broken by id so that consecutive pages never overlap.
        rows = f"""SELECT * FROM (
            SELECT {_PAGE_COLUMNS}, {total} AS total, {distance} AS dist
            FROM {_from(needs_category)} WHERE {where} ORDER BY {distance} LIMIT :knn) k
          ORDER BY dist, id LIMIT :limit_plus OFFSET :offset"""  # noqa: S608
        params["knn"] = offset + limit + 1
    sql = f"""
      WITH page AS MATERIALIZED (
        SELECT s.*, row_number() OVER () AS rn FROM ({rows}) s)
      SELECT (SELECT count(*) FROM page), (SELECT max(total) FROM page),
             (SELECT string_agg({feature_json_sql(levels, public_url)}, ',' ORDER BY p.rn)
              FROM (SELECT * FROM page ORDER BY rn LIMIT :limit) p
              {area_joins(levels)})"""  # noqa: S608 (constant fragments)
    params.update(limit=limit, limit_plus=limit + 1, offset=offset)
    fetched, total_matched, body = conn.execute(text(sql), params).one()
    returned = min(fetched, limit)
    has_more = fetched > limit
    matched: int | None = None
    if not has_more:
        matched = offset + returned if (returned or offset == 0) else None
    elif total_matched is not None:
        matched = int(total_matched)
    elif count:
        matched = count_matches(conn, flt)
    return Page(body or "", returned, has_more, matched)


def count_matches(conn: Connection, flt: FeatureFilter, *, cap: int = COUNT_CAP) -> int | None:
    """How many features match, or ``None`` when more than ``cap`` do."""
    where, params, needs_category = flt.where()
    sql = (f"SELECT count(*) FROM (SELECT 1 FROM {_from(needs_category)} "  # noqa: S608
           f"WHERE {where} LIMIT :cap) s")
    n = conn.execute(text(sql), {**params, "cap": cap + 1}).scalar_one()
    return None if n > cap else int(n)


def feature_item(conn: Connection, feature_id: int, *, levels: Sequence[AreaLevel],
                 category: str | None = None, public_url: str | None = None) -> str | None:
    """One published feature as GeoJSON text, or ``None`` (unknown, hidden, other category)."""
    sql = f"""
      SELECT {feature_json_sql(levels, public_url)}
      FROM (SELECT {_PAGE_COLUMNS} FROM feature f
            WHERE f.id = :id AND f.status = 'published'
              AND (CAST(:category AS text) IS NULL OR f.category = :category)) p
      {area_joins(levels)}"""  # noqa: S608 (constant fragments)
    return conn.execute(text(sql), {"id": feature_id, "category": category}).scalar()


@dataclass(frozen=True)
class AreaFilter:
    """Which areas a request asks for."""

    bbox: BBox | None = None


_AREA_JSON = """json_build_object(
  'type', 'Feature', 'id', r.code,
  'geometry', ST_AsGeoJSON(r.geom, 6)::json,
  'properties', json_build_object('code', r.code, 'name', r.name, 'kind', r.kind,
                                  'parent', pa.code))::text"""


def area_page(conn: Connection, flt: AreaFilter, *, limit: int, offset: int) -> Page:
    """A page of areas (city, arrondissements, quartiers) ordered by kind then code."""
    clauses, params = ["TRUE"], {}
    if flt.bbox is not None:
        clauses.append("ST_Intersects(r.geom, ST_MakeEnvelope(:w, :s, :e, :n, 4326))")
        params.update(zip("wsen", flt.bbox, strict=True))
    sql = f"""
      WITH page AS MATERIALIZED (
        SELECT r.*, row_number() OVER (ORDER BY r.kind, r.code) AS rn FROM area r
        WHERE {' AND '.join(clauses)} ORDER BY r.kind, r.code
        LIMIT :limit_plus OFFSET :offset)
      SELECT (SELECT count(*) FROM page),
             (SELECT string_agg({_AREA_JSON}, ',' ORDER BY r.rn)
              FROM (SELECT * FROM page ORDER BY rn LIMIT :limit) r
              LEFT JOIN area pa ON pa.id = r.parent_id),
             (SELECT count(*) FROM area r WHERE {' AND '.join(clauses)})"""  # noqa: S608
    params.update(limit=limit, limit_plus=limit + 1, offset=offset)
    fetched, body, matched = conn.execute(text(sql), params).one()
    return Page(body or "", min(fetched, limit), fetched > limit, int(matched))


def area_item(conn: Connection, code: str) -> str | None:
    """One area by its code as GeoJSON text, or ``None``."""
    sql = f"""SELECT {_AREA_JSON} FROM area r LEFT JOIN area pa ON pa.id = r.parent_id
              WHERE r.code = :code"""  # noqa: S608
    return conn.execute(text(sql), {"code": code}).scalar()


class CategoryInfo(NamedTuple):
    """What a collection needs to know about a category."""

    slug: str
    kind: str
    label_fr: str
    label_en: str
    description_fr: str
    description_en: str


def categories(conn: Connection) -> list[CategoryInfo]:
    """Active categories in display order (one OGC collection each)."""
    rows = conn.execute(text(
        "SELECT slug, kind::text, label_fr, label_en, description_fr, description_en "
        "FROM category WHERE active ORDER BY position, slug")).all()
    return [CategoryInfo(*row) for row in rows]


def category(conn: Connection, slug: str) -> CategoryInfo | None:
    """One active category by its slug (one indexed lookup per request)."""
    row = conn.execute(text(
        "SELECT slug, kind::text, label_fr, label_en, description_fr, description_en "
        "FROM category WHERE active AND slug = :slug"), {"slug": slug}).first()
    return CategoryInfo(*row) if row else None


def city_extent(conn: Connection) -> list[float] | None:
    """The bounding box of the service area (the city), a cheap stand-in for the data's."""
    row = conn.execute(text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        "(SELECT ST_Extent(geom) AS e FROM area WHERE kind = 'city') s")).one()
    return None if row[0] is None else [round(float(v), 6) for v in row]


# Global pixel position at the archive's deepest zoom (``:scale`` = 4096 << max_zoom),
# the same Web Mercator arithmetic as tiles.points.PointSet.from_arrays.
_GX = "floor((ST_X(f.geom) + 180.0) / 360.0 * :scale)"
_GY = ("floor((0.5 - ln(tan(pi() / 4 + radians(least(greatest(ST_Y(f.geom), "
       "-85.0511287798066), 85.0511287798066)) / 2)) / (2 * pi())) * :scale)")


def tile_cells(conn: Connection, flt: FeatureFilter, *, max_zoom: int, shift: int
               ) -> list[tuple[int, int, str, int, float, float, int]]:
    """Matching features counted per grid cell and category, by PostgreSQL.

    The alternative measured against the in-memory index of the filtered tiles
    (``bench/tiles_filtered.py``: 0.67 s unfiltered, 2.2 s with the profile filters for
    a z12 tile at 1M points, against 21 and 60 ms); kept for that comparison.

    One row per (cell column, cell row, category): count, sums of the global x and y
    (for the mean position) and the smallest id (the feature of a one-feature cell).
    ``flt.bbox`` should be the tile's query box. A few thousand rows come back for a
    tile of hundreds of thousands of points.
    """
    where, params, needs_category = flt.where()
    params.update(scale=float(4096 << max_zoom), shift=int(shift))
    sql = f"""
      SELECT (gx::bigint >> :shift)::bigint, (gy::bigint >> :shift)::bigint, category,
             count(*), sum(gx), sum(gy), min(id)
      FROM (SELECT f.id, f.category, {_GX} AS gx, {_GY} AS gy
            FROM {_from(needs_category)} WHERE {where}) p
      GROUP BY 1, 2, 3"""  # noqa: S608 (constant fragments)
    return [tuple(r) for r in conn.execute(text(sql), params).all()]
