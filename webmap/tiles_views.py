"""Tile serving: ``/tiles/<layer>.json`` and the z/x/y endpoints, from the archives.

Layers: ``features`` (the points, vector), ``density`` and ``base`` (raster), and
``basemap`` (the offline vector basemap of :mod:`tiles.basemap`; its TileJSON is a 404
when the city has none, which the map page reads as "no basemap").

Views stay thin: the answer itself (address check, archive row, ETag, 304, gzip, 204,
the errors' status and detail) is :func:`tiles.answer.tile_answer`, the same function
the WSGI fast path (:mod:`webmap.tile_fastpath`) calls; the view only turns an error
into problem+json. Tiles are
stored gzipped and sent as they are (``Content-Encoding: gzip``) to clients that accept
it; the tile's content hash is its ETag, so a revalidation costs no bytes. ``204`` for a
tile with nothing in it, ``400`` for an address that cannot exist, ``404`` beyond the
archive's zooms or before the first build, ``503`` if an archive cannot be read: never
a 500.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from tiles.answer import LAYERS, open_archive, parse_address, tile_answer
from tiles.archive import MBTiles, tilejson
from tiles.errors import ArchiveError

from .web import problem

__all__ = ["bp"]

log = logging.getLogger(__name__)

bp = Blueprint("tiles", __name__, url_prefix="/tiles")


def _archive(name: str) -> tuple[MBTiles, dict[str, str]] | None:
    """The archive of layer ``name`` under the app's ``VAR_DIR`` (see :func:`open_archive`)."""
    return open_archive(Path(current_app.config["VAR_DIR"]), name)


def _not_built(name: str) -> Response:
    return problem(404, "Not Found", detail=f"The {name} tiles have not been built yet.")


def _unreadable(exc: Exception) -> Response:
    log.error("tile archive unreadable: %s", exc)
    response = problem(503, "Service Unavailable",
                       detail="The tile archive cannot be read right now; try again shortly.")
    response.headers["Retry-After"] = "5"
    return response


@bp.get("/<layer>.json")
def layer_tilejson(layer: str) -> Response:
    """TileJSON 3.0.0 of a layer, with an absolute tile URL template."""
    if layer not in LAYERS:
        return problem(404, "Not Found", detail=f"No tile layer named {layer!r}.")
    try:
        found = _archive(layer)
    except (ArchiveError, sqlite3.Error) as exc:
        return _unreadable(exc)
    if found is None:
        return _not_built(layer)
    root = request.url_root.rstrip("/")
    url = f"{root}/tiles/{layer}/{{z}}/{{x}}/{{y}}.{LAYERS[layer].extension}"
    response = jsonify(tilejson(found[1], tiles_url=url))
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/features/<z>/<x>/<y>.mvt", defaults={"layer": "features"})
@bp.get("/density/<z>/<x>/<y>.png", defaults={"layer": "density"})
@bp.get("/base/<z>/<x>/<y>.png", defaults={"layer": "base"})
@bp.get("/basemap/<z>/<x>/<y>.mvt", defaults={"layer": "basemap"})
def tile(layer: str, z: str, x: str, y: str) -> Response:
    """One tile of ``layer``: bytes, ETag and caching headers, or 204 when empty.

    One static route per layer: werkzeug matches them several times faster than one
    route with a ``<layer>`` and an ``<ext>`` part.
    """
    if layer == "features" and request.query_string:
        address = parse_address(z, x, y)
        if address is not None:
            return filtered_tile(*address)
    status, headers, body, detail = tile_answer(
        Path(current_app.config["VAR_DIR"]), layer, z, x, y,
        if_none_match=request.headers.get("If-None-Match", ""),
        accept_encoding=request.headers.get("Accept-Encoding", ""))
    if status == 404 and layer == "features" and _archive("features") is None:
        # Before the first build (a new city, a fresh install) the points are drawn
        # from the live filter index: a map with its places, not "could not be drawn".
        address = parse_address(z, x, y)
        if address is not None:
            return filtered_tile(*address)
    if detail:
        response = problem(status, _TITLES[status], detail=detail)
        response.headers.extend(headers)
        return response
    return Response(body if status == 200 else None, status=status, headers=headers)


_TITLES = {400: "Bad Request", 404: "Not Found", 503: "Service Unavailable"}


FILTERED_CACHE_CONTROL = "public, max-age=30"
PREWARM_DELAY_S = 3.0


def filtered_tile(z: int, x: int, y: int) -> Response:
    """``/tiles/features/{z}/{x}/{y}.mvt?<filters>``: a tile of exactly the filtered set.

    Built on request with the archive's layer schema and geometry rules
    (:mod:`tiles.filtered`): cluster cells below the archive's deepest zoom, points at
    it, from the process's in-memory filter index (:mod:`webmap.filtered_tiles`).
    Gzipped, an ETag of its content, cached 30 s. The filter parameters and their
    meaning are those of ``/api/v1/features``
    (:func:`webmap.api_features.filter_from_args`), events that are over left out.
    """
    from tiles.filtered import TileSpec

    from .api_features import FILTER_PARAMS, filter_from_args, parameter_problem
    from .filtered_tiles import index_for, point_filter
    from .ogc.params import BadParameter

    try:
        flt = filter_from_args(request.args.to_dict(flat=False), known=FILTER_PARAMS)
    except BadParameter as exc:
        return parameter_problem(exc)
    options = current_app.config["SETTINGS"].tiles
    max_zoom, buffer, cap = options.max_zoom, options.buffer, 0
    try:
        found = _archive("features")
    except (ArchiveError, sqlite3.Error) as exc:
        return _unreadable(exc)
    if found is not None:
        carte = _carte(found[1])
        max_zoom = int(carte.get("max_zoom", max_zoom))
        buffer = int(carte.get("buffer", buffer))
        cap = int(carte.get("cap") or 0)
    if z > max_zoom:
        return problem(404, "Not Found", detail=f"This layer has zooms 0 to {max_zoom}.")
    spec = TileSpec(z, x, y, max_zoom=max_zoom, buffer=buffer,
                    cluster_cell=options.cluster_cell)
    data = index_for(max_zoom).tile(spec, point_filter(flt),
                                    cap=cap or options.max_tile_bytes // 20,
                                    title_chars=options.title_chars)
    headers = {"Cache-Control": FILTERED_CACHE_CONTROL, "Access-Control-Allow-Origin": "*"}
    if not data:
        return Response(status=204, headers=headers)
    etag = '"f-' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
    headers.update(ETag=etag, Vary="Accept-Encoding")
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        data = gzip.compress(data, compresslevel=options.gzip_level, mtime=0)
    return Response(data, status=200, mimetype=LAYERS["features"].media_type, headers=headers)


def _carte(meta: dict[str, str]) -> dict[str, Any]:
    try:
        value = json.loads(meta.get("carte", "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _archive_max_zoom(var_dir: Path, default: int) -> int:
    found = open_archive(var_dir, "features")
    return int(_carte(found[1]).get("max_zoom", default)) if found else default


@bp.before_app_request
def _prewarm_filter_index() -> None:
    """Load the filtered tiles' index in the background at a process's first request.

    Reading a million points takes about 3 s: done while the resident reads the page,
    not when they first touch a filter; it starts a few seconds after that first
    request, so that it does not compete with the page's first tiles. Not in tests
    (each test makes its own app).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.testing or app.extensions.get("filter_index_warming"):
        return
    app.extensions["filter_index_warming"] = True

    def warm() -> None:
        from .filtered_tiles import index_for

        time.sleep(PREWARM_DELAY_S)
        try:
            index_for(_archive_max_zoom(Path(app.config["VAR_DIR"]),
                                        app.config["SETTINGS"].tiles.max_zoom), app)
        except Exception:  # the first filtered tile will try again and answer
            log.exception("could not load the filter index")

    threading.Thread(target=warm, name="filter-index", daemon=True).start()
