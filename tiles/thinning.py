"""What each zoom shows, decided once per point with numpy (pure functions).

Two modes, as :class:`~tiles.options.TileOptions` chooses:

* **drop**: each point gets a minimum zoom. Walking the points in Morton order, a zoom
  keeps the first candidate of every stride of ``rate ** (max_zoom - z)`` points of its
  tile, candidates being the points kept one zoom deeper: thinning is nested (a point
  shown at z is shown at every deeper zoom), spatially even, and keeps tippecanoe's
  rate of 2.5 per zoom. Strides restart in each 1/16th-of-a-tile cell, so a point's
  decisions at zoom z depend only on the points of its cell at z: adding or removing a
  point changes one cell per zoom, and an incremental build rebuilds its column plus
  only the neighbours that cell borders (whose 64-unit buffers show it).
* **cluster**: the cells of a power-of-two grid are quadtree nodes, so a cell at zoom z
  is exactly four cells at z+1 and the clusters of each zoom aggregate the clusters of
  the zoom below (counts, category counts, position sums for the mean position).

When a zoom would hold a tile above the point budget (the proxy of the 500 KB gzip
limit), the whole zoom is thinned further (drop) or clustered finer (cluster, deepest
zoom only), never cut arbitrarily.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .points import EXTENT_BITS, PointSet

NEVER = 255  # minimum zoom of a point no zoom shows
STRIDE_CELL_BITS = 4  # strides restart in each of 16 x 16 cells of a tile

__all__ = ["NEVER", "ClusterLevel", "cluster_levels", "drop_minzoom", "runs"]


def runs(keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in sorted ``keys``."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))


def _max_run(keys: np.ndarray) -> int:
    if len(keys) == 0:
        return 0
    starts = runs(keys)
    return int(np.diff(np.append(starts, len(keys))).max())


def _tile_shift(max_zoom: int, z: int) -> np.uint64:
    return np.uint64(2 * (max_zoom - z + EXTENT_BITS))


def drop_minzoom(points: PointSet, *, rate: float = 2.5, cap: int = 20_000,
                 factors: dict[int, float] | None = None
                 ) -> tuple[np.ndarray, dict[int, float]]:
    """Minimum zoom of every point (uint8) and the extra thinning factor used per zoom.

    Points thinned out even at the deepest zoom (only when a tile there would be over
    ``cap``) get :data:`NEVER`.

    Parameters
    ----------
    rate
        Points kept per zoom step out: ``1 / rate`` of the zoom below.
    cap
        Most points one tile may hold; a zoom over it is thinned as a whole.
    factors
        Extra factors from a previous full build, reused by incremental builds so their
        tiles agree with the untouched ones.
    """
    n = len(points)
    mz = points.max_zoom
    minzoom = np.full(n, NEVER, dtype=np.uint8)
    used: dict[int, float] = dict(factors or {})
    cand = np.arange(n, dtype=np.int64)
    for z in range(mz, -1, -1):
        shift = _tile_shift(mz, z)
        tk_all = points.morton >> shift
        ck_all = points.morton >> (shift - np.uint64(2 * STRIDE_CELL_BITS))
        ck_c = ck_all[cand]
        factor = used.get(z, 1.0)
        while True:
            interval = rate ** (mz - z) * factor
            if interval <= 1.0:
                kept = cand
            else:
                start = np.searchsorted(ck_all, ck_c, side="left")
                stride = np.floor((cand - start) / interval).astype(np.int64)
                new = np.ones(len(cand), dtype=bool)
                new[1:] = (stride[1:] != stride[:-1]) | (ck_c[1:] != ck_c[:-1])
                kept = cand[new]
            biggest = _max_run(tk_all[kept])
            if biggest <= cap or factors is not None:
                break
            factor *= biggest / cap * 1.05
        if factor != 1.0:
            used[z] = factor
        cand = kept
        minzoom[cand] = z
    return minzoom, used


@dataclass
class ClusterLevel:
    """The clusters of one zoom (cells holding at least one point)."""

    z: int
    key: np.ndarray        # uint64 cell Morton code at this level
    count: np.ndarray      # int64 points per cell
    sx: np.ndarray         # float64 sum of global x (max-zoom units)
    sy: np.ndarray
    first: np.ndarray      # int64 index of the cell's first point (singletons' point)
    cats: np.ndarray       # int32 (cells x categories) counts

    def mean_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean position of each cluster, global max-zoom units."""
        return (np.floor(self.sx / self.count).astype(np.int64),
                np.floor(self.sy / self.count).astype(np.int64))


def _cell_bits(cell: int) -> int:
    return EXTENT_BITS - int(cell).bit_length() + 1  # log2(extent / cell)


def _level_from_points(points: PointSet, z: int, cell: int) -> ClusterLevel:
    mz = points.max_zoom
    shift = np.uint64(2 * (mz - z + EXTENT_BITS - _cell_bits(cell)))
    key = points.morton >> shift
    starts = runs(key)
    count = np.diff(np.append(starts, len(key)))
    ncat = max(len(points.categories), 1)
    run_id = np.repeat(np.arange(len(starts)), count)
    cats = np.bincount(run_id * ncat + points.cat, minlength=len(starts) * ncat)
    return ClusterLevel(
        z=z, key=key[starts] if len(key) else key, count=count.astype(np.int64),
        sx=np.add.reduceat(points.gx.astype(np.float64), starts) if len(key) else
        np.zeros(0), sy=np.add.reduceat(points.gy.astype(np.float64), starts) if len(key)
        else np.zeros(0), first=starts.astype(np.int64),
        cats=cats.reshape(len(starts), ncat).astype(np.int32))


def _coarsen(level: ClusterLevel) -> ClusterLevel:
    key = level.key >> np.uint64(2)
    starts = runs(key)
    if len(starts) == 0:
        return ClusterLevel(level.z - 1, key, level.count, level.sx, level.sy, level.first,
                            level.cats)
    return ClusterLevel(
        z=level.z - 1, key=key[starts], count=np.add.reduceat(level.count, starts),
        sx=np.add.reduceat(level.sx, starts), sy=np.add.reduceat(level.sy, starts),
        first=level.first[starts], cats=np.add.reduceat(level.cats, starts, axis=0))


def cluster_levels(points: PointSet, *, cell: int = 128, cap: int = 20_000
                   ) -> dict[int, ClusterLevel | None]:
    """Clusters of every zoom; ``None`` at the deepest zoom when points fit as they are.

    The deepest zoom shows every point unless one of its tiles would exceed ``cap``:
    then that whole zoom is clustered on a fine grid (32 units, 2 screen pixels).
    """
    mz = points.max_zoom
    out: dict[int, ClusterLevel | None] = {}
    if _max_run(points.morton >> _tile_shift(mz, mz)) > cap:
        out[mz] = _level_from_points(points, mz, 32)
    else:
        out[mz] = None
    if mz == 0:
        return out
    level = _level_from_points(points, mz - 1, cell)
    out[mz - 1] = level
    for z in range(mz - 2, -1, -1):
        level = _coarsen(level)
        out[z] = level
    return out
