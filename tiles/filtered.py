"""Filtered point tiles built on request: grid cells or points in, MVT bytes out (pure).

The static archive holds every live feature; a resident who filters by audience,
accessibility, date window or availability needs tiles of exactly that subset, with
counts that add up. These tiles have the archive's layer schema and geometry rules, so
the client draws both the same way:

* below the archive's deepest zoom, the cluster grid of :mod:`tiles.thinning` (cells of
  ``cluster_cell`` extent units, aligned on the tile, so a cell at zoom z is exactly
  four at z+1): a cell holding one feature shows it as a point (``id``, ``category``,
  ``title``), a cell holding more a cluster at the mean position of its points with
  ``cluster``, ``point_count``, ``point_count_abbreviated`` and ``count_<slug>``;
* at the deepest zoom, every point, unless the tile would hold more than the archive's
  point budget: then 32-unit cells, as a full build does;
* features whose position lies within ``buffer`` units outside the tile are repeated,
  by the same rule as :func:`tiles.pyramid._place` (a feature at exactly 4096 is not).

The cells are counted by PostgreSQL (``GROUP BY`` on integer grid keys, a few thousand
rows back instead of hundreds of thousands of points); this module only places them and
encodes them with our :class:`~tiles.mvt.LayerSchema`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .mvt import LayerSchema
from .options import EXTENT
from .points import EXTENT_BITS, PointSet, interleave

__all__ = ["Cells", "Points", "TileSpec", "encode_cells", "encode_points"]

FINE_CELL = 32  # the deepest zoom's cells when a tile holds more than the point budget


@dataclass(frozen=True)
class TileSpec:
    """One tile to build and the archive's geometry rules it must follow."""

    z: int
    x: int
    y: int
    max_zoom: int = 16
    buffer: int = 64
    cluster_cell: int = 128

    @property
    def clustered(self) -> bool:
        """Below the deepest zoom, features are grid cells."""
        return self.z < self.max_zoom

    def cell_shift(self, cell: int | None = None) -> int:
        """Right shift from global max-zoom units to this zoom's cell index."""
        cell = cell or self.cluster_cell
        cell_bits = EXTENT_BITS - int(cell).bit_length() + 1
        return self.max_zoom - self.z + EXTENT_BITS - cell_bits

    def query_box(self) -> tuple[float, float, float, float]:
        """Lon/lat box to read around the tile.

        Grown by one cell (whole cells cover the buffer) or, at the deepest zoom, by the
        buffer; a little more, since cells beyond the border are dropped after counting
        (:meth:`cell_range`).
        """
        margin = (self.cluster_cell if self.clustered else self.buffer) + 8
        size = EXTENT << self.z

        def lon(px: float) -> float:
            return min(max(px, 0), size) / size * 360.0 - 180.0

        def lat(py: float) -> float:
            t = math.pi * (1 - 2 * min(max(py, 0), size) / size)
            return math.degrees(math.atan(math.sinh(t)))

        x0, y0 = self.x * EXTENT, self.y * EXTENT
        return (lon(x0 - margin), lat(y0 + EXTENT + margin), lon(x0 + EXTENT + margin),
                lat(y0 - margin))

    def cell_range(self, cell: int | None = None) -> tuple[int, int]:
        """First and last cell index (x or y, inclusive) this tile needs, with its border."""
        per_tile = EXTENT // (cell or self.cluster_cell)
        return self.x * per_tile - 1, (self.x + 1) * per_tile

    def cell_range_y(self, cell: int | None = None) -> tuple[int, int]:
        """As :meth:`cell_range`, for rows."""
        per_tile = EXTENT // (cell or self.cluster_cell)
        return self.y * per_tile - 1, (self.y + 1) * per_tile


class Cells(NamedTuple):
    """Grid cells as counted by the database: one row per (cell, category)."""

    cx: np.ndarray     # int64 cell column at this zoom
    cy: np.ndarray     # int64 cell row
    cat: np.ndarray    # int64 index into the categories
    count: np.ndarray  # int64 features of that category in the cell
    sx: np.ndarray     # float64 sum of global max-zoom x
    sy: np.ndarray     # float64 sum of global max-zoom y
    first: np.ndarray  # int64 smallest feature id (the feature of a one-feature cell)


class Points(NamedTuple):
    """Single features: ids, positions, category indices and titles."""

    ids: Sequence[int]
    lon: Sequence[float]
    lat: Sequence[float]
    cat: Sequence[int]
    titles: Sequence[str]


def _keep(v: np.ndarray, buffer: int) -> np.ndarray:
    """Tile-local coordinates a tile shows: inside, or within its buffer (not at 4096)."""
    return (v >= -buffer) & (v < EXTENT + buffer) & (v != EXTENT)


def _layer(spec: TileSpec, schema: LayerSchema, *, pt_gx: np.ndarray, pt_gy: np.ndarray,
           pt_ids: np.ndarray, pt_cat: np.ndarray, titles: Sequence[str], cl_gx: np.ndarray,
           cl_gy: np.ndarray, cl_count: np.ndarray, cl_cats: np.ndarray,
           title_chars: int) -> bytes:
    shift = spec.max_zoom - spec.z
    ox, oy = spec.x << EXTENT_BITS, spec.y << EXTENT_BITS
    px, py = (pt_gx >> shift) - ox, (pt_gy >> shift) - oy
    keep = _keep(px, spec.buffer) & _keep(py, spec.buffer)
    # Morton order of the features, as in the archive's tiles.
    order = np.argsort(interleave(pt_gx[keep], pt_gy[keep]), kind="stable")
    idx = np.flatnonzero(keep)[order]
    encoded = [titles[i][:title_chars].encode() for i in idx.tolist()]
    lens = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    starts = np.cumsum(lens) - lens
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    cx, cy = (cl_gx >> shift) - ox, (cl_gy >> shift) - oy
    ckeep = _keep(cx, spec.buffer) & _keep(cy, spec.buffer)
    corder = np.argsort(interleave(cl_gx[ckeep], cl_gy[ckeep]), kind="stable")
    cidx = np.flatnonzero(ckeep)[corder]
    if not len(idx) and not len(cidx):
        return b""
    out = schema.encode(
        pt_tile=np.zeros(len(idx), dtype=np.int64), pt_ids=pt_ids[idx], pt_cat=pt_cat[idx],
        pt_x=px[idx], pt_y=py[idx], titles=blob, title_start=starts, title_len=lens,
        cl_tile=np.zeros(len(cidx), dtype=np.int64), cl_x=cx[cidx], cl_y=cy[cidx],
        cl_count=cl_count[cidx], cl_cats=cl_cats[cidx])
    return out[0]


def _group(cells: Cells, ncat: int) -> tuple[np.ndarray, ...]:
    """Rows per (cell, category) to one row per cell: counts, sums, category counts."""
    key = (cells.cx.astype(np.int64) << 32) | cells.cy.astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    n = len(uniq)
    count = np.bincount(inv, weights=cells.count, minlength=n).astype(np.int64)
    sx = np.bincount(inv, weights=cells.sx, minlength=n)
    sy = np.bincount(inv, weights=cells.sy, minlength=n)
    cats = np.zeros((n, max(ncat, 1)), dtype=np.int32)
    np.add.at(cats, (inv, cells.cat.astype(np.int64)), cells.count.astype(np.int32))
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, inv, cells.first.astype(np.int64))
    return uniq, count, sx, sy, cats, first


def encode_cells(spec: TileSpec, categories: Sequence[str], cells: Cells,
                 titles: Mapping[int, str], *, title_chars: int = 40) -> bytes:
    """The uncompressed MVT of a clustered tile from its grid cells (``b""``: empty).

    ``titles`` maps the id of every one-feature cell to its title (the caller asks the
    database for those only, after counting).
    """
    schema = LayerSchema(tuple(categories))
    if spec.clustered:  # drop the partial cells beyond the border
        (x0, x1), (y0, y1) = spec.cell_range(), spec.cell_range_y()
        m = (cells.cx >= x0) & (cells.cx <= x1) & (cells.cy >= y0) & (cells.cy <= y1)
        cells = Cells(*(a[m] for a in cells))
    _, count, sx, sy, cats, first = _group(cells, len(categories))
    single = count == 1
    many = ~single
    pt_ids = first[single]
    pt_cat = np.argmax(cats[single], axis=1).astype(np.int64) if single.any() else \
        np.zeros(0, dtype=np.int64)
    return _layer(
        spec, schema, pt_gx=sx[single].astype(np.int64), pt_gy=sy[single].astype(np.int64),
        pt_ids=pt_ids, pt_cat=pt_cat, titles=[titles.get(int(i), "") for i in pt_ids],
        cl_gx=np.floor(sx[many] / count[many]).astype(np.int64),
        cl_gy=np.floor(sy[many] / count[many]).astype(np.int64),
        cl_count=count[many], cl_cats=cats[many], title_chars=title_chars)


def encode_points(spec: TileSpec, categories: Sequence[str], points: Points, *,
                  cap: int, title_chars: int = 40) -> bytes:
    """The uncompressed MVT of a deepest-zoom tile from its points (``b""``: empty).

    Positions are computed as a full build computes them (:class:`PointSet`). Over
    ``cap`` points in the tile itself, 32-unit cells are shown instead, as a full build
    does for a zoom over its budget.
    """
    schema = LayerSchema(tuple(categories))
    ps = PointSet.from_arrays(ids=points.ids, lon=points.lon, lat=points.lat,
                              cat=points.cat, titles=list(points.titles),
                              categories=categories, max_zoom=spec.max_zoom,
                              title_chars=title_chars)
    inside = ((ps.gx >> EXTENT_BITS) == spec.x) & ((ps.gy >> EXTENT_BITS) == spec.y)
    empty = np.zeros(0, dtype=np.int64)
    if int(inside.sum()) <= cap:
        titles = [ps.title(i) for i in range(len(ps))]
        return _layer(spec, schema, pt_gx=ps.gx, pt_gy=ps.gy, pt_ids=ps.ids,
                      pt_cat=ps.cat.astype(np.int64), titles=titles, cl_gx=empty,
                      cl_gy=empty, cl_count=empty,
                      cl_cats=np.zeros((0, max(len(categories), 1)), dtype=np.int32),
                      title_chars=title_chars)
    shift = spec.cell_shift(FINE_CELL)
    cells = Cells(cx=ps.gx >> shift, cy=ps.gy >> shift, cat=ps.cat.astype(np.int64),
                  count=np.ones(len(ps), dtype=np.int64), sx=ps.gx.astype(np.float64),
                  sy=ps.gy.astype(np.float64), first=ps.ids)
    by_id = {int(i): ps.title(k) for k, i in enumerate(ps.ids.tolist())}
    return encode_cells(spec, categories, cells, by_id, title_chars=title_chars)
