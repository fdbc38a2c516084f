"""Web Mercator tile arithmetic (XYZ scheme, as mercantile), pure and vectorised.

Scalars for one point, numpy arrays for millions: the tile builder computes each
point's tile keys once for every zoom rather than querying tile by tile.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = [
    "EARTH_RADIUS",
    "MAX_LATITUDE",
    "ORIGIN_SHIFT",
    "Tile",
    "TileBounds",
    "lonlat_to_mercator",
    "lonlat_to_tile",
    "mercator_to_lonlat",
    "parent",
    "tile_bounds_lonlat",
    "tile_bounds_mercator",
    "tiles_for_point",
    "valid_tile",
]

EARTH_RADIUS = 6378137.0
ORIGIN_SHIFT = math.pi * EARTH_RADIUS  # half the width of the Web Mercator square, metres
MAX_LATITUDE = 85.0511287798066  # latitude where Web Mercator becomes a square


class Tile(NamedTuple):
    """An XYZ tile: ``y`` grows southwards, as in every slippy map."""

    z: int
    x: int
    y: int


class TileBounds(NamedTuple):
    """A tile's extent: west, south, east, north."""

    west: float
    south: float
    east: float
    north: float


def valid_tile(z: int, x: int, y: int, *, max_zoom: int = 24) -> bool:
    """Whether ``(z, x, y)`` names a tile that exists at or below ``max_zoom``."""
    return 0 <= z <= max_zoom and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def lonlat_to_mercator(lon: npt.ArrayLike, lat: npt.ArrayLike
                       ) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:4326 degrees to EPSG:3857 metres; latitudes are clamped to the square."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.clip(np.asarray(lat, dtype=np.float64), -MAX_LATITUDE, MAX_LATITUDE)
    x = np.radians(lon) * EARTH_RADIUS
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * EARTH_RADIUS
    return x, y


def mercator_to_lonlat(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3857 metres to EPSG:4326 degrees."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lon = np.degrees(x / EARTH_RADIUS)
    lat = np.degrees(2 * np.arctan(np.exp(y / EARTH_RADIUS)) - np.pi / 2)
    return lon, lat


def lonlat_to_tile(lon: npt.ArrayLike, lat: npt.ArrayLike, z: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Tile column and row of each point at zoom ``z`` (arrays of int64)."""
    mx, my = lonlat_to_mercator(lon, lat)
    n = 1 << z
    fx = (mx + ORIGIN_SHIFT) / (2 * ORIGIN_SHIFT) * n
    fy = (ORIGIN_SHIFT - my) / (2 * ORIGIN_SHIFT) * n
    x = np.clip(np.floor(fx), 0, n - 1).astype(np.int64)
    y = np.clip(np.floor(fy), 0, n - 1).astype(np.int64)
    return x, y


def tiles_for_point(lon: float, lat: float, *, min_zoom: int = 0, max_zoom: int) -> list[Tile]:
    """The column of the pyramid holding ``(lon, lat)``: one tile per zoom."""
    out = []
    for z in range(min_zoom, max_zoom + 1):
        x, y = lonlat_to_tile(lon, lat, z)
        out.append(Tile(z, int(x), int(y)))
    return out


def parent(tile: Tile) -> Tile:
    """The tile one zoom up that contains ``tile``."""
    if tile.z == 0:
        raise ValueError("tile 0/0/0 has no parent")
    return Tile(tile.z - 1, tile.x >> 1, tile.y >> 1)


def tile_bounds_mercator(z: int, x: int, y: int) -> TileBounds:
    """A tile's extent in EPSG:3857 metres."""
    size = 2 * ORIGIN_SHIFT / (1 << z)
    west = -ORIGIN_SHIFT + x * size
    north = ORIGIN_SHIFT - y * size
    return TileBounds(west, north - size, west + size, north)


def tile_bounds_lonlat(z: int, x: int, y: int) -> TileBounds:
    """A tile's extent in EPSG:4326 degrees."""
    b = tile_bounds_mercator(z, x, y)
    (west, east), (south, north) = mercator_to_lonlat([b.west, b.east], [b.south, b.north])
    return TileBounds(float(west), float(south), float(east), float(north))
