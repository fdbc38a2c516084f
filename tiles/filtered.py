"""Filtered point tiles built on request: points and filter values in, MVT bytes out (pure).

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

The points and what the filters read live in a :class:`FilterIndex` (numpy arrays in
Morton order, loaded by :func:`tiles.source.read_filter_index`): a tile is the Morton
ranges of its 3x3 block, a mask from the filter, runs of cells and our
:class:`~tiles.mvt.LayerSchema` encoder. PostgreSQL counting the same cells (``GROUP
BY`` on integer grid keys, ``webmap.ogc.queries.tile_cells``) was measured 30-40x slower
at 1M points (``bench/tiles_filtered.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .mvt import LayerSchema
from .options import EXTENT
from .points import EXTENT_BITS, PointSet, interleave

__all__ = ["FilterIndex", "PointFilter", "TileSpec", "Vocab", "encode_grouped"]

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


def encode_grouped(spec: TileSpec, categories: Sequence[str], *, count: np.ndarray,
                   sx: np.ndarray, sy: np.ndarray, cats: np.ndarray, ids: np.ndarray,
                   titles: Sequence[str], title_chars: int = 40) -> bytes:
    """Encode one row per cell (uncompressed MVT, ``b""`` when nothing shows).

    One-feature cells become points (``ids``, ``titles``), the others clusters at their
    mean position, as :func:`tiles.pyramid.zoom_layout` places them.
    """
    schema = LayerSchema(tuple(categories))
    single = count == 1
    many = ~single
    pt_ids = ids[single]
    pt_cat = np.argmax(cats[single], axis=1).astype(np.int64) if single.any() else \
        np.zeros(0, dtype=np.int64)
    return _layer(
        spec, schema, pt_gx=sx[single].astype(np.int64), pt_gy=sy[single].astype(np.int64),
        pt_ids=pt_ids, pt_cat=pt_cat,
        titles=[t for t, one in zip(titles, single.tolist(), strict=True) if one],
        cl_gx=np.floor(sx[many] / count[many]).astype(np.int64),
        cl_gy=np.floor(sy[many] / count[many]).astype(np.int64),
        cl_count=count[many], cl_cats=cats[many], title_chars=title_chars)


# ---------------------------------------------------------------------------------------
# The in-memory filter index: every published point with what the filters read, so a
# filtered tile is a few numpy passes over the tile's Morton ranges (PostgreSQL's GROUP BY
# of a z12 tile of Paris at 1M points took 0.56 s unfiltered and 1.4 s with the profile
# filters; bench/tiles_filtered.py).

NULL_TIME = np.iinfo(np.int64).min
"""``starts``/``ends`` of an undated feature."""
NONE_BIT = np.uint64(1 << 63)
"""In ``audiences``: the feature names no audience, so it is open to everyone."""
_MAX_BITS = 62  # slugs beyond this many share the last bit (over-matching, never losing)


class Vocab:
    """Slug -> bit, append-only, so the bits of an older snapshot stay valid."""

    def __init__(self) -> None:
        self.bits: dict[str, int] = {}

    def bit(self, slug: str) -> int:
        """The bit of ``slug``, given the next free one the first time it is seen."""
        if slug not in self.bits:
            self.bits[slug] = min(len(self.bits), _MAX_BITS)
        return self.bits[slug]

    def mask(self, slugs: Sequence[str]) -> int:
        """Bits of the slugs already known (an unknown slug: no feature has it)."""
        out = 0
        for s in slugs:
            if s in self.bits:
                out |= 1 << self.bits[s]
        return out


@dataclass(frozen=True)
class PointFilter:
    """The filter values of a request, as numbers (the twin of the SQL FeatureFilter).

    Times are microseconds since the epoch; hours are minutes since midnight.
    """

    categories: tuple[str, ...] | None = None
    start: int | None = None
    start_day: int | None = None
    end: int | None = None
    audiences: tuple[str, ...] | None = None
    accessible: tuple[str, ...] | None = None
    accessible_match: str = "known"
    days: tuple[int, ...] | None = None
    hours: tuple[int, int] | None = None


@dataclass(frozen=True)
class FilterIndex:
    """Published points (Morton order) and, aligned with them, what the filters read.

    ``aud``/``acc``/``lacks`` are bit sets over the vocabularies (``acc_array`` and
    ``lacks_array``: the attribute is a JSON array, as the SQL checks); ``starts``/
    ``ends`` microseconds or :data:`NULL_TIME`; ``has_slots`` whether the feature has
    availability or opening-hours slots, which are the rows of ``slot_*`` (``slot_pt``
    the point's position, ``slot_day`` 0-6 or -1, minutes or -1 when malformed).
    """

    points: PointSet
    aud: np.ndarray
    acc: np.ndarray
    acc_array: np.ndarray
    lacks: np.ndarray
    lacks_array: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    has_slots: np.ndarray
    slot_ids: np.ndarray
    slot_day: np.ndarray
    slot_from: np.ndarray
    slot_to: np.ndarray
    slot_pt: np.ndarray
    audience_vocab: Vocab
    access_vocab: Vocab

    @staticmethod
    def positions(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """Position in ``ids`` (unique, any order) of each of ``wanted`` (all present)."""
        order = np.argsort(ids, kind="stable")
        return order[np.searchsorted(ids[order], wanted)]

    def replace(self, remove_ids: np.ndarray, added: FilterIndex) -> FilterIndex:
        """A new index without ``remove_ids`` and with ``added`` (same vocabularies)."""
        pts, new = self.points, added.points
        keep = ~np.isin(pts.ids, remove_ids)
        morton = np.concatenate((pts.morton[keep], new.morton))
        order = np.argsort(morton, kind="stable")

        def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.concatenate((a[keep], b))[order]

        points = PointSet(
            max_zoom=pts.max_zoom, ids=cat(pts.ids, new.ids), gx=cat(pts.gx, new.gx),
            gy=cat(pts.gy, new.gy), morton=morton[order], cat=cat(pts.cat, new.cat),
            titles=np.concatenate((pts.titles, new.titles)),
            title_start=cat(pts.title_start, new.title_start + len(pts.titles)),
            title_len=cat(pts.title_len, new.title_len), categories=new.categories)
        skeep = ~np.isin(self.slot_ids, remove_ids)
        slot_ids = np.concatenate((self.slot_ids[skeep], added.slot_ids))
        return FilterIndex(
            points=points, aud=cat(self.aud, added.aud), acc=cat(self.acc, added.acc),
            acc_array=cat(self.acc_array, added.acc_array),
            lacks=cat(self.lacks, added.lacks),
            lacks_array=cat(self.lacks_array, added.lacks_array),
            starts=cat(self.starts, added.starts), ends=cat(self.ends, added.ends),
            has_slots=cat(self.has_slots, added.has_slots), slot_ids=slot_ids,
            slot_day=np.concatenate((self.slot_day[skeep], added.slot_day)),
            slot_from=np.concatenate((self.slot_from[skeep], added.slot_from)),
            slot_to=np.concatenate((self.slot_to[skeep], added.slot_to)),
            slot_pt=self.positions(points.ids, slot_ids) if len(slot_ids) else slot_ids,
            audience_vocab=self.audience_vocab, access_vocab=self.access_vocab)

    def neighbourhood(self, spec: TileSpec) -> np.ndarray:
        """Positions of the points of the tile and its 8 neighbours, in Morton order."""
        pts = self.points
        shift = np.uint64(2 * (pts.max_zoom - spec.z + EXTENT_BITS))
        n = 1 << spec.z
        keys = sorted(int(interleave(np.array([tx]), np.array([ty]))[0])
                      for tx in (spec.x - 1, spec.x, spec.x + 1)
                      for ty in (spec.y - 1, spec.y, spec.y + 1)
                      if 0 <= tx < n and 0 <= ty < n)
        lo = np.searchsorted(pts.morton, np.array(keys, dtype=np.uint64) << shift, "left")
        hi = np.searchsorted(pts.morton, (np.array(keys, dtype=np.uint64) + np.uint64(1))
                             << shift, "left")
        return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in
                               zip(lo.tolist(), hi.tolist(), strict=True)])

    def matches(self, idx: np.ndarray, flt: PointFilter) -> np.ndarray:
        """Which of the points ``idx`` the filter keeps (the same rules as the SQL)."""
        pts = self.points
        keep = np.ones(len(idx), dtype=bool)
        if flt.categories is not None:
            wanted = [i for i, c in enumerate(pts.categories) if c in set(flt.categories)]
            keep &= np.isin(pts.cat[idx], wanted)
        if flt.start is not None:
            ends, starts = self.ends[idx], self.starts[idx]
            keep &= np.where(ends != NULL_TIME, ends >= flt.start,
                             np.where(starts != NULL_TIME, starts >= (flt.start_day or 0),
                                      True))
        if flt.end is not None:
            starts = self.starts[idx]
            keep &= (starts == NULL_TIME) | (starts <= flt.end)
        if flt.audiences is not None:
            bits = np.uint64(self.audience_vocab.mask([*flt.audiences, "everyone"])) | NONE_BIT
            keep &= (self.aud[idx] & bits) != 0
        if flt.accessible is not None:
            keep &= self._accessible(idx, flt)
        if flt.days is not None or flt.hours is not None:
            keep &= self._slots(idx, flt)
        return keep

    def _accessible(self, idx: np.ndarray, flt: PointFilter) -> np.ndarray:
        assert flt.accessible is not None
        if flt.accessible_match == "not_unsuitable":
            if not flt.accessible:
                return ~(self.lacks_array[idx] & (self.lacks[idx] != 0))
            bits = np.uint64(self.access_vocab.mask(flt.accessible))
            return ~(self.lacks_array[idx] & ((self.lacks[idx] & bits) != 0))
        if not flt.accessible:
            return self.acc_array[idx] & (self.acc[idx] != 0)
        if any(s not in self.access_vocab.bits for s in flt.accessible):
            return np.zeros(len(idx), dtype=bool)
        bits = np.uint64(self.access_vocab.mask(flt.accessible))
        return self.acc_array[idx] & ((self.acc[idx] & bits) == bits)

    def _slots(self, idx: np.ndarray, flt: PointFilter) -> np.ndarray:
        ok = np.ones(len(self.slot_day), dtype=bool)
        if flt.days is not None:
            ok &= np.isin(self.slot_day, flt.days)
        if flt.hours is not None:
            lo, hi = flt.hours
            f, t = self.slot_from, self.slot_to
            valid = (f >= 0) & (t >= 0)
            ok &= valid & np.where(t > f, (f < hi) & (t > lo), (f < hi) | (t > lo))
        fits = np.zeros(len(self.points), dtype=bool)
        fits[self.slot_pt[ok]] = True
        return ~self.has_slots[idx] | fits[idx]

    def tile(self, spec: TileSpec, flt: PointFilter, *, cap: int,
             title_chars: int = 40) -> bytes:
        """The uncompressed MVT of ``spec`` for the points ``flt`` keeps (``b""``: none)."""
        pts = self.points
        idx = self.neighbourhood(spec)
        idx = idx[self.matches(idx, flt)]
        categories = pts.categories
        if not spec.clustered:
            inside = ((pts.gx[idx] >> EXTENT_BITS) == spec.x) & \
                ((pts.gy[idx] >> EXTENT_BITS) == spec.y)
            if int(inside.sum()) <= cap:
                return _layer(spec, LayerSchema(tuple(categories)), pt_gx=pts.gx[idx],
                              pt_gy=pts.gy[idx], pt_ids=pts.ids[idx],
                              pt_cat=pts.cat[idx].astype(np.int64),
                              titles=[pts.title(int(i)) for i in idx],
                              cl_gx=np.zeros(0, np.int64), cl_gy=np.zeros(0, np.int64),
                              cl_count=np.zeros(0, np.int64),
                              cl_cats=np.zeros((0, max(len(categories), 1)), np.int32),
                              title_chars=title_chars)
            cell = FINE_CELL
        else:
            cell = spec.cluster_cell
        shift = spec.cell_shift(cell)
        # Points in Morton order: a cell's points are one run.
        key = pts.morton[idx] >> np.uint64(2 * shift)
        starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1]))) if len(key) \
            else np.zeros(0, dtype=np.int64)
        first = idx[starts]
        cx, cy = pts.gx[first] >> shift, pts.gy[first] >> shift
        if spec.clustered:
            (x0, x1), (y0, y1) = spec.cell_range(cell), spec.cell_range_y(cell)
            inside_cells = (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1)
        else:
            inside_cells = np.ones(len(starts), dtype=bool)
        count = np.diff(np.append(starts, len(idx)))
        ncat = max(len(categories), 1)
        run = np.repeat(np.arange(len(starts)), count)
        cats = np.bincount(run * ncat + pts.cat[idx], minlength=len(starts) * ncat
                           ).reshape(len(starts), ncat).astype(np.int32)
        sx = np.add.reduceat(pts.gx[idx].astype(np.float64), starts) if len(idx) else \
            np.zeros(0)
        sy = np.add.reduceat(pts.gy[idx].astype(np.float64), starts) if len(idx) else \
            np.zeros(0)
        m = inside_cells
        single = (count == 1) & m
        titles = [pts.title(int(i)) if one else "" for i, one in
                  zip(first.tolist(), single.tolist(), strict=True)]
        return encode_grouped(spec, categories, count=count[m], sx=sx[m], sy=sy[m],
                              cats=cats[m], ids=pts.ids[first][m],
                              titles=[t for t, k in zip(titles, m.tolist(), strict=True) if k],
                              title_chars=title_chars)
