"""The areas of many points at once, at every level, in memory.

The database's :func:`geo.areas.locate` one point at a time is too slow for a million
rows; this gives the same answer (tested) with numpy: a raster of each kind's areas
answers points far from any boundary by array indexing, and prepared shapely polygons
answer the few points near one.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.models import Area

CELL = 1e-4  # degrees: ~7 m by ~11 m in Paris; also the nearest-area tolerance below
NEAREST = 1e-4  # degrees: a point in a sliver between areas goes to one this close


class _Grid:
    """One kind's areas burnt into cells, and the cells a boundary may cross.

    ``values[r, c]`` is 1 + the index of the area holding the cell's centre (0: none).
    ``unsure[r, c]`` marks cells a boundary touches, and their neighbours (a point
    there may be within :data:`NEAREST` of an area it is not in): those points, and
    points off the grid, take the exact polygon test.
    """

    def __init__(self, geoms: list[Any]) -> None:
        from affine import Affine
        from rasterio.features import rasterize

        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        self.x0, self.y0 = minx - 2 * CELL, maxy + 2 * CELL
        self.width = int(np.ceil((maxx - minx) / CELL)) + 4
        self.height = int(np.ceil((maxy - miny) / CELL)) + 4
        transform = Affine(CELL, 0.0, self.x0, 0.0, -CELL, self.y0)  # north up
        shape = (self.height, self.width)
        with warnings.catch_warnings():  # rasterio's own use of affine's ``*`` (not ours)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            # Burnt last to first: where areas overlap, the first (by code) wins, as in
            # the exact test.
            self.values = rasterize(
                [(g, k + 1) for k, g in reversed(list(enumerate(geoms)))], out_shape=shape,
                transform=transform, fill=0, dtype="int32", all_touched=False)
            edges = rasterize([(shapely.boundary(g), 1) for g in geoms], out_shape=shape,
                              transform=transform, fill=0, dtype="uint8", all_touched=True)
        unsure = edges.astype(bool)
        grown = unsure.copy()
        for dr in (-1, 0, 1):  # the neighbours too (8-connected)
            for dc in (-1, 0, 1):
                if dr or dc:
                    grown[max(dr, 0):shape[0] + min(dr, 0), max(dc, 0):shape[1] + min(dc, 0)] |= \
                        unsure[max(-dr, 0):shape[0] + min(-dr, 0),
                               max(-dc, 0):shape[1] + min(-dc, 0)]
        self.unsure = grown

    def cells(self, lons: np.ndarray, lats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each point's 1 + area index from the grid (0: none), and whether it is unsure."""
        with np.errstate(invalid="ignore"):
            col = np.floor((lons - self.x0) / CELL)
            row = np.floor((self.y0 - lats) / CELL)
            inside = (col >= 0) & (col < self.width) & (row >= 0) & (row < self.height)
        r = np.where(inside, row, 0).astype(np.intp)
        c = np.where(inside, col, 0).astype(np.intp)
        values = np.where(inside, self.values[r, c], 0)
        unsure = ~inside | self.unsure[r, c]
        return values, unsure


class AreaIndex:
    """The areas of many points at once, at every level of the city, in memory.

    The same answer as :func:`geo.areas.locate` for points inside an area; points in
    the few-m² slivers between boundaries go to the nearest area within its tolerance.
    Points in cells no boundary comes near read their area from a raster (numpy
    indexing, ~40x faster than the polygon test); the others are tested against the
    prepared polygons whose bounding box holds them (~20x faster than an STRtree query
    with an ``intersects`` predicate).
    """

    def __init__(self, session: Session) -> None:
        # Keyed by depth (1: the first level): the positions of ``area_ids``.
        self.kinds: dict[int, tuple[list[Any], np.ndarray, np.ndarray,
                                    shapely.STRtree, _Grid | None]] = {}
        depths = session.execute(select(Area.depth).where(Area.depth >= 1).distinct()
                                 .order_by(Area.depth)).scalars().all()
        for depth in depths:
            rows = session.execute(select(Area.id, Area.geom).where(Area.depth == depth)
                                   .order_by(Area.code)).all()
            geoms = [to_shape(g) for _, g in rows]
            for g in geoms:
                shapely.prepare(g)
            bounds = np.array([g.bounds for g in geoms], dtype=float).reshape(-1, 4)
            self.kinds[depth] = (geoms, np.array([i for i, _ in rows], dtype=np.int64),
                                bounds, shapely.STRtree(geoms), _Grid(geoms) if geoms else None)

    def lookup_ids(self, lons: np.ndarray, lats: np.ndarray, *,
                   exact: bool = False) -> dict[int, np.ndarray]:
        """Area ids by depth as int64 arrays, ``-1`` where a point is in none.

        ``exact``: test every point against the polygons (no raster); the same answer,
        slower (the tests compare both).
        """
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        out: dict[int, np.ndarray] = {}
        for kind, (geoms, ids, bounds, tree, grid) in self.kinds.items():
            found = np.full(len(lons), -1, dtype=np.int64)
            todo = np.arange(len(lons))
            if grid is not None and not exact:
                values, unsure = grid.cells(lons, lats)
                sure = np.flatnonzero(~unsure & (values > 0))
                found[sure] = ids[values[sure] - 1]
                todo = np.flatnonzero(unsure)
            if len(todo):
                found[todo] = self._exact(geoms, ids, bounds, tree, lons[todo], lats[todo])
            out[kind] = found
        return out

    @staticmethod
    def _exact(geoms: list[Any], ids: np.ndarray, bounds: np.ndarray, tree: shapely.STRtree,
               lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        found = np.full(len(lons), -1, dtype=np.int64)
        for j, geom in enumerate(geoms):  # the first area (by code) that has the point
            minx, miny, maxx, maxy = bounds[j]
            cand = np.flatnonzero((found < 0) & (lons >= minx) & (lons <= maxx)
                                  & (lats >= miny) & (lats <= maxy))
            if len(cand):
                hit = shapely.intersects_xy(geom, lons[cand], lats[cand])
                found[cand[hit]] = ids[j]
        missing = np.flatnonzero(found < 0)
        if len(missing) and len(ids):
            mp, mg = tree.query_nearest(shapely.points(lons[missing], lats[missing]),
                                        max_distance=NEAREST)
            found[missing[mp[::-1]]] = ids[mg[::-1]]  # ties: the first, as in a loop
        return found

    def lookup(self, lons: np.ndarray, lats: np.ndarray) -> dict[int, list[int | None]]:
        """Area ids by depth, ``None`` where a point is in none."""
        return {kind: [None if v < 0 else v for v in found.tolist()]
                for kind, found in self.lookup_ids(lons, lats).items()}


def area_ids_text(placed: dict[int, np.ndarray], k: int) -> str:
    """Row ``k``'s ``area_ids`` in COPY text (``{12,345}``, ``{12,NULL}``, ``{}``)."""
    ids = [int(placed[d][k]) for d in sorted(placed)]
    if all(i < 0 for i in ids):
        return "{}"
    return "{" + ",".join("NULL" if i < 0 else str(i) for i in ids) + "}"


def area_ids_column(placed: dict[int, np.ndarray], n: int) -> Any:
    """Every row's ``area_ids`` in COPY text, as a pyarrow string array (or scalar)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not placed:
        return pa.scalar("{}")
    parts, found = [], np.zeros(n, dtype=bool)
    for depth in sorted(placed):
        values = placed[depth]
        found |= values >= 0
        parts.append(pc.if_else(pa.array(values < 0), pa.scalar("NULL"),
                                pa.array(values).cast(pa.string())))
    joined = pc.binary_join_element_wise(*parts, ",")
    joined = pc.binary_join_element_wise(pa.scalar("{"), joined, pa.scalar("}"), "")
    return pc.if_else(pa.array(found), joined, pa.scalar("{}"))
