"""OGC API – Features, Part 1 Core, at ``/ogc/``: read-only, GeoJSON and HTML.

Collections: ``features`` (every published feature), one per active category (its
slug), and ``areas`` (city, arrondissements, quartiers). Items take ``bbox`` (4 or 6
numbers, CRS84), ``datetime`` (instant, date or interval, matched against events'
``starts_at``/``ends_at``; undated features do not match a ``datetime``), ``limit``
(1–10000, default 100) and ``offset``, and answer ``next``/``prev`` links with
``numberReturned`` and, when cheap, ``numberMatched``.

The format is chosen by ``f=json|geojson|html`` or else by the ``Accept`` header;
features are always ``application/geo+json``. Bad parameters are 400s naming the
parameter (problem+json); an unknown collection or item is a 404.
"""

from __future__ import annotations

import json as jsonlib
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, url_for
from sqlalchemy import Connection

from geo.db import get_engine
from opendata.exports import ATTRIBUTION, LICENCE_NAME, LICENCE_URL

from ..api_features import GEOJSON, feature_collection
from ..city import current_city
from .html import render
from .openapi import openapi_document
from .params import (
    BIGINT_MAX,
    BadParameter,
    check_known,
    parse_bbox,
    parse_datetime,
    parse_feature_id,
    parse_int,
    parse_slugs,
    single,
)
from .queries import (
    AreaFilter,
    CategoryInfo,
    FeatureFilter,
    area_item,
    area_page,
    categories,
    category,
    city_extent,
    feature_item,
    feature_page,
)

__all__ = ["CONFORMANCE", "DEFAULT_LIMIT", "MAX_LIMIT", "bp"]

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
ALL, AREAS = "features", "areas"
ITEM_PARAMS = ("f", "bbox", "datetime", "limit", "offset", "crs", "bbox-crs")


def _check_crs(args: dict[str, list[str]]) -> None:
    """``crs`` and ``bbox-crs`` (Part 2, which GDAL sends): only CRS84 is offered."""
    for name in ("crs", "bbox-crs"):
        value = single(args, name)
        if value is not None and value.strip() != CRS84:
            raise BadParameter(name, f"only {CRS84} is offered")


def _conn() -> Connection:
    return get_engine(current_app.config["DATABASE_URL"]).connect()


def _format(*, features: bool = False) -> str:
    """``json`` or ``html``, from ``f`` or the Accept header."""
    f = single(request.args.to_dict(flat=False), "f")
    if f is not None:
        f = f.strip().lower()
        if f in ("json", "geojson"):
            return "json"
        if f == "html":
            return "html"
        raise BadParameter("f", "must be json, geojson or html")
    offers = [GEOJSON, JSON, HTML] if features else [JSON, GEOJSON, HTML]
    best = request.accept_mimetypes.best_match(offers, default=JSON)
    return "html" if best == HTML else "json"


def _json(body: Any, mimetype: str = JSON) -> Response:
    text = body if isinstance(body, str) else jsonlib.dumps(body, ensure_ascii=False)
    response = Response(text, mimetype=mimetype)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=30"
    return response


def _html(template: str, **context: Any) -> Response:
    return Response(render(template, **context), mimetype=HTML)


def _url(endpoint: str, **values: Any) -> str:
    return url_for(endpoint, _external=True, **values)


def _alternates(endpoint: str, fmt: str, json_type: str = JSON,
                **values: Any) -> list[dict[str, str]]:
    me = {"json": json_type, "html": HTML}
    return [{"rel": "self" if fmt == f else "alternate", "type": me[f],
             "title": "This document" if fmt == f else f"This document as {f.upper()}",
             "href": _url(endpoint, f=f, **values)} for f in ("json", "html")]


def _licence_links() -> list[dict[str, str]]:
    return [{"rel": "license", "type": HTML, "title": LICENCE_NAME, "href": LICENCE_URL}]


def _check(allowed: tuple[str, ...]) -> None:
    check_known(request.args.keys(), allowed)


@bp.get("/")
def landing() -> Response:
    """Landing page: what this API is and where everything is."""
    _check(("f",))
    fmt = _format()
    body = {
        "title": "Carte citoyenne – OGC API Features",
        "description": "Published contributions of the city's participative map, with "
                       "categories and administrative areas. " + ATTRIBUTION,
        "attribution": ATTRIBUTION,
        "links": [
            *_alternates(".landing", fmt),
            {"rel": "service-desc", "type": OPENAPI, "title": "The API definition",
             "href": _url(".openapi")},
            {"rel": "service-doc", "type": HTML, "title": "The API documentation",
             "href": _url(".openapi", f="html")},
            {"rel": "conformance", "type": JSON, "title": "Conformance classes",
             "href": _url(".conformance")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance", "type": JSON,
             "title": "Conformance classes", "href": _url(".conformance")},
            {"rel": "data", "type": JSON, "title": "Collections",
             "href": _url(".collections")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/data", "type": JSON,
             "title": "Collections", "href": _url(".collections")},
            *_licence_links(),
        ],
    }
    if fmt == "html":
        return _html("landing", doc=body)
    return _json(body)


@bp.get("/conformance")
def conformance() -> Response:
    """The conformance classes this API implements."""
    _check(("f",))
    fmt = _format()
    body = {"conformsTo": CONFORMANCE,
            "links": _alternates(".conformance", fmt)}
    if fmt == "html":
        return _html("conformance", doc=body)
    return _json(body)


@bp.get("/api")
def openapi() -> Response:
    """The OpenAPI 3.0 definition of this API (HTML: a readable summary of it)."""
    _check(("f",))
    fmt = _format()
    with _conn() as conn:
        cats = categories(conn)
    doc = openapi_document(_url(".landing").rstrip("/"), [c.slug for c in cats],
                           max_limit=MAX_LIMIT, default_limit=DEFAULT_LIMIT)
    if fmt == "html":
        return _html("openapi", doc=doc)
    return _json(doc, mimetype="application/vnd.oai.openapi+json")


def _collection(cid: str, title: str, description: str, extent: list[float] | None,
                *, temporal: bool) -> dict[str, Any]:
    items = _url(".items", cid=cid)
    body: dict[str, Any] = {
        "id": cid, "title": title, "description": description, "itemType": "feature",
        "crs": [CRS84], "storageCrs": CRS84,
        "attribution": ATTRIBUTION,
        "links": [
            {"rel": "self", "type": JSON, "href": _url(".collection", cid=cid)},
            {"rel": "alternate", "type": HTML, "href": _url(".collection", cid=cid, f="html")},
            {"rel": "items", "type": GEOJSON, "title": "Items as GeoJSON", "href": items},
            {"rel": "items", "type": HTML, "title": "Items as HTML",
             "href": _url(".items", cid=cid, f="html")},
            *_licence_links(),
        ],
    }
    if extent is not None:
        body["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84}}
        if temporal:
            body["extent"]["temporal"] = {
                "interval": [[None, None]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return body


def _collections(conn: Connection) -> list[dict[str, Any]]:
    extent = city_extent(conn)
    out = [_collection(ALL, "Toutes les contributions publiées / All published features",
                       "Every published feature of every category.", extent, temporal=True)]
    out += [_collection(c.slug, f"{c.label_fr} / {c.label_en}",
                        c.description_fr or c.description_en or c.label_en, extent,
                        temporal=c.kind == "event")
            for c in categories(conn)]
    city = current_city()
    levels = [(lv.names.get("fr", lv.slug), lv.names.get("en", lv.slug), lv.expected_count)
              for lv in city.levels]
    out.append(_collection(
        AREAS, f"{' et '.join(fr + 's' for fr, _, _ in reversed(levels)).capitalize()} / Areas",
        f"{city.name('en')}, its " + " and ".join(f"{n} {en}s" for _, en, n in levels)
        + f" ({city.attribution[0]}).", extent, temporal=False))
    return out


def _find(conn: Connection, cid: str) -> CategoryInfo | str:
    """The collection ``cid``: the string for the fixed ones, a category, or a 404."""
    if cid in (ALL, AREAS):
        return cid
    found = category(conn, cid) if len(cid) <= 64 else None
    if found is None:
        abort(404, description=f"There is no collection {cid[:80]!r}.")
    return found


@bp.get("/collections")
def collections() -> Response:
    """Every collection, with its extent and links."""
    _check(("f",))
    fmt = _format()
    with _conn() as conn:
        cols = _collections(conn)
    body = {"collections": cols,
            "links": [*_alternates(".collections", fmt), *_licence_links()]}
    if fmt == "html":
        return _html("collections", doc=body)
    return _json(body)


@bp.get("/collections/<cid>")
def collection(cid: str) -> Response:
    """One collection's description."""
    _check(("f",))
    fmt = _format()
    with _conn() as conn:
        _find(conn, cid)
        body = next(c for c in _collections(conn) if c["id"] == cid)
    if fmt == "html":
        return _html("collection", doc=body)
    return _json(body)


def _page_links(cid: str, fmt: str, *, limit: int, offset: int, has_more: bool,
                returned: int) -> list[dict[str, str]]:
    args = {k: v for k, v in request.args.items() if k != "f"}
    me = {"json": GEOJSON, "html": HTML}
    links = [{"rel": "self" if fmt == f else "alternate", "type": me[f],
              "href": _url(".items", cid=cid, **{**args, "f": f})} for f in ("json", "html")]
    ftype = {"f": fmt} if fmt == "html" else {}
    if has_more:
        links.append({"rel": "next", "type": me[fmt], "title": "Next page",
                      "href": _url(".items", cid=cid, **{**args, **ftype, "limit": str(limit),
                                                         "offset": str(offset + limit)})})
    if offset > 0:
        links.append({"rel": "prev", "type": me[fmt], "title": "Previous page",
                      "href": _url(".items", cid=cid, **{**args, **ftype, "limit": str(limit),
                                                         "offset": str(max(0, offset - limit))})})
    links.append({"rel": "collection", "type": JSON, "href": _url(".collection", cid=cid)})
    return links


@bp.get("/collections/<cid>/items")
def items(cid: str) -> Response:
    """A page of a collection's features (GeoJSON FeatureCollection, or HTML)."""
    args = request.args.to_dict(flat=False)
    extra = ("category",) if cid == ALL else ()
    _check(ITEM_PARAMS + extra)
    fmt = _format(features=True)
    _check_crs(args)
    bbox = parse_bbox(single(args, "bbox"), allow_3d=True)
    interval = parse_datetime(single(args, "datetime"))
    limit = parse_int(single(args, "limit"), name="limit", default=DEFAULT_LIMIT,
                      minimum=1, maximum=MAX_LIMIT)
    offset = parse_int(single(args, "offset"), name="offset", default=0, minimum=0,
                       maximum=BIGINT_MAX)
    with _conn() as conn:
        found = _find(conn, cid)
        if found == AREAS:
            page = area_page(conn, AreaFilter(bbox=bbox), limit=limit, offset=offset)
        else:
            if isinstance(found, CategoryInfo):
                cats: tuple[str, ...] | None = (found.slug,)
            else:
                chosen = parse_slugs(single(args, "category"), name="category")
                cats = tuple(chosen) if chosen is not None else None
            page = feature_page(conn, FeatureFilter(bbox=bbox, categories=cats,
                                                    interval=interval),
                                levels=current_city().levels, limit=limit, offset=offset,
                                public_url=current_app.config.get("PUBLIC_URL"))  # photos' URLs
    links = _page_links(cid, fmt, limit=limit, offset=offset, has_more=page.has_more,
                        returned=page.returned)
    meta: dict[str, Any] = {"numberReturned": page.returned}
    if page.matched is not None:
        meta["numberMatched"] = page.matched
    meta["timeStamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta["links"] = links
    body = feature_collection(page.features_json, meta)
    if fmt == "html":
        return _html("items", doc=jsonlib.loads(body), cid=cid, offset=offset)
    response = _json(body, mimetype=GEOJSON)
    response.headers["Content-Crs"] = f"<{CRS84}>"
    return response


@bp.get("/collections/<cid>/items/<fid>")
def item(cid: str, fid: str) -> Response:
    """One feature (or area) by its id."""
    _check(("f", "crs"))
    _check_crs(request.args.to_dict(flat=False))
    fmt = _format(features=True)
    with _conn() as conn:
        found = _find(conn, cid)
        if found == AREAS:
            text = area_item(conn, fid) if len(fid) <= 16 else None
        else:
            feature_id = parse_feature_id(fid)
            cat = found.slug if isinstance(found, CategoryInfo) else None
            text = feature_item(conn, feature_id, levels=current_city().levels, category=cat,
                                public_url=current_app.config.get("PUBLIC_URL"))  # photos' URLs
    if text is None:
        abort(404, description=f"There is no item {fid[:40]!r} in collection {cid!r}.")
    doc = jsonlib.loads(text)
    me = {"json": GEOJSON, "html": HTML}
    doc["links"] = [
        *({"rel": "self" if fmt == f else "alternate", "type": me[f],
           "href": _url(".item", cid=cid, fid=fid, f=f)} for f in ("json", "html")),
        {"rel": "collection", "type": JSON, "href": _url(".collection", cid=cid)},
        *_licence_links(),
    ]
    if fmt == "html":
        return _html("item", doc=doc, cid=cid)
    response = _json(doc, mimetype=GEOJSON)
    response.headers["Content-Crs"] = f"<{CRS84}>"
    return response
