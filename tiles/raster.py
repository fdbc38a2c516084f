"""Raster layers: density surface (COG + PNG tiles) and offline base layer.

The density grid is aligned on the Web Mercator pixel grid of zoom ``DENSITY_ZOOM``
(so its PNG tiles are plain windows of the GeoTIFF, read through its overviews, with no
reprojection), counts points per pixel, smooths them with three box blurs (a cheap
Gaussian) and stores points per hectare in an EPSG:3857 COG, which is also the open-data
download. The base layer paints the city, arrondissements and quartiers from table
``area`` so that the map needs no third-party base map.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from geo.tilemath import ORIGIN_SHIFT

from .archive import atomic_path, write_all
from .options import WORLD_BOUNDS, TileOptions
from .points import EXTENT_BITS, PointSet

__all__ = ["BASE_ZOOMS", "DENSITY_ZOOM", "build_base", "build_density", "density_ramp"]

DENSITY_ZOOM = 13  # grid of 256-px tiles at z13: ~12.6 m pixels in Paris
DENSITY_MIN_ZOOM = 8
SNAP_ZOOM = 10  # the grid spans whole z10 tiles
BLUR_RADIUS = 3  # pixels, each of the three passes
BASE_ZOOMS = range(9, 15)  # clients overzoom beyond z14
PIXEL = 256


def _box_blur(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Mean over 2r+1 pixels along ``axis`` (zero outside), by one cumulative sum."""
    a = np.moveaxis(a, axis, 0)
    c = np.zeros((a.shape[0] + 2 * r + 1, *a.shape[1:]), dtype=np.float32)
    np.cumsum(a, axis=0, dtype=np.float32, out=c[r + 1:a.shape[0] + r + 1])
    c[a.shape[0] + r + 1:] = c[a.shape[0] + r]
    out = c[2 * r + 1:] - c[:-2 * r - 1]
    out /= 2 * r + 1
    return np.moveaxis(out, 0, axis)


def density_grid(points: PointSet) -> tuple[np.ndarray, int, int]:
    """Smoothed points per hectare and the grid's origin (x0, y0) in z``DENSITY_ZOOM`` pixels."""
    shift = points.max_zoom + EXTENT_BITS - (DENSITY_ZOOM + 8)
    px, py = points.gx >> shift, points.gy >> shift
    snap = 1 << (DENSITY_ZOOM - SNAP_ZOOM + 8)
    x0, y0 = int(px.min()) // snap * snap, int(py.min()) // snap * snap
    w = (int(px.max()) // snap + 1) * snap - x0
    h = (int(py.max()) // snap + 1) * snap - y0
    grid = np.bincount((py - y0) * w + (px - x0), minlength=w * h).astype(np.float32)
    grid = grid.reshape(h, w)
    for _ in range(3):
        grid = _box_blur(_box_blur(grid, BLUR_RADIUS, 1), BLUR_RADIUS, 0)
    # Pixel side on the ground: Web Mercator scale shrinks by cos(latitude).
    res = 2 * ORIGIN_SHIFT / (1 << (DENSITY_ZOOM + 8))
    lat = np.degrees(2 * np.arctan(np.exp((ORIGIN_SHIFT - (y0 + h / 2) * res) / 6378137.0))
                     - np.pi / 2)
    hectares = (res * math.cos(math.radians(float(lat)))) ** 2 / 10_000
    return (grid / hectares).astype(np.float32), x0, y0


def density_ramp(values: np.ndarray, vmax: float) -> np.ndarray:
    """RGBA colours (yellow to dark red, transparent where there is nothing)."""
    t = np.clip(values / vmax, 0, 1) if vmax > 0 else np.zeros_like(values)
    stops = np.array([[255, 237, 160], [254, 178, 76], [240, 59, 32], [128, 0, 38]],
                     dtype=np.float32)
    pos = t * (len(stops) - 1)
    i = np.minimum(pos.astype(int), len(stops) - 2)
    f = (pos - i)[..., None]
    rgb = stops[i] * (1 - f) + stops[i + 1] * f
    alpha = np.where(values > vmax * 0.01, 60 + 170 * np.sqrt(t), 0)
    return np.dstack([rgb, alpha]).astype(np.uint8)


def build_density(points: PointSet, directory: Path, options: TileOptions | None = None
                  ) -> dict[str, Any]:
    """Write ``density.tif`` (COG with overviews) and ``density.mbtiles`` (PNG tiles).

    ``options`` give the archive's attribution and its extent when empty (the city's).
    """
    import rasterio
    from affine import Affine
    from rasterio.shutil import copy as rio_copy

    grid, x0, y0 = density_grid(points)
    res = 2 * ORIGIN_SHIFT / (1 << (DENSITY_ZOOM + 8))
    transform = Affine(res, 0.0, -ORIGIN_SHIFT + x0 * res, 0.0, -res, ORIGIN_SHIFT - y0 * res)
    profile = {"driver": "GTiff", "width": grid.shape[1], "height": grid.shape[0],
               "count": 1, "dtype": "float32", "crs": "EPSG:3857", "transform": transform,
               "nodata": None, "tiled": True, "blockxsize": 256, "blockysize": 256}
    tif = directory / "density.tif"
    vmax = float(np.percentile(grid[grid > 0], 99.5)) if (grid > 0).any() else 1.0
    with rasterio.MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(grid, 1)
            ds.update_tags(units="points per hectare", source="Carte citoyenne",
                           vmax=str(vmax))
            ds.set_band_description(1, "density of published features (points/ha)")
        del grid
        with mem.open() as src, atomic_path(tif) as tmp:
            rio_copy(src, tmp, driver="COG", compress="DEFLATE", predictor=3,
                     overview_resampling="average", blocksize=256)
    tiles = []
    with rasterio.open(tif) as ds:
        for z in range(DENSITY_MIN_ZOOM, DENSITY_ZOOM + 1):
            f = 1 << (DENSITY_ZOOM - z)  # grid pixels per tile pixel
            tx0, ty0 = x0 // (PIXEL * f), y0 // (PIXEL * f)
            tx1 = (x0 + ds.width - 1) // (PIXEL * f)
            ty1 = (y0 + ds.height - 1) // (PIXEL * f)
            for tx in range(tx0, tx1 + 1):
                for ty in range(ty0, ty1 + 1):
                    a = _read_tile(ds, tx * PIXEL * f - x0, ty * PIXEL * f - y0, f)
                    if not (a > vmax * 0.01).any():
                        continue
                    buf = io.BytesIO()
                    Image.fromarray(density_ramp(a, vmax), "RGBA").save(buf, "PNG",
                                                                        compress_level=3)
                    tiles.append((z, tx, ty, buf.getvalue()))
    _write_png_archive(directory / "density.mbtiles", tiles, "Carte citoyenne: density",
                       DENSITY_MIN_ZOOM, DENSITY_ZOOM, options or TileOptions())
    return {"tiles": len(tiles), "vmax": vmax}


def _read_tile(ds: Any, col: int, row: int, f: int) -> np.ndarray:
    """A 256-px tile of the grid, ``f`` grid pixels per tile pixel, zero outside.

    The window is clipped to the raster by hand (whole tile pixels, as the grid is
    snapped to tiles): rasterio's boundless reads go through a deprecated code path.
    """
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    out = np.zeros((PIXEL, PIXEL), dtype=np.float32)
    c0, r0 = max(col, 0), max(row, 0)
    c1, r1 = min(col + PIXEL * f, ds.width), min(row + PIXEL * f, ds.height)
    if c1 <= c0 or r1 <= r0:
        return out
    ow, oh = (c1 - c0) // f, (r1 - r0) // f
    data = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), out_shape=(oh, ow),
                   resampling=Resampling.average)
    ox, oy = (c0 - col) // f, (r0 - row) // f
    out[oy:oy + oh, ox:ox + ow] = data
    return out


def _write_png_archive(path: Path, tiles: list[tuple[int, int, int, bytes]], name: str,
                       minzoom: int, maxzoom: int, options: TileOptions) -> None:
    from geo.tilemath import tile_bounds_lonlat

    if tiles:
        low = [t for t in tiles if t[0] == minzoom] or tiles
        bs = [tile_bounds_lonlat(z, x, y) for z, x, y, _ in low]
        bounds = (min(b.west for b in bs), min(b.south for b in bs),
                  max(b.east for b in bs), max(b.north for b in bs))
    else:
        bounds = options.bounds or WORLD_BOUNDS
    write_all(path, tiles, {
        "name": name, "format": "png", "type": "overlay", "version": "1.0.0",
        "minzoom": str(minzoom), "maxzoom": str(maxzoom),
        "bounds": ",".join(f"{v:.6f}" for v in bounds),
        "center": f"{(bounds[0] + bounds[2]) / 2:.6f},{(bounds[1] + bounds[3]) / 2:.6f},12",
        "attribution": options.attribution})


_STYLE = {  # kind: (fill, outline, width at z13)
    "city": ((246, 243, 236, 255), (90, 90, 100, 255), 3),
    "level1": (None, (140, 140, 150, 255), 2),  # Paris: arrondissements
    "level2": (None, (190, 190, 195, 255), 1),  # quartiers, and any deeper level
}


def _rings(geom: Any) -> Iterator[list[tuple[float, float]]]:
    for poly in getattr(geom, "geoms", [geom]):
        yield list(poly.exterior.coords)
        for hole in poly.interiors:
            yield list(hole.coords)


def _parts(geom: Any) -> Iterator[list[tuple[float, float]]]:
    """Coordinate lists of the lines or polygon rings of any geometry."""
    if geom.is_empty:
        return
    if hasattr(geom, "geoms"):
        for g in geom.geoms:
            yield from _parts(g)
    elif geom.geom_type == "Polygon":
        yield from _rings(geom)
    else:
        yield list(geom.coords)


def render_base_tile(shapes: list[tuple[str, Any]], z: int, x: int, y: int) -> bytes | None:
    """One 256-px PNG of the boundaries (EPSG:3857 shapes), or None if nothing shows."""
    from shapely import box, clip_by_rect

    size = 2 * ORIGIN_SHIFT / (1 << z)
    west, north = -ORIGIN_SHIFT + x * size, ORIGIN_SHIFT - y * size
    bbox = box(west, north - size, west + size, north)
    scale = PIXEL / size
    img = Image.new("RGBA", (PIXEL, PIXEL), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    pad = size * 0.02
    visible = [(k, g) for k, g in shapes if g.intersects(bbox)]
    drawn = bool(visible)
    # City fill first, then the deeper levels, the first level and the city outline on
    # top; each outline is clipped to the tile (plus a margin) before Pillow draws it.
    for kind, what in (("city", "fill"), ("level2", "line"), ("level1", "line"),
                       ("city", "line")):
        fill, outline, width = _STYLE[kind]
        w = max(1, round(width * 2 ** ((z - 13) / 2)))
        for k, geom in visible:
            if k != kind:
                continue
            part = clip_by_rect(geom if what == "fill" else geom.boundary,
                                west - pad, north - size - pad, west + size + pad, north + pad)
            for coords in _parts(part):
                pts = [((gx - west) * scale, (north - gy) * scale) for gx, gy in coords]
                if len(pts) < 2:
                    continue
                if what == "fill" and fill is not None and len(pts) > 2:
                    draw.polygon(pts, fill=fill)
                elif what == "line":
                    draw.line(pts, fill=outline, width=w)
    if not drawn:
        return None
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def build_base(engine: Any, directory: Path, options: TileOptions | None = None) -> int:
    """Render ``base.mbtiles`` from table ``area``; returns the number of tiles.

    ``options`` give the archive's attribution (the city's lines) and empty extent.
    """
    from shapely import from_wkb
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(text(
            # Styled by depth: the outline, the first level's lines, the second's.
            "SELECT CASE depth WHEN 0 THEN 'city' WHEN 1 THEN 'level1' "
            "ELSE 'level2' END, ST_AsBinary(ST_Transform(geom, 3857)) FROM area "
            "ORDER BY depth, code")).all()
    shapes = [(kind, from_wkb(bytes(wkb))) for kind, wkb in rows]
    if not shapes:
        return 0
    minx = min(g.bounds[0] for _, g in shapes)
    miny = min(g.bounds[1] for _, g in shapes)
    maxx = max(g.bounds[2] for _, g in shapes)
    maxy = max(g.bounds[3] for _, g in shapes)
    tiles = []
    for z in BASE_ZOOMS:
        size = 2 * ORIGIN_SHIFT / (1 << z)
        for tx in range(int((minx + ORIGIN_SHIFT) // size), int((maxx + ORIGIN_SHIFT) // size)
                        + 1):
            for ty in range(int((ORIGIN_SHIFT - maxy) // size),
                            int((ORIGIN_SHIFT - miny) // size) + 1):
                png = render_base_tile(shapes, z, tx, ty)
                if png is not None:
                    tiles.append((z, tx, ty, png))
    _write_png_archive(directory / "base.mbtiles", tiles, "Carte citoyenne: base",
                       BASE_ZOOMS.start, BASE_ZOOMS.stop - 1, options or TileOptions())
    return len(tiles)
