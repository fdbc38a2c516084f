"""``GET /api/v1/features``: published features as GeoJSON, filtered for the map and apps.

Parameters (all optional; an unknown or malformed one is a 400 naming it):

``bbox``
    ``west,south,east,north`` in degrees (4 numbers, finite, not inverted).
``category``
    one slug or several, comma-separated.
``at``
    an RFC 3339 date-time: events happening then; undated features always match.
``audience``
    ``children``, ``families``, ``seniors``...: features whose ``attributes.audiences``
    name it or ``everyone``; a feature that names no audience is open to everyone.
``accessible``
    ``true`` for features with any accessibility attribute, or comma-separated
    accessibility slugs that must all be present.
``limit``, ``offset``
    paging, ``limit`` 1–10000 (default 1000); a ``next`` link is given when more remain.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, json, request, url_for

from geo.db import get_engine

from .errors import problem
from .ogc_params import (
    BIGINT_MAX,
    BadParameter,
    check_known,
    parse_bbox,
    parse_instant,
    parse_int,
    parse_slugs,
    single,
)
from .ogc_queries import FeatureFilter, feature_page

__all__ = ["GEOJSON", "bp", "feature_collection", "parameter_problem"]

bp = Blueprint("api_features", __name__)

GEOJSON = "application/geo+json"
KNOWN = ("bbox", "category", "at", "audience", "accessible", "limit", "offset")
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000


def parameter_problem(exc: BadParameter) -> Response:
    """A 400 ``application/problem+json`` naming the bad parameter (RFC 9457)."""
    return problem(400, "Bad query parameter", detail=str(exc),
                   invalid_params=[{"name": exc.name, "reason": str(exc)}])


bp.register_error_handler(BadParameter, parameter_problem)


def feature_collection(features_json: str, extra: dict[str, object]) -> str:
    """Wrap comma-joined feature texts into a FeatureCollection, without parsing them."""
    tail = json.dumps(extra, ensure_ascii=False)
    sep = "," if len(extra) else ""
    return ('{"type":"FeatureCollection","features":[' + features_json + "]"
            + sep + tail[1:])


def _filter() -> FeatureFilter:
    args = request.args.to_dict(flat=False)
    check_known(args, KNOWN)
    accessible_raw = single(args, "accessible")
    accessible: tuple[str, ...] | None = None
    if accessible_raw is not None:
        if accessible_raw.strip().lower() in ("true", "1", "yes"):
            accessible = ()
        else:
            accessible = tuple(parse_slugs(accessible_raw, name="accessible") or ())
    categories = parse_slugs(single(args, "category"), name="category")
    audiences = parse_slugs(single(args, "audience"), name="audience")
    return FeatureFilter(
        bbox=parse_bbox(single(args, "bbox")),
        categories=tuple(categories) if categories is not None else None,
        at=parse_instant(single(args, "at"), name="at"),
        audiences=tuple(audiences) if audiences is not None else None,
        accessible=accessible,
    )


@bp.get("/api/v1/features")
def features() -> Response:
    """Published features as a GeoJSON FeatureCollection (``application/geo+json``)."""
    flt = _filter()
    limit = parse_int(single(request.args.to_dict(flat=False), "limit"), name="limit",
                      default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = parse_int(single(request.args.to_dict(flat=False), "offset"), name="offset",
                       default=0, minimum=0, maximum=BIGINT_MAX)
    engine = get_engine(current_app.config["DATABASE_URL"])
    with engine.connect() as conn:
        page = feature_page(conn, flt, limit=limit, offset=offset)
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
