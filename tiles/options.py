"""Build options of the tile pipeline, one typed object read once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["CONTRIBUTORS", "EXTENT", "LAYER", "WORLD_BOUNDS", "TileOptions"]

EXTENT = 4096  # MVT tile extent (units per tile side)
CONTRIBUTORS = "Carte citoyenne contributors, ODbL"
WORLD_BOUNDS = (-180.0, -85.051129, 180.0, 85.051129)
"""An archive's extent when it holds nothing and no city bounds were given."""
LAYER = "features"

Mode = Literal["cluster", "drop"]


@dataclass(frozen=True)
class TileOptions:
    """How the pyramid is built.

    Parameters
    ----------
    max_zoom
        Deepest zoom of the vector pyramid; below it clients overzoom.
    mode
        ``cluster``: grid clusters with counts below ``max_zoom``; ``drop``: nested,
        spatially even thinning at ``drop_rate`` per zoom (tippecanoe's default 2.5).
    buffer
        Extent units of neighbouring tiles repeated at each edge so symbols are not cut.
    max_tile_bytes
        No tile may exceed this gzip size; a zoom that would is thinned as a whole.
    cluster_cell
        Cluster grid cell in extent units (128 = 8 screen pixels of a 256-px tile).
    gzip_level
        zlib level of the stored tiles; on our tiles level 3 costs a third of level 6's
        CPU for about 3 % more bytes.
    bounds
        The city's bounds (west, south, east, north): the archive's extent while it
        holds no point; ``None``: the whole Web Mercator world.
    attribution
        The archive's attribution: the contributors, then the city's lines.
    """

    max_zoom: int = 16
    mode: Mode = "cluster"
    buffer: int = 64
    drop_rate: float = 2.5
    max_tile_bytes: int = 500_000
    cluster_cell: int = 128
    title_chars: int = 40
    gzip_level: int = 3  # measured: 3x less CPU than 6 for 3 % more bytes
    processes: int = 0  # 0: one per core
    bounds: tuple[float, float, float, float] | None = None
    attribution: str = CONTRIBUTORS

    def __post_init__(self) -> None:
        if not 0 <= self.max_zoom <= 16:
            raise ValueError(f"max_zoom must be within 0..16, not {self.max_zoom}")
        if self.mode not in ("cluster", "drop"):
            raise ValueError(f"mode must be 'cluster' or 'drop', not {self.mode!r}")
        if self.cluster_cell not in (16, 32, 64, 128, 256, 512):
            raise ValueError("cluster_cell must be a power of two between 16 and 512")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object
                 ) -> TileOptions:
        """Options from ``CARTE_TILES_*`` and the city (``CARTE_CITY``), then overrides.

        The city gives the archive's attribution and its extent while it is empty.
        """
        from geo.city import load_city

        env = os.environ if environ is None else environ
        city = load_city(environ=env, check_files=False)
        values: dict[str, object] = {
            "bounds": city.bounds.as_tuple(),
            "attribution": "; ".join((CONTRIBUTORS, *city.attribution))}
        if env.get("CARTE_TILES_MAX_ZOOM"):
            values["max_zoom"] = int(env["CARTE_TILES_MAX_ZOOM"])
        if env.get("CARTE_TILES_MODE"):
            values["mode"] = env["CARTE_TILES_MODE"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
