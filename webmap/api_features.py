"""``GET /api/v1/features``: published features as GeoJSON, filtered for the map and apps.

Parameters (all optional; an unknown or malformed one is a 400 problem+json naming it).
The filter parameters mean the same here, in the filtered tiles
(``/tiles/features/{z}/{x}/{y}.mvt?...``) and in the walk (``/api/v1/walk``); they are
parsed once, by :func:`filter_from_args`.

``bbox``
    ``west,south,east,north`` in degrees (4 numbers, finite, not inverted).
``category``
    one slug or several, comma-separated.
``from``, ``to``
    the date window: RFC 3339 date-times, or bare ``YYYY-MM-DD`` dates read in the
    city's time zone (``CITY_TIMEZONE``, its ``time_zone``): a bare ``from`` is that day's
    local midnight, a bare ``to`` the last instant of that day. Dated features
    (events, dated missions) match when they overlap the window; undated ones always
    match. An event without ``ends_at`` lasts until the end of its start day, local
    time (:mod:`geo.events`). ``to`` before ``from`` is a 400.
``at``
    an RFC 3339 date-time: what is happening then (the window ``[at, at]``); not
    together with ``from``/``to``.
    *Without* ``at``, ``from`` or ``to``, the window is ``[now, ∞)``: events that are
    over are left out of the live map (OGC API items and downloads keep them). A
    ``to`` alone that is already past asks for the past: ``(-∞, to]``; otherwise
    ``from`` defaults to now.
``audience``
    ``children``, ``families``, ``seniors``...: features whose ``attributes.audiences``
    name one of them or ``everyone``; a feature that names no audience is open to everyone.
``accessible``
    ``true`` (any accessibility information), or comma-separated accessibility slugs.
``accessible_match``
    ``known`` (default): only features whose ``attributes.accessibility`` lists every
    slug asked (``true``: lists any). ``not_unsuitable``: every feature except those
    whose ``attributes.accessibility_lacks`` lists one of the slugs asked (``true``:
    lists any); unknown accessibility is kept.
``days``, ``hours``
    ``days=mon,sat`` (``mon``..``sun``) and/or ``hours=HH:MM-HH:MM`` (end after start,
    ``24:00`` allowed): features with an ``attributes.availability`` or
    ``attributes.hours`` slot ``{day, from, to}`` on one of those days overlapping
    those hours (both given: the same slot must fit both). Features without any slot
    are kept (nothing says they are unavailable).
``near``
    ``lon,lat``: order by distance from that point on the sphere, nearest first (ties
    by id); without it, by id. ``numberMatched`` is then given only when cheap (the
    last page, or a small ``bbox``).
``limit``, ``offset``
    paging, ``limit`` 1–10000 (default 1000); a ``next`` link is given when more remain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, json, request, url_for
from flask.blueprints import BlueprintSetupState

from geo.db import get_engine
from geo.events import city_zone, zone_named

from .city import current_city
from .ogc.params import (
    BIGINT_MAX,
    BadParameter,
    check_known,
    parse_bbox,
    parse_choice,
    parse_days,
    parse_hours,
    parse_instant,
    parse_int,
    parse_lonlat,
    parse_slugs,
    parse_window,
    single,
)
from .ogc.queries import FeatureFilter, MapWindow, feature_page
from .web import problem_for

__all__ = ["FILTER_PARAMS", "GEOJSON", "bp", "city_tz", "feature_collection",
           "filter_from_args", "parameter_problem"]

bp = Blueprint("api_features", __name__)

GEOJSON = "application/geo+json"
FILTER_PARAMS = ("category", "at", "from", "to", "audience", "accessible",
                 "accessible_match", "days", "hours")
"""The shared filter parameters (list, filtered tiles, walk); ``bbox`` and ``near`` too
where a request has a place."""
KNOWN = ("bbox", *FILTER_PARAMS, "near", "limit", "offset")
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
ACCESSIBLE_MATCH = ("known", "not_unsuitable")


@bp.record_once
def _configure(state: BlueprintSetupState) -> None:
    # The city's zone (its city.json), once, in the app config.
    state.app.config.setdefault("CITY_TIMEZONE", city_zone().key)


def city_tz() -> ZoneInfo:
    """The city's time zone from the app config (bare dates and "end of day" use it)."""
    return zone_named(current_app.config.get("CITY_TIMEZONE") or city_zone().key)


def parameter_problem(exc: BadParameter) -> Response:
    """A 400 ``application/problem+json`` naming the bad parameter (RFC 9457)."""
    return problem_for(exc)  # the app's error table (webmap.web.STATUS_CODES)


def feature_collection(features_json: str, extra: dict[str, object]) -> str:
    """Wrap comma-joined feature texts into a FeatureCollection, without parsing them."""
    tail = json.dumps(extra, ensure_ascii=False)
    sep = "," if len(extra) else ""
    return ('{"type":"FeatureCollection","features":[' + features_json + "]"
            + sep + tail[1:])


def _window(args: Mapping[str, list[str]], now: datetime, zone: ZoneInfo) -> MapWindow:
    at = parse_instant(single(args, "at"), name="at", zone=zone)
    interval = parse_window(single(args, "from"), single(args, "to"), zone=zone)
    if at is not None and interval is not None:
        raise BadParameter("at", "give either at or from/to, not both")
    try:
        if at is not None:
            return MapWindow.of(at, at, zone)
        if interval is None:
            return MapWindow.live(now, zone)
        start, end = interval
        if start is None and end is not None and end >= now:
            start = now  # "until Sunday" means from now on
        return MapWindow.of(start, end, zone)
    except OverflowError as exc:  # a local midnight beyond year 9999
        name = "at" if at is not None else "from"
        raise BadParameter(name, "out of the supported range of dates") from exc


def filter_from_args(args: Mapping[str, list[str]], *, known: Sequence[str] = KNOWN,
                     now: datetime | None = None, zone: ZoneInfo | None = None
                     ) -> FeatureFilter:
    """The :class:`FeatureFilter` of a request's query (``request.args.to_dict(flat=False)``).

    Parameters
    ----------
    known
        Every parameter the endpoint accepts; any other is a 400 naming it.
    now
        The live map's instant (default: the current time).
    zone
        The city's time zone (default: the app's ``CITY_TIMEZONE``).

    Raises
    ------
    BadParameter
        The first bad parameter, by name.
    """
    check_known(args, known)
    zone = zone or city_tz()
    now = now or datetime.now(UTC)
    accessible_raw = single(args, "accessible")
    accessible: tuple[str, ...] | None = None
    if accessible_raw is not None:
        if accessible_raw.strip().lower() in ("true", "1", "yes"):
            accessible = ()
        else:
            accessible = tuple(parse_slugs(accessible_raw, name="accessible") or ())
    match = parse_choice(single(args, "accessible_match"), name="accessible_match",
                         choices=ACCESSIBLE_MATCH, default="known")
    categories = parse_slugs(single(args, "category"), name="category")
    audiences = parse_slugs(single(args, "audience"), name="audience")
    return FeatureFilter(
        bbox=parse_bbox(single(args, "bbox")) if "bbox" in known else None,
        categories=tuple(categories) if categories is not None else None,
        window=_window(args, now, zone),
        audiences=tuple(audiences) if audiences is not None else None,
        accessible=accessible,
        accessible_match=match,
        days=parse_days(single(args, "days")),
        hours=parse_hours(single(args, "hours")),
        near=parse_lonlat(single(args, "near"), name="near") if "near" in known else None,
    )


@bp.get("/api/v1/features")
def features() -> Response:
    """Published features as a GeoJSON FeatureCollection (``application/geo+json``)."""
    flt = filter_from_args(request.args.to_dict(flat=False))
    limit = parse_int(single(request.args.to_dict(flat=False), "limit"), name="limit",
                      default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = parse_int(single(request.args.to_dict(flat=False), "offset"), name="offset",
                       default=0, minimum=0, maximum=BIGINT_MAX)
    engine = get_engine(current_app.config["DATABASE_URL"])
    with engine.connect() as conn:
        # Nearest first is for "what is around me": a capped city-wide count would cost
        # more than the page (0.1-0.4 s at 1M points); a small bbox is counted anyway.
        page = feature_page(conn, flt, levels=current_city().levels, limit=limit,
                            offset=offset, count=flt.near is None,
                            public_url=current_app.config.get("PUBLIC_URL"))  # photos' URLs
    extra: dict[str, object] = {"numberReturned": page.returned}
    if page.matched is not None:
        extra["numberMatched"] = page.matched
    links = [{"rel": "self", "type": GEOJSON, "href": request.url}]
    if page.has_more:
        args = request.args.to_dict()
        args.update(offset=str(offset + limit), limit=str(limit))
        links.append({"rel": "next", "type": GEOJSON,
                      "href": url_for(".features", _external=True, **args)})
    extra["links"] = links
    body = feature_collection(page.features_json, extra)
    response = Response(body, mimetype=GEOJSON)
    response.headers["Cache-Control"] = "public, max-age=30"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
