"""The offline vector basemap: streets, water, parks, rail and names, as MVT tiles.

Built from the city's open data (:mod:`tiles.basemap_sources`) with the cartographic
rules of :mod:`tiles.basemap_rules`, for zooms 11–16 (renderers overzoom z16 beyond):

1. every layer is read once and projected to Web Mercator;
2. per zoom, the features that show at that zoom are simplified once (Douglas-Peucker,
   one extent unit: 1/16 of a screen pixel on a 256-px tile, a quarter unit at z16,
   which is overzoomed) and put in an STRtree;
3. per tile, the tree gives the candidates, GEOS clips them to the tile plus a buffer,
   and they are moved to tile coordinates (vectorised: one ``shapely.transform`` a
   layer), then encoded with ``mapbox-vector-tile`` and gzipped.

``mapbox-vector-tile`` rather than our numpy encoder of :mod:`tiles.mvt`: that one writes
points; lines and polygons need the command encoding, the ring winding and the
zig-zag deltas that the library already does correctly, and the whole Paris build is
dominated by GEOS clipping anyway (see ``bench/basemap_build.py``).

Both archives are written atomically (a new file renamed over the old). The archive's
metadata keeps the digest of the sources and of :data:`BUILDER_VERSION`:
:func:`build_basemap` skips the build when it matches, unless forced.
"""

from __future__ import annotations

import gzip
import json
import logging
import sqlite3
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from pmtiles.reader import MmapSource
from pmtiles.reader import Reader as PMTilesReader
from pmtiles.tile import MagicNumberNotFound, SpecVersionUnsupported

from geo.city import City
from geo.tilemath import lonlat_to_tile

from . import basemap_rules as rules
from .archive import MBTiles, pmtiles_snapshot, write_all
from .basemap_sources import BasemapSources, LayerData, read_layers
from .errors import ArchiveError

__all__ = [
    "BASEMAP_MBTILES",
    "BASEMAP_PMTILES",
    "BUILDER_VERSION",
    "BasemapReport",
    "basemap_attribution",
    "basemap_digest",
    "build_basemap",
    "encode_tile",
    "needs_build",
    "tile_range",
    "zoom_layers",
]

log = logging.getLogger(__name__)

BUILDER_VERSION = "7"  # bump when the output changes for the same sources
BASEMAP_MBTILES, BASEMAP_PMTILES = "basemap.mbtiles", "basemap.pmtiles"
EXTENT = 4096
BUFFER = 64  # extent units around a tile: lines run on under a neighbour's labels
_WORLD = 2 * 20037508.342789244
_ORIGIN = 20037508.342789244


@dataclass
class BasemapReport:
    """What a basemap build did."""

    built: bool
    reason: str
    tiles: int = 0
    bytes: int = 0
    largest: int = 0
    per_zoom: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    digest: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (the CLI prints it)."""
        return {"built": self.built, "reason": self.reason, "tiles": self.tiles,
                "bytes": self.bytes, "largest_tile": self.largest,
                "per_zoom": {str(z): n for z, n in self.per_zoom.items()},
                "seconds": round(self.seconds, 2)}


def tile_range(bbox: tuple[float, float, float, float], z: int
               ) -> tuple[int, int, int, int]:
    """Columns and rows (x0, y0, x1, y1 inclusive) of the tiles covering ``bbox``."""
    west, south, east, north = bbox
    xs, ys = lonlat_to_tile(np.array([west, east]), np.array([north, south]), z)
    return int(xs[0]), int(ys[0]), int(xs[1]), int(ys[1])


def _tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = _WORLD / (1 << z)
    minx = -_ORIGIN + x * size
    maxy = _ORIGIN - y * size
    return minx, maxy - size, minx + size, maxy


@dataclass
class _ZoomLayer:
    """One layer at one zoom: its simplified geometries and their index."""

    name: str
    geoms: np.ndarray
    props: list[dict[str, Any]]
    tree: shapely.STRtree
    points: bool


def _prepare(layer: LayerData, z: int) -> _ZoomLayer | None:
    """The features of ``layer`` shown at zoom ``z``, simplified for it and indexed."""
    keep = np.flatnonzero(layer.minzoom <= z)
    if keep.size == 0:
        return None
    geoms = layer.geoms[keep]
    points = bool(np.all(shapely.get_type_id(geoms) == 0))
    if not points:
        tol = rules.simplify_tolerance(z, 0.25 if z >= rules.MAXZOOM else 1.0)
        geoms = shapely.simplify(geoms, tol, preserve_topology=True)
        alive = ~shapely.is_empty(geoms)
        geoms, keep = geoms[alive], keep[alive]
    return _ZoomLayer(layer.name, geoms, [layer.props[i] for i in keep],
                      shapely.STRtree(geoms), points)


def zoom_layers(layers: dict[str, LayerData], z: int) -> list[_ZoomLayer]:
    """Every layer as shown at zoom ``z``, in drawing order (empty layers left out)."""
    return [zl for name in rules.ordered_layers()
            if name in layers and (zl := _prepare(layers[name], z)) is not None]


def encode_tile(layers: list[_ZoomLayer], z: int, x: int, y: int) -> bytes | None:
    """The gzipped MVT of tile z/x/y from :func:`zoom_layers`, or ``None`` if empty.

    Lines and polygons are clipped to the tile plus :data:`BUFFER`; a label point goes
    only to the tile that contains it, so a renderer never places the label twice.
    """
    minx, miny, maxx, maxy = _tile_box(z, x, y)
    size = maxx - minx
    pad = size * BUFFER / EXTENT
    scale = EXTENT / size

    def to_tile(xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy)
        out[:, 0] = np.rint((xy[:, 0] - minx) * scale)
        out[:, 1] = np.rint((maxy - xy[:, 1]) * scale)
        return out

    encoded = []
    for zl in layers:
        if zl.points:  # a label point belongs to one tile only
            idx = zl.tree.query(shapely.box(minx, miny, maxx, maxy))
            px, py = shapely.get_x(zl.geoms[idx]), shapely.get_y(zl.geoms[idx])
            idx = idx[(minx <= px) & (px < maxx) & (miny < py) & (py <= maxy)]
            geoms = zl.geoms[idx]
        else:
            idx = zl.tree.query(shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad))
            if idx.size == 0:
                continue
            idx.sort()  # keep the source order (big parks under small ones)
            geoms = shapely.clip_by_rect(zl.geoms[idx], minx - pad, miny - pad,
                                         maxx + pad, maxy + pad)
        if idx.size == 0:
            continue
        geoms = shapely.transform(geoms, to_tile)
        features = [{"geometry": g, "properties": zl.props[i]}
                    for g, i in zip(geoms, idx, strict=True)
                    if not g.is_empty and (zl.points or g.length > 0)]
        if features:
            encoded.append({"name": zl.name, "features": features})
    if not encoded:
        return None
    data = mapbox_vector_tile.encode(
        encoded, default_options={"y_coord_down": True, "extents": EXTENT,
                                  "on_invalid_geometry": _drop_invalid})
    return gzip.compress(data, compresslevel=6, mtime=0)


def _drop_invalid(shape: Any) -> Any:
    """A polygon made invalid by rounding to the grid: repaired, or left out."""
    fixed = shapely.make_valid(shape)
    polys = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else shapely.union_all(polys)


def _tiles(layers: dict[str, LayerData], bbox: tuple[float, float, float, float],
           minzoom: int, maxzoom: int, stats: BasemapReport
           ) -> Iterator[tuple[int, int, int, bytes]]:
    for z in range(minzoom, maxzoom + 1):
        prepared = zoom_layers(layers, z)
        x0, y0, x1, y1 = tile_range(bbox, z)
        count = 0
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                data = encode_tile(prepared, z, x, y)
                if data is None:
                    continue
                count += 1
                stats.bytes += len(data)
                stats.largest = max(stats.largest, len(data))
                yield z, x, y, data
        stats.per_zoom[z] = count


def basemap_digest(sources: BasemapSources, bbox: tuple[float, float, float, float],
                   minzoom: int, maxzoom: int, attribution: str = "") -> str:
    """The digest that decides whether the archive is up to date.

    The attribution is part of it: a corrected licence line in ``city.json`` rebuilds.
    """
    salt = json.dumps({"version": BUILDER_VERSION, "bbox": [round(v, 6) for v in bbox],
                       "zooms": [minzoom, maxzoom], "attribution": attribution})
    return sources.digest(salt)


def _pmtiles_digest(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return PMTilesReader(MmapSource(f)).metadata().get("basemap_digest")
    except (OSError, ValueError, KeyError, IndexError, struct.error, MagicNumberNotFound,
            SpecVersionUnsupported):
        return None  # missing, truncated or not a PMTiles file: rebuild it


def needs_build(var_dir: Path, digest: str) -> bool:
    """Whether either archive is missing, unreadable or built from other sources.

    Both are checked: the MBTiles is renamed into place before the PMTiles copy is
    written, so a build killed between the two leaves an old PMTiles that the next
    build must replace.
    """
    directory = Path(var_dir) / "tiles"
    path = directory / BASEMAP_MBTILES
    if not path.is_file():
        return True
    try:
        with MBTiles(path, readonly=True) as mb:
            if mb.metadata().get("basemap_digest") != digest:
                return True
    except (ArchiveError, sqlite3.Error):
        return True
    return _pmtiles_digest(directory / BASEMAP_PMTILES) != digest


def basemap_attribution(city: City) -> str:
    """The attribution of the basemap: each source's line once, in ``city.json`` order."""
    return " · ".join(dict.fromkeys(s.attribution for s in city.basemap))


def _metadata(bbox: tuple[float, float, float, float], minzoom: int, maxzoom: int,
              digest: str, attribution: str) -> dict[str, Any]:
    descriptions, first = rules.layer_descriptions(), rules.layer_minzoom()
    west, south, east, north = bbox
    clon, clat = (west + east) / 2, (south + north) / 2
    return {
        "name": "basemap",
        "description": "Offline basemap of the city, built from its open data.",
        "version": "1.0.0",
        "format": "pbf",
        "type": "baselayer",
        "attribution": attribution,
        "minzoom": str(minzoom),
        "maxzoom": str(maxzoom),
        "bounds": f"{west:.6f},{south:.6f},{east:.6f},{north:.6f}",
        "center": f"{clon:.6f},{clat:.6f},{min(max(13, minzoom), maxzoom)}",
        "json": json.dumps({"vector_layers": [
            {"id": name, "description": descriptions[name],
             "minzoom": max(minzoom, first[name]), "maxzoom": maxzoom,
             "fields": rules.LAYER_FIELDS[name]}
            for name in rules.ordered_layers()]}, ensure_ascii=False),
        "basemap_digest": digest,
        "basemap_version": BUILDER_VERSION,
        "generator": "carte-citoyenne tiles.basemap",
    }


def build_basemap(city: City, var_dir: Path, *,
                  bbox: tuple[float, float, float, float] | None = None,
                  minzoom: int = rules.MINZOOM, maxzoom: int = rules.MAXZOOM,
                  force: bool = False) -> BasemapReport:
    """Build ``var/tiles/basemap.{mbtiles,pmtiles}`` from the city's basemap sources.

    Parameters
    ----------
    city
        The city (:func:`geo.city.load_city`): its ``basemap.sources`` name the files,
        its ``basemap.bbox`` (else its bounds) the extent, its sources' attribution
        lines the archive's attribution. A ``streets`` source must exist, the others
        are optional; without it nothing is built and nothing fails (``built=False``).
    var_dir
        The run-time directory; the archives go to ``var_dir/tiles/``.
    bbox
        West, south, east, north in degrees: the tiles to build (default: the city's
        basemap extent). A small one makes a test build take a second or two.
    minzoom, maxzoom
        Zoom range, within 11..16 for the published basemap.
    force
        Build even when the archive's digest says its sources have not changed.
    """
    started = time.perf_counter()
    sources = BasemapSources.from_city(city)
    if not sources.available():
        return BasemapReport(False, "no basemap sources")
    bbox = tuple(bbox or city.basemap_extent)  # type: ignore[assignment]
    if not (0 <= minzoom <= maxzoom <= 22):
        raise ValueError(f"bad zoom range {minzoom}..{maxzoom}")
    attribution = basemap_attribution(city)
    digest = basemap_digest(sources, bbox, minzoom, maxzoom, attribution)
    directory = Path(var_dir) / "tiles"
    if not force and not needs_build(var_dir, digest):
        return BasemapReport(False, "sources unchanged", digest=digest,
                             seconds=time.perf_counter() - started)
    layers = read_layers(sources)
    report = BasemapReport(True, "forced" if force else "sources changed", digest=digest)
    mbtiles = directory / BASEMAP_MBTILES
    report.tiles = write_all(mbtiles, _tiles(layers, bbox, minzoom, maxzoom, report),
                             _metadata(bbox, minzoom, maxzoom, digest, attribution))
    pmtiles_snapshot(mbtiles, directory / BASEMAP_PMTILES)
    report.seconds = time.perf_counter() - started
    log.info("basemap: %d tiles, %d bytes, largest %d, %.1f s", report.tiles, report.bytes,
             report.largest, report.seconds)
    return report
