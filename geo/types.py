"""Type aliases shared across the geo core."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["BBox", "LonLat"]

BBox = tuple[float, float, float, float]
"""west, south, east, north in degrees (EPSG:4326)."""


class LonLat(NamedTuple):
    """A position in EPSG:4326, longitude first as in GeoJSON."""

    lon: float
    lat: float
