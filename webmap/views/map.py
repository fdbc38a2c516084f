"""Views of the residents' map: thin wrappers that parse, call a service and render.

* ``GET /`` the page (template ``map.html``); its Leaflet script, built by folium, at
  ``GET /map/carte.<lang>.<digest>.js`` (see :mod:`webmap.views.page`).
* ``GET /api/v1/search?q=`` our published features, areas and Paris addresses.
* ``GET /api/v1/walk?lon=&lat=&minutes=&category=&at=`` "Ma balade".
"""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.db import get_engine
from geo.events import city_zone
from geo.geocode import address_file, ready_index, shortcuts_of, warm
from geo.models import Area, Category
from tiles.archive import tilejson
from tiles.errors import ArchiveError

from ..city import current_city
from ..security import CSP
from ..web import problem
from . import walk_api
from .i18n import LOCALES, current_lang
from .page import CONTROL_NAME, MAP_NAME, RASTER_BASE_NAME, build_map_script, map_labels
from .search import search_areas, search_features
from .strings import access_labels, audience_labels, js_strings, weekday_labels

__all__ = ["bp"]

bp = Blueprint("map", __name__)

SEARCH_LIMIT = 8


def _session() -> Session:
    return Session(get_engine(current_app.config["DATABASE_URL"]))


def _basemap() -> tuple[str | None, str]:
    # CARTE_BASEMAP_* are read once, by webmap.settings.
    url = current_app.config.get("BASEMAP_URL") or None
    attribution = current_app.config.get("BASEMAP_ATTRIBUTION") or ""
    return url, attribution


def _map_script(lang: str):
    cache = current_app.extensions.setdefault("carte_map_scripts", {})
    key = (lang, request.script_root)
    if key not in cache:
        url, attribution = _basemap()
        c = current_city().centre
        cache[key] = build_map_script(labels=map_labels(gettext, current_city().attribution),
                                      centre=(c.lat, c.lon, c.zoom),
                                      root=request.script_root, basemap_url=url,
                                      basemap_attribution=attribution)
    return cache[key]


def _categories(session: Session, lang: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(Category).where(Category.active)
                           .order_by(Category.position, Category.slug)).all()
    return [{"slug": c.slug, "kind": str(c.kind),
             "label": c.label_en if lang == "en" else c.label_fr,
             "description": c.description_en if lang == "en" else c.description_fr,
             "colour": c.colour, "fields": c.fields, "audiences": list(c.audiences or []),
             "accessibility": list(c.accessibility or [])} for c in rows]


def _quartiers(session: Session) -> list[dict[str, Any]]:
    point = func.ST_PointOnSurface(Area.geom)
    rows = session.execute(select(Area.code, Area.name, func.ST_X(point), func.ST_Y(point))
                           .where(Area.depth == select(func.max(Area.depth))
                                  .scalar_subquery()).order_by(Area.name)).all()
    return [{"code": c, "name": n, "lon": round(x, 6), "lat": round(y, 6)}
            for c, n, x, y in rows]


REFERENCE_TTL = 60.0  # seconds a worker reuses categories and quartiers between reads


def _reference(lang: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Categories and quartiers for the page, read at most once a minute per worker.

    They change only when an admin reloads them; reading them (and computing 80
    points on surfaces) on every page view would put the database on the page's path.
    """
    cache = current_app.extensions.setdefault("carte_map_reference", {})
    hit = cache.get(lang)
    now = time.monotonic()
    if hit is None or now - hit[0] > REFERENCE_TTL:
        with _session() as session:
            hit = cache[lang] = (now, _categories(session, lang), _quartiers(session))
    return hit[1], hit[2]


def city_timezone() -> str:
    """The city's IANA time zone: the page computes "today" and shows times in it."""
    return str(current_app.config.get("CITY_TIMEZONE") or city_zone().key)


def _layer_tilejson(name: str, root: str) -> dict[str, Any] | None:
    """``/tiles/<name>.json`` as it would answer now (without its layer list), or None.

    None when the layer was not built (that URL answers 404) or cannot be read.
    """
    from ..tiles_views import open_archive

    try:
        found = open_archive(Path(current_app.config["VAR_DIR"]), name)
    except (ArchiveError, sqlite3.Error):
        return None
    if found is None:
        return None
    body = tilejson(found[1], tiles_url=f"{root}/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt")
    body.pop("vector_layers", None)
    return body


def _tiles(root: str) -> dict[str, Any]:
    """Where layers.js finds its tiles, and the names folium gave the layers it adjusts.

    The TileJSON of both vector layers is in the page, as ``/tiles/<layer>.json`` would
    answer it (``basemapTileJSON`` null: the city has no basemap): the basemap and the
    points start with the page's script instead of a request later (layers.js reads
    the URLs when these are missing). ``maxzoom``: the point archive's, overzoomed beyond.
    """
    features = _layer_tilejson("features", root)
    return {"root": root,
            "features": root + "/tiles/features/{z}/{x}/{y}.mvt",
            "featuresJson": root + "/tiles/features.json",
            "basemap": root + "/tiles/basemap/{z}/{x}/{y}.mvt",
            "basemapJson": root + "/tiles/basemap.json",
            "basemapTileJSON": _layer_tilejson("basemap", root),
            "maxzoom": features["maxzoom"] if features
            else current_app.config["SETTINGS"].tiles.max_zoom,
            "rasterBase": RASTER_BASE_NAME, "control": CONTROL_NAME}


#: The map page's extension scripts, loaded after ``map/app.js`` in this order; each adds
#: its sections to a place's panel through ``window.Carte`` (see the top of app.js). A
#: script that does not exist yet is skipped, so a feature lands with its own file.
EXTENSIONS = ("map/photos.js", "map/services.js", "map/exchange.js", "map/missions.js")


def _extensions() -> list[str]:
    static = Path(current_app.static_folder or "")
    return [src for src in EXTENSIONS if (static / src).is_file()]


@bp.get("/")
def index() -> Response:
    """The map page."""
    lang = current_lang()
    built = _map_script(lang)
    categories, quartiers = _reference(lang)
    addresses = address_file(current_city())
    if addresses is not None:
        warm(addresses)  # ready by the time someone types an address
    data = {"lang": lang, "map": MAP_NAME, "tiles": _tiles(request.script_root),
            "categories": categories, "quartiers": quartiers,
            # The city's level slugs, first level first: the basemap's boundaries and
            # area names carry them (layers.js draws by depth, never by a level's name).
            "levels": [level.slug for level in current_city().levels],
            # A place's area names in its public properties, deepest level first (the
            # panel's "where": Paris's quartier_name, arrondissement_name).
            "areaNames": [f"{level.public_name}_name"
                          for level in reversed(current_city().levels)],
            "strings": js_strings(), "timezone": city_timezone(),
            "access": access_labels(), "audiences": audience_labels(),
            "weekdays": weekday_labels(),
            "photos": {"max_per_item": int(current_app.config.get("PHOTO_MAX_PER_ITEM", 4))}}
    body = render_template("map.html", lang=lang, other_langs=[x for x in LOCALES if x != lang],
                           city_name=current_city().name(lang),
                           # The deepest level's word (the home areas listed are its):
                           # Paris's "quartier", another city's own.
                           home_area=current_city().level_labels(lang)[-1],
                           built=built, data=data, categories=categories,
                           extensions=_extensions(),
                           access=data["access"], weekdays=data["weekdays"])
    response = Response(body, mimetype="text/html")
    url, _ = _basemap()
    if url:  # the configured external base map is the one other host the page may use
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"
        response.headers["Content-Security-Policy"] = CSP.replace(
            "img-src 'self'", f"img-src 'self' {host}")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/map/carte.<lang>.<digest>.js")
def map_script(lang: str, digest: str) -> Response:
    """The folium-built Leaflet script of the page, cached for a year by its digest."""
    if lang not in LOCALES:
        abort(404)
    built = _map_script(lang)
    response = Response(built.script, mimetype="text/javascript")
    if digest == built.digest:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response


def _near(raw: str | None) -> tuple[float, float] | bool | None:
    """``near=lon,lat`` of the search: the point, ``None`` when absent, ``False`` if wrong."""
    if not raw:
        return None
    try:
        lon, lat = (float(v) for v in raw.split(","))
    except ValueError:
        return False
    ok = math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
    return (lon, lat) if ok else False


@bp.get("/api/v1/search")
def search() -> Response:
    """Published features, areas and addresses matching ``q`` (at most 8 of each).

    Forgiving (:mod:`webmap.views.search`, :mod:`geo.geocode`): case,
    accents, hyphens, abbreviated street types, "paris", postcodes and arrondissements
    ("19e") are understood. Features carry their ``areas`` (first level first, each
    ``{level, level_label, code, name}``), ``category_label`` and a ``label`` that tells
    same-titled results apart (``arrondissement*``/``quartier_name``: deprecated).
    """
    q = request.args.get("q", "").strip()
    if len(q) > 100:
        return problem(400, "Bad query parameter", detail="q: at most 100 characters",
                       invalid_params=[{"name": "q", "reason": "at most 100 characters"}])
    if len(q) < 2:
        return jsonify({"features": [], "areas": [], "addresses": []})
    near = _near(request.args.get("near"))  # the map's centre: nearest services first
    if near is False:
        return problem(400, "Bad query parameter", detail="near: expected lon,lat",
                       invalid_params=[{"name": "near", "reason": "expected lon,lat"}])
    with _session() as session:
        features = search_features(session, q, lang=current_lang(), limit=SEARCH_LIMIT,
                                   near=near if isinstance(near, tuple) else None)
        areas = search_areas(session, q, limit=SEARCH_LIMIT, lang=current_lang())
    addresses = address_file(current_city())
    index = ready_index(addresses) if addresses is not None else None
    addresses = (index.search(q, limit=SEARCH_LIMIT, locality=current_city().name(),
                              shortcuts=shortcuts_of(current_city()))
                 if index is not None else [])
    response = jsonify({
        "features": features, "areas": areas,
        "addresses": [{"label": h.label, "lon": h.lon, "lat": h.lat} for h in addresses],
    })
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


@bp.get("/api/v1/walk")
def walk() -> Response:
    """An ordered walk from (lon, lat) through matching places within ``minutes``."""
    try:
        params = walk_api.parse(request.args)
    except walk_api.BadParameter as exc:
        return problem(400, "Bad query parameter", detail=str(exc),
                       invalid_params=[{"name": exc.field, "reason": exc.message}])
    with _session() as session:
        candidates = walk_api.candidates(session, params)
    return jsonify(walk_api.plan(params, candidates))
