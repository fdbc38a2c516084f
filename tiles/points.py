"""The point set the builder works on: columnar numpy arrays sorted in Morton order.

Every point gets its global pixel position at the deepest zoom (``max_zoom`` tiles of
4096 units, so 2**28 units across the world at z16) and the Morton code of that
position. Sorted by that code, the points of any tile or cluster cell at any zoom are
one contiguous run: nothing is re-sorted zoom by zoom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geo.tilemath import ORIGIN_SHIFT, lonlat_to_mercator

from .options import EXTENT

__all__ = ["PointSet", "deinterleave", "interleave"]

EXTENT_BITS = 12
assert 1 << EXTENT_BITS == EXTENT


def _spread(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.uint64) & np.uint64(0xFFFFFFFF)
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF),
                        (4, 0x0F0F0F0F0F0F0F0F), (2, 0x3333333333333333),
                        (1, 0x5555555555555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def _squash(v: np.ndarray) -> np.ndarray:
    v = v & np.uint64(0x5555555555555555)
    for shift, mask in ((1, 0x3333333333333333), (2, 0x0F0F0F0F0F0F0F0F),
                        (4, 0x00FF00FF00FF00FF), (8, 0x0000FFFF0000FFFF),
                        (16, 0x00000000FFFFFFFF)):
        v = (v | (v >> np.uint64(shift))) & np.uint64(mask)
    return v


def interleave(x: npt.ArrayLike, y: npt.ArrayLike) -> np.ndarray:
    """Morton (Z-order) code of non-negative integer coordinates below 2**32."""
    return _spread(np.asarray(x)) | (_spread(np.asarray(y)) << np.uint64(1))


def deinterleave(code: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`interleave`."""
    c = np.asarray(code, dtype=np.uint64)
    return _squash(c).astype(np.int64), _squash(c >> np.uint64(1)).astype(np.int64)


@dataclass
class PointSet:
    """Published points in Morton order, with what the tiles carry.

    ``titles`` is one UTF-8 blob; ``title_start``/``title_len`` index it, so a million
    titles cost one buffer and two arrays rather than a million Python strings.
    """

    max_zoom: int
    ids: np.ndarray          # int64 feature ids
    gx: np.ndarray           # int64 global x at max_zoom, extent units
    gy: np.ndarray           # int64 global y (southwards)
    morton: np.ndarray       # uint64, sorted ascending
    cat: np.ndarray          # int16 index into ``categories``
    titles: np.ndarray       # uint8 blob
    title_start: np.ndarray  # int64
    title_len: np.ndarray    # int64
    categories: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_arrays(cls, *, ids: npt.ArrayLike, lon: npt.ArrayLike, lat: npt.ArrayLike,
                    cat: npt.ArrayLike, titles: bytes | Sequence[str],
                    categories: Sequence[str], max_zoom: int,
                    title_chars: int = 40) -> PointSet:
        """Project, sort and pack points.

        Parameters
        ----------
        titles
            Either a list of strings or one UTF-8 blob of newline-separated titles
            (what :mod:`tiles.source` reads from PostGIS without a Python object per row).
        """
        ids = np.asarray(ids, dtype=np.int64)
        if isinstance(titles, bytes | bytearray) and len(ids) == 0:
            blob = np.zeros(0, dtype=np.uint8)
            starts = lens = np.zeros(0, dtype=np.int64)
        elif isinstance(titles, bytes | bytearray):
            blob = np.frombuffer(titles, dtype=np.uint8)
            ends = np.flatnonzero(blob == 10)
            if len(ends) == len(ids) - 1:
                ends = np.append(ends, len(blob))
            starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
            lens = (ends - starts).astype(np.int64)
        else:
            encoded = [t[:title_chars].encode() for t in titles]
            lens = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
            starts = np.concatenate(([0], np.cumsum(lens)[:-1])).astype(np.int64)
            blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        if len(lens) != len(ids):
            raise ValueError(f"{len(ids)} points but {len(lens)} titles")
        mx, my = lonlat_to_mercator(lon, lat)
        scale = float(1 << (max_zoom + EXTENT_BITS))
        limit = (1 << (max_zoom + EXTENT_BITS)) - 1
        gx = np.clip(np.floor((mx + ORIGIN_SHIFT) / (2 * ORIGIN_SHIFT) * scale), 0, limit)
        gy = np.clip(np.floor((ORIGIN_SHIFT - my) / (2 * ORIGIN_SHIFT) * scale), 0, limit)
        gx = gx.astype(np.int64)
        gy = gy.astype(np.int64)
        morton = interleave(gx, gy)
        order = np.argsort(morton, kind="stable")
        return cls(max_zoom=max_zoom, ids=ids[order], gx=gx[order], gy=gy[order],
                   morton=morton[order], cat=np.asarray(cat, dtype=np.int16)[order],
                   titles=blob, title_start=starts[order], title_len=lens[order],
                   categories=tuple(categories))

    def replace(self, remove_ids: np.ndarray, added: PointSet) -> PointSet:
        """A new set without ``remove_ids`` and with ``added`` (same zoom), re-sorted.

        Titles of removed points stay in the blob until the next full load; it is an
        append-only buffer so that nothing is copied per title.
        """
        keep = ~np.isin(self.ids, remove_ids)
        blob = np.concatenate((self.titles, added.titles))
        morton = np.concatenate((self.morton[keep], added.morton))
        order = np.argsort(morton, kind="stable")

        def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.concatenate((a[keep], b))[order]

        return PointSet(
            max_zoom=self.max_zoom, ids=cat(self.ids, added.ids), gx=cat(self.gx, added.gx),
            gy=cat(self.gy, added.gy), morton=morton[order], cat=cat(self.cat, added.cat),
            titles=blob, title_start=cat(self.title_start, added.title_start + len(self.titles)),
            title_len=cat(self.title_len, added.title_len), categories=self.categories)

    def title(self, i: int) -> str:
        """The short title of point ``i`` (tests and debugging)."""
        s = int(self.title_start[i])
        return bytes(self.titles[s:s + int(self.title_len[i])]).decode()
