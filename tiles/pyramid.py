"""From per-point decisions to encoded, gzipped tiles, on every core.

:func:`plan` decides once what each zoom shows (:mod:`tiles.thinning`); :func:`zoom_layout`
places one zoom's features in their tiles (plus the buffer copies in neighbouring
tiles); :func:`render` encodes and gzips tiles, split across forked worker processes
that share the point arrays copy-on-write and hand back bytes to the parent, which alone
writes archives.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import numpy as np

from .mvt import LayerSchema
from .options import EXTENT, TileOptions
from .points import EXTENT_BITS, PointSet
from .thinning import ClusterLevel, cluster_levels, drop_minzoom

__all__ = ["BYTES_PER_POINT", "Plan", "RenderedTile", "ZoomLayout", "plan", "render",
           "tile_key", "zoom_layout"]

BYTES_PER_POINT = 20  # gzip bytes of one point feature, measured 17-20; bytes are checked after
BATCH = 100_000  # features encoded per numpy pass: bounds the memory of the encoder


def tile_key(x: int | np.ndarray, y: int | np.ndarray) -> int | np.ndarray:
    """One integer per tile of a zoom (z <= 16): ``x << 16 | y``."""
    return (x << 16) | y


@dataclass
class Plan:
    """What every zoom shows, decided once for the whole point set."""

    points: PointSet
    options: TileOptions
    minzoom: np.ndarray | None = None
    levels: dict[int, ClusterLevel | None] | None = None
    factors: dict[int, float] = field(default_factory=dict)
    cap: int = 0


def plan(points: PointSet, options: TileOptions, *, factors: dict[int, float] | None = None,
         cap: int | None = None) -> Plan:
    """Decide, per point, the zooms where it shows (drop) or its clusters (cluster)."""
    cap = cap or options.max_tile_bytes // BYTES_PER_POINT
    if options.mode == "drop":
        minzoom, used = drop_minzoom(points, rate=options.drop_rate, cap=cap, factors=factors)
        return Plan(points, options, minzoom=minzoom, factors=used, cap=cap)
    levels = cluster_levels(points, cell=options.cluster_cell, cap=cap)
    return Plan(points, options, levels=levels, cap=cap)


@dataclass
class ZoomLayout:
    """One zoom's features in tile order: points (by index) and clusters."""

    z: int
    pt_tile: np.ndarray
    pt_idx: np.ndarray
    pt_x: np.ndarray
    pt_y: np.ndarray
    cl_tile: np.ndarray
    cl_x: np.ndarray
    cl_y: np.ndarray
    cl_count: np.ndarray
    cl_cats: np.ndarray

    def tiles(self) -> np.ndarray:
        """Keys of the non-empty tiles, sorted."""
        return np.union1d(self.pt_tile, self.cl_tile)


def _place(gx: np.ndarray, gy: np.ndarray, z: int, buffer: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source index, tile key, local x and y of each copy, sorted by tile (stable)."""
    n_tiles = 1 << z
    tx, ty = gx >> EXTENT_BITS, gy >> EXTENT_BITS
    lx, ly = gx & (EXTENT - 1), gy & (EXTENT - 1)
    src = np.arange(len(gx), dtype=np.int64)
    parts = [(src, tx, ty, lx, ly)]
    if buffer:
        # A point on the west or north edge (local 0) gets no copy at exactly 4096 in the
        # neighbour: readers that clip to the closed extent (GDAL) would count it twice.
        west = (lx > 0) & (lx < buffer) & (tx > 0)
        east = (lx >= EXTENT - buffer) & (tx < n_tiles - 1)
        north = (ly > 0) & (ly < buffer) & (ty > 0)
        south = (ly >= EXTENT - buffer) & (ty < n_tiles - 1)
        for dx, mx in ((-1, west), (0, None), (1, east)):
            for dy, my in ((-1, north), (0, None), (1, south)):
                if dx == 0 and dy == 0:
                    continue
                m = (mx if mx is not None else True) & (my if my is not None else True)
                m = np.broadcast_to(m, src.shape)
                if not m.any():
                    continue
                parts.append((src[m], tx[m] + dx, ty[m] + dy, lx[m] - dx * EXTENT,
                              ly[m] - dy * EXTENT))
    s, x, y, px, py = (np.concatenate(c) for c in zip(*parts, strict=True))
    key = tile_key(x, y)
    order = np.argsort(key, kind="stable")
    return s[order], key[order], px[order], py[order]


def zoom_layout(p: Plan, z: int, *, only: Collection[int] | None = None) -> ZoomLayout:
    """Place zoom ``z``'s features in tiles; ``only`` keeps just those tile keys."""
    pts, mz, buf = p.points, p.points.max_zoom, p.options.buffer
    shift = mz - z
    ncat = max(len(pts.categories), 1)
    cl_gx = cl_gy = np.zeros(0, dtype=np.int64)
    cl_count = np.zeros(0, dtype=np.int64)
    cl_cats = np.zeros((0, ncat), dtype=np.int32)
    if p.minzoom is not None:
        idx = np.flatnonzero(p.minzoom <= z)
    else:
        level = p.levels[z] if p.levels is not None else None
        if level is None:
            idx = np.arange(len(pts), dtype=np.int64)
        else:
            single = level.count == 1
            idx = level.first[single]
            many = ~single
            mx, my = level.mean_xy()
            cl_gx, cl_gy = mx[many], my[many]
            cl_count, cl_cats = level.count[many], level.cats[many]
    if only is not None:
        # Keep the sources of the wanted tiles and of their neighbours (buffer copies)
        # before placing anything: an incremental build touches a few tiles of millions.
        wanted = np.fromiter(only, dtype=np.int64)
        near = np.unique(np.concatenate([tile_key((wanted >> 16) + dx, (wanted & 0xFFFF) + dy)
                                         for dx in (-1, 0, 1) for dy in (-1, 0, 1)]))
        bits = EXTENT_BITS + shift
        idx = idx[np.isin(tile_key(pts.gx[idx] >> bits, pts.gy[idx] >> bits), near)]
        ckeep = np.isin(tile_key(cl_gx >> bits, cl_gy >> bits), near)
        cl_gx, cl_gy, cl_count, cl_cats = cl_gx[ckeep], cl_gy[ckeep], cl_count[ckeep], \
            cl_cats[ckeep]
    src, key, lx, ly = _place(pts.gx[idx] >> shift, pts.gy[idx] >> shift, z, buf)
    csrc, ckey, cx, cy = _place(cl_gx >> shift, cl_gy >> shift, z, buf)
    if only is not None:
        wanted = np.fromiter(only, dtype=np.int64)
        keep, ckeep = np.isin(key, wanted), np.isin(ckey, wanted)
        src, key, lx, ly = src[keep], key[keep], lx[keep], ly[keep]
        csrc, ckey, cx, cy = csrc[ckeep], ckey[ckeep], cx[ckeep], cy[ckeep]
    return ZoomLayout(z, key, idx[src], lx, ly, ckey, cx, cy, cl_count[csrc], cl_cats[csrc])


@dataclass(frozen=True)
class RenderedTile:
    """One encoded tile: gzipped MVT bytes and how many features it holds."""

    z: int
    x: int
    y: int
    data: bytes
    features: int


def _encode(p: Plan, lay: ZoomLayout, lo: int, hi: int) -> list[RenderedTile]:
    """Encode tiles ``lo..hi`` (indices into ``lay.tiles()``) in batches."""
    pts = p.points
    schema = LayerSchema(pts.categories)
    tiles = lay.tiles()[lo:hi]
    out: list[RenderedTile] = []
    if not len(tiles):
        return out
    pa = np.searchsorted(lay.pt_tile, tiles, "left")
    pb = np.searchsorted(lay.pt_tile, tiles, "right")
    ca = np.searchsorted(lay.cl_tile, tiles, "left")
    cb = np.searchsorted(lay.cl_tile, tiles, "right")
    i = 0
    while i < len(tiles):
        j = i + 1
        while j < len(tiles) and (pb[j] - pa[i]) + (cb[j] - ca[i]) <= BATCH:
            j += 1
        ps, pe, cs, ce = pa[i], pb[j - 1], ca[i], cb[j - 1]
        idx = lay.pt_idx[ps:pe]
        encoded = schema.encode(
            pt_tile=lay.pt_tile[ps:pe], pt_ids=pts.ids[idx], pt_cat=pts.cat[idx],
            pt_x=lay.pt_x[ps:pe], pt_y=lay.pt_y[ps:pe], titles=pts.titles,
            title_start=pts.title_start[idx], title_len=pts.title_len[idx],
            cl_tile=lay.cl_tile[cs:ce], cl_x=lay.cl_x[cs:ce], cl_y=lay.cl_y[cs:ce],
            cl_count=lay.cl_count[cs:ce], cl_cats=lay.cl_cats[cs:ce])
        for k in range(i, j):
            key = int(tiles[k])
            nfeat = int(pb[k] - pa[k] + cb[k] - ca[k])
            data = gzip.compress(encoded[key], compresslevel=p.options.gzip_level, mtime=0)
            out.append(RenderedTile(lay.z, key >> 16, key & 0xFFFF, data, nfeat))
        i = j
    return out


_PLAN: Plan | None = None
_ONLY: dict[int, Collection[int]] | None = None


def _task(args: tuple[int, int, int]) -> list[RenderedTile]:
    z, part, nparts = args
    assert _PLAN is not None
    only = _ONLY.get(z) if _ONLY is not None else None
    lay = zoom_layout(_PLAN, z, only=only)
    ntiles = len(lay.tiles())
    if nparts == 1:
        return _encode(_PLAN, lay, 0, ntiles)
    # Split tiles into parts of about equal feature counts.
    counts = np.zeros(ntiles, dtype=np.int64)
    tiles = lay.tiles()
    counts += np.searchsorted(lay.pt_tile, tiles, "right") - \
        np.searchsorted(lay.pt_tile, tiles, "left")
    cum = np.cumsum(counts)
    bounds = np.searchsorted(cum, np.linspace(0, cum[-1], nparts + 1)[1:-1]) if ntiles \
        else np.zeros(nparts - 1, dtype=np.int64)
    edges = [0, *[int(b) for b in bounds], ntiles]
    return _encode(_PLAN, lay, edges[part], edges[part + 1])


def _tasks(p: Plan, zooms: Collection[int], processes: int) -> list[tuple[int, int, int]]:
    tasks = []
    for z in sorted(zooms, reverse=True):
        if p.minzoom is not None:
            n = int((p.minzoom <= z).sum())
        else:
            level = p.levels.get(z) if p.levels is not None else None
            n = len(p.points) if level is None else len(level.key)
        nparts = max(1, min(4 * processes, n // 150_000)) if processes > 1 else 1
        tasks += [(z, part, nparts) for part in range(nparts)]
    return tasks


def render(p: Plan, *, zooms: Collection[int] | None = None,
           only: dict[int, Collection[int]] | None = None) -> Iterator[RenderedTile]:
    """Encode the tiles of ``zooms`` (default all), optionally only some tile keys per zoom.

    Uses ``options.processes`` forked workers (0: one per core); the tiles come back in
    no particular order.
    """
    global _PLAN, _ONLY
    zooms = list(range(p.points.max_zoom + 1)) if zooms is None else list(zooms)
    processes = p.options.processes or os.cpu_count() or 1
    small = len(p.points) < 50_000 or (only is not None)
    _PLAN, _ONLY = p, only
    try:
        if processes == 1 or small:
            for task in _tasks(p, zooms, 1):
                yield from _task(task)
            return
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(processes) as pool:
            for tiles in pool.imap_unordered(_task, _tasks(p, zooms, processes)):
                yield from tiles
    finally:
        _PLAN, _ONLY = None, None
