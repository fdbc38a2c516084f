"""The answer to one tile request, framework-free: status, headers and body.

Both ways a tile is served call :func:`tile_answer`: the WSGI fast path in front of
Flask (:mod:`webmap.tile_fastpath`, the common answers without Flask's per-request
cost) and the Flask view (:mod:`webmap.tiles_views`, which turns the error answers
into problem+json). One function, so the two can never disagree on ETag, 304, gzip,
204 for an empty tile, 400 for an address that cannot exist, 404 beyond the archive's
zooms or before the first build, 503 for an archive that cannot be read.

It lives in ``tiles`` (which imports only ``geo``), so any other server — a CDN origin,
a small WSGI app on another host — can serve our archives the same way.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from geo.tilemath import valid_tile

from .archive import MBTiles
from .errors import ArchiveError

__all__ = ["CACHE_CONTROL", "LAYERS", "Layer", "TileAnswer", "open_archive",
           "parse_address", "tile_answer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Layer:
    """A served tile layer: its archive file, media type, storage and URL extension."""

    archive: str
    media_type: str
    gzipped: bool
    extension: str


MVT = "application/vnd.mapbox-vector-tile"
LAYERS: dict[str, Layer] = {  # url name -> layer
    "features": Layer("features.mbtiles", MVT, True, "mvt"),
    "density": Layer("density.mbtiles", "image/png", False, "png"),
    "base": Layer("base.mbtiles", "image/png", False, "png"),
    "basemap": Layer("basemap.mbtiles", MVT, True, "mvt"),
}
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=600"
_NUMBER = re.compile(r"\d{1,10}")

_local = threading.local()


class TileAnswer(NamedTuple):
    """What to send: ``status``, ``headers`` (in order), ``body``.

    For an error status (400, 404, 503) ``body`` is empty and ``detail`` says what went
    wrong in a sentence, for the caller to put in its problem+json.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    detail: str = ""


def open_archive(var_dir: Path, name: str) -> tuple[MBTiles, dict[str, str]] | None:
    """The calling thread's read-only connection to an archive, reopened after a full build.

    ``None`` when the archive has not been built. A full build renames a new file over
    the old one: the inode changes, and the next request opens the new file (a
    connection keeps reading the file it opened). In-place (incremental) updates change
    the file's mtime, and the metadata is read again.
    """
    path = Path(var_dir) / "tiles" / LAYERS[name].archive
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


def parse_address(z: str, x: str, y: str) -> tuple[int, int, int] | None:
    """``(z, x, y)`` as integers when they name a tile that can exist (z ≤ 24), else ``None``."""
    if not (_NUMBER.fullmatch(z) and _NUMBER.fullmatch(x) and _NUMBER.fullmatch(y)):
        return None
    zi, xi, yi = int(z), int(x), int(y)
    return (zi, xi, yi) if valid_tile(zi, xi, yi, max_zoom=24) else None


def tile_answer(var_dir: Path, layer: str, z: str, x: str, y: str, *,
                if_none_match: str = "", accept_encoding: str = "") -> TileAnswer:
    """Answer ``/tiles/<layer>/<z>/<x>/<y>.<ext>`` from the layer's archive under ``var_dir``.

    Parameters
    ----------
    var_dir
        The folder holding ``tiles/*.mbtiles``.
    layer
        A key of :data:`LAYERS`.
    z, x, y
        The address as it came in the path (checked here: a 400 if it cannot exist).
    if_none_match, accept_encoding
        The request's headers of those names ("" when absent).

    Returns
    -------
    TileAnswer
        200 with the tile (gzip as stored when the client accepts it, else inflated),
        204 for an empty tile, 304 when the ETag (the tile's content hash) matches;
        400, 404 or 503 with a ``detail``.
    """
    address = parse_address(z, x, y)
    if address is None:
        return TileAnswer(400, [], b"",
                          "z/x/y must be integers with 0 <= z <= 24 and 0 <= x, y < 2**z.")
    spec = LAYERS[layer]
    try:
        found = open_archive(var_dir, layer)
        if found is None:
            return TileAnswer(404, [], b"", f"The {layer} tiles have not been built yet.")
        mb, meta = found
        if not int(meta.get("minzoom", 0)) <= address[0] <= int(meta.get("maxzoom", 24)):
            return TileAnswer(404, [], b"", f"This layer has zooms {meta.get('minzoom')} to "
                                            f"{meta.get('maxzoom')}.")
        row = mb.get(*address)
    except (ArchiveError, sqlite3.Error, ValueError) as exc:
        log.error("tile archive unreadable: %s", exc)
        return TileAnswer(503, [("Retry-After", "5")], b"",
                          "The tile archive cannot be read right now; try again shortly.")
    headers = [("Cache-Control", CACHE_CONTROL), ("Access-Control-Allow-Origin", "*")]
    if row is None:
        return TileAnswer(204, headers, b"")
    data, tile_id = row
    etag = f'"{tile_id}"'
    headers.append(("ETag", etag))
    if spec.gzipped:
        headers.append(("Vary", "Accept-Encoding"))
    if etag in if_none_match:
        return TileAnswer(304, headers, b"")
    if spec.gzipped:
        if "gzip" in accept_encoding:
            headers.append(("Content-Encoding", "gzip"))
        else:
            data = gzip.decompress(data)
    headers.append(("Content-Type", spec.media_type))
    return TileAnswer(200, headers, data)
