"""Tile serving: ``/tiles/<layer>.json`` and the z/x/y endpoints, from the archives.

Layers: ``features`` (the points, vector), ``density`` and ``base`` (raster), and
``basemap`` (the offline vector basemap of :mod:`tiles.basemap`; its TileJSON is a 404
when the city has none, which the map page reads as "no basemap").

Views stay thin: parse the address, read one row of an MBTiles file, answer. Tiles are
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
import os
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from geo.tilemath import valid_tile
from tiles.archive import MBTiles, tilejson
from tiles.errors import ArchiveError

from .web import problem

__all__ = ["bp"]

log = logging.getLogger(__name__)

bp = Blueprint("tiles", __name__, url_prefix="/tiles")

LAYERS = {  # url name: (archive, media type, stored gzipped)
    "features": ("features.mbtiles", "application/vnd.mapbox-vector-tile", True),
    "density": ("density.mbtiles", "image/png", False),
    "base": ("base.mbtiles", "image/png", False),
    "basemap": ("basemap.mbtiles", "application/vnd.mapbox-vector-tile", True),
}
EXTENSION = {"features": "mvt", "density": "png", "base": "png", "basemap": "mvt"}
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=600"
_NUMBER = re.compile(r"\d{1,10}")

_local = threading.local()


def _archive(name: str) -> tuple[MBTiles, dict[str, str]] | None:
    """The archive of layer ``name`` under the app's ``VAR_DIR`` (see :func:`open_archive`)."""
    return open_archive(Path(current_app.config["VAR_DIR"]), name)


def open_archive(var_dir: Path, name: str) -> tuple[MBTiles, dict[str, str]] | None:
    """The calling thread's read-only connection to an archive, reopened after a full build.

    A full build renames a new file over the old one: the inode changes, and the next
    request opens the new file (a connection keeps reading the file it opened).
    """
    path = var_dir / "tiles" / LAYERS[name][0]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    cache = getattr(_local, "archives", None)
    if cache is None:
        cache = _local.archives = {}
    stamp = (st.st_ino, st.st_dev)
    entry = cache.get(str(path))
    if entry is not None and entry[0] == stamp:
        mb, meta, gen = entry[1], entry[2], entry[3]
        # In-place (incremental) updates change the metadata's generation.
        if gen != st.st_mtime_ns:
            meta = mb.metadata()
            cache[str(path)] = (stamp, mb, meta, st.st_mtime_ns)
        return mb, meta
    if entry is not None:
        entry[1].close()
    mb = MBTiles(path, readonly=True)
    meta = mb.metadata()
    cache[str(path)] = (stamp, mb, meta, st.st_mtime_ns)
    return mb, meta


def _address(z: str, x: str, y: str) -> tuple[int, int, int] | None:
    if not (_NUMBER.fullmatch(z) and _NUMBER.fullmatch(x) and _NUMBER.fullmatch(y)):
        return None
    zi, xi, yi = int(z), int(x), int(y)
    return (zi, xi, yi) if valid_tile(zi, xi, yi, max_zoom=24) else None


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
    url = f"{request.url_root.rstrip('/')}/tiles/{layer}/{{z}}/{{x}}/{{y}}.{EXTENSION[layer]}"
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
    address = _address(z, x, y)
    if address is None:
        return problem(400, "Bad Request",
                       detail="z/x/y must be integers with 0 <= z <= 24 and 0 <= x, y < 2**z.")
    if layer == "features" and request.query_string:
        return filtered_tile(*address)
    try:
        found = _archive(layer)
        if found is None:
            return _not_built(layer)
        mb, meta = found
        if address[0] > int(meta.get("maxzoom", 24)) or \
                address[0] < int(meta.get("minzoom", 0)):
            return problem(404, "Not Found",
                           detail=f"This layer has zooms {meta.get('minzoom')} to "
                                  f"{meta.get('maxzoom')}.")
        row = mb.get(*address)
    except (ArchiveError, sqlite3.Error, ValueError) as exc:
        return _unreadable(exc)
    headers = {"Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*"}
    if row is None:
        return Response(status=204, headers=headers)
    data, tile_id = row
    etag = f'"{tile_id}"'
    headers["ETag"] = etag
    media, gzipped = LAYERS[layer][1], LAYERS[layer][2]
    if gzipped:
        headers["Vary"] = "Accept-Encoding"
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    if gzipped:
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            headers["Content-Encoding"] = "gzip"
        else:
            data = gzip.decompress(data)
    return Response(data, status=200, mimetype=media, headers=headers)


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
    return Response(data, status=200, mimetype=LAYERS["features"][1], headers=headers)


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
