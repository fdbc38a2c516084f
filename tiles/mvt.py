"""A project-owned Mapbox Vector Tile (v2) encoder for points, vectorised with numpy.

Why our own: a point feature is a handful of varints, so the whole layer of a tile can
be written as one matrix of varints encoded in a few numpy passes, instead of building
a Python object per feature (mapbox-vector-tile: ~11 µs a feature). Tests decode every
kind of tile with mapbox-vector-tile as the oracle.

Layer ``features``: points carry the MVT feature id and the properties ``id``,
``category`` and ``title``; clusters carry ``cluster`` (true), ``point_count``,
``point_count_abbreviated`` and ``count_<category>`` for each category present.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .options import EXTENT, LAYER

__all__ = ["LayerSchema", "abbreviate", "encode_varints", "pb_varint", "varint_len",
           "zigzag"]

_U = np.uint64
_THRESHOLDS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=_U)


def pb_varint(n: int) -> bytes:
    """Protobuf varint of a non-negative integer."""
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field_bytes(field: int, data: bytes) -> bytes:
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def varint_len(v: np.ndarray) -> np.ndarray:
    """Bytes of each value's varint (1..10)."""
    v = np.asarray(v).astype(_U, copy=False)
    n = np.ones(v.shape, dtype=np.int64)
    if v.size == 0:
        return n
    top = int(v.max())
    for k in range(1, 10):
        if top < 1 << (7 * k):
            break
        n += v >= _U(1 << (7 * k))
    return n


def zigzag(v: np.ndarray) -> np.ndarray:
    """Protobuf zigzag of signed int64 values."""
    v = np.asarray(v, dtype=np.int64)
    return ((v << 1) ^ (v >> 63)).astype(_U)


def encode_varints(matrix: np.ndarray, mask: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Encode a 2-D array of uint64 as varints, row after row.

    Returns the bytes (uint8) and the byte length of each row. Fixed bytes below 128
    (field tags) are their own varint, so a whole protobuf message of scalar fields is
    one row. Entries where ``mask`` is false are left out.

    Every entry is first written as a fixed-width group of bytes (as many as the
    longest varint), then the unused bytes are dropped with one boolean mask: a few
    contiguous passes instead of scattered writes.
    """
    flat = np.ascontiguousarray(matrix, dtype=_U).ravel()
    nb = varint_len(flat)
    if mask is not None:
        nb *= np.ascontiguousarray(mask).ravel()
    rows = nb.reshape(matrix.shape).sum(axis=1)
    width = int(nb.max()) if len(nb) else 0
    groups = np.empty((len(flat), width), dtype=np.uint8)
    for b in range(width):
        more = (nb > b + 1).astype(np.uint8) << 7
        groups[:, b] = ((flat >> _U(7 * b)) & _U(0x7F)).astype(np.uint8) | more
    keep = np.arange(width)[None, :] < nb[:, None]
    return groups[keep], rows


def _segments(total: int, dst_starts: np.ndarray, src_starts: np.ndarray,
              lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs copying ``lens`` bytes from ``src_starts`` to ``dst_starts``."""
    lens = lens.astype(np.int64)
    rep = np.repeat(np.arange(len(lens)), lens)
    within = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
    return dst_starts[rep] + within, src_starts[rep] + within


def abbreviate(n: int) -> str:
    """``point_count_abbreviated`` as supercluster writes it: 950, 1.2k, 12k, 3.4M."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"
    if n >= 10_000:
        return f"{round(n / 1000)}k"
    if n >= 1000:
        return f"{n / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return str(n)


def _value_string(s: str) -> bytes:
    return _field_bytes(4, _field_bytes(1, s.encode()))


def _value_uint(n: int) -> bytes:
    return _field_bytes(4, b"\x28" + pb_varint(n))


@dataclass(frozen=True)
class LayerSchema:
    """Keys and shared values of the ``features`` layer for one category list."""

    categories: tuple[str, ...]

    @property
    def keys(self) -> list[str]:
        """Property names, in key-table order."""
        return ["id", "category", "title", "cluster", "point_count",
                "point_count_abbreviated", *(f"count_{c}" for c in self.categories)]

    @property
    def shared(self) -> int:
        """Number of shared values: one per category, then ``true``."""
        return len(self.categories) + 1

    def header(self) -> bytes:
        """Layer fields before the features: version, name, extent, keys, shared values."""
        parts = [b"\x78\x02", _field_bytes(1, LAYER.encode()), b"\x28" + pb_varint(EXTENT)]
        parts += [_field_bytes(3, k.encode()) for k in self.keys]
        parts += [_value_string(c) for c in self.categories]
        parts.append(_field_bytes(4, b"\x38\x01"))  # bool true
        return b"".join(parts)

    def encode(self, *, pt_tile: np.ndarray, pt_ids: np.ndarray, pt_cat: np.ndarray,
               pt_x: np.ndarray, pt_y: np.ndarray, titles: np.ndarray,
               title_start: np.ndarray, title_len: np.ndarray,
               cl_tile: np.ndarray, cl_x: np.ndarray, cl_y: np.ndarray,
               cl_count: np.ndarray, cl_cats: np.ndarray) -> dict[int, bytes]:
        """Encode the tiles of a batch of features, both groups sorted by tile key.

        Returns ``{tile_key: uncompressed tile}``. Point coordinates are tile-local
        extent units (negative or beyond the extent inside the buffer).
        """
        header = self.header()
        out: dict[int, bytes] = {}
        pt_feat, pt_vals, pt_bounds = self._points(pt_tile, pt_ids, pt_cat, pt_x, pt_y,
                                                   titles, title_start, title_len)
        cl_feat, cl_vals, cl_bounds = self._clusters(cl_tile, cl_x, cl_y, cl_count, cl_cats,
                                                     pt_tile)
        tiles = np.union1d(pt_bounds[0], cl_bounds[0])
        groups = []
        for feat, vals, (keys, lo, hi) in ((pt_feat, pt_vals, pt_bounds),
                                           (cl_feat, cl_vals, cl_bounds)):
            fofs = np.concatenate(([0], np.cumsum(feat[1]))).tolist()
            vofs = np.concatenate(([0], np.cumsum(vals[1]))).tolist()
            where = {int(k): (int(a), int(b)) for k, a, b in zip(keys, lo, hi, strict=True)}
            groups.append((feat[0].tobytes(), vals[0].tobytes(), fofs, vofs, where))
        for key in tiles.tolist():
            pieces = [header]
            tail = []
            for fbytes, vbytes, fofs, vofs, where in groups:
                a, b = where.get(key, (0, 0))
                pieces.append(fbytes[fofs[a]:fofs[b]])
                tail.append(vbytes[vofs[a]:vofs[b]])
            layer = b"".join(pieces + tail)
            out[key] = b"\x1a" + pb_varint(len(layer)) + layer
        return out

    def _points(self, tile: np.ndarray, ids: np.ndarray, cat: np.ndarray, x: np.ndarray,
                y: np.ndarray, titles: np.ndarray, tstart: np.ndarray, tlen: np.ndarray
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray],
                           tuple[np.ndarray, np.ndarray, np.ndarray]]:
        n = len(tile)
        starts = np.flatnonzero(np.concatenate(([True], tile[1:] != tile[:-1]))) if n \
            else np.zeros(0, dtype=np.int64)
        ends = np.append(starts[1:], n) if n else starts
        counts = ends - starts
        rank = np.arange(n) - np.repeat(starts, counts)
        base = self.shared + 2 * rank
        uid = ids.astype(_U)
        zx, zy = zigzag(x), zigzag(y)
        m = np.empty((n, 19), dtype=_U)
        m[:, 0] = 0x12
        m[:, 2] = 0x08
        m[:, 3] = uid
        m[:, 4] = 0x12
        m[:, 6] = 0
        m[:, 7] = base
        m[:, 8] = 1
        m[:, 9] = cat
        m[:, 10] = 2
        m[:, 11] = base + 1
        m[:, 12] = 0x18
        m[:, 13] = 1
        m[:, 14] = 0x22
        m[:, 16] = 9
        m[:, 17] = zx
        m[:, 18] = zy
        tagslen = 3 + varint_len(base) + varint_len(cat) + varint_len(base + 1)
        geomlen = 1 + varint_len(zx) + varint_len(zy)
        m[:, 5] = tagslen
        m[:, 15] = geomlen
        m[:, 1] = varint_len(uid) + tagslen + geomlen + 7
        feat = encode_varints(m)
        # Values: uint id, then the title string (header varints, then its bytes).
        tl = tlen.astype(_U)
        h = np.empty((n, 8), dtype=_U)
        h[:, 0] = 0x22
        h[:, 1] = 1 + varint_len(uid)
        h[:, 2] = 0x28
        h[:, 3] = uid
        h[:, 4] = 0x22
        h[:, 5] = 1 + varint_len(tl) + tl
        h[:, 6] = 0x0A
        h[:, 7] = tl
        hbytes, hlen = encode_varints(h)
        rowlen = hlen + tlen
        total = int(rowlen.sum())
        vals = np.empty(total, dtype=np.uint8)
        dst0 = np.cumsum(rowlen) - rowlen
        d, s = _segments(total, dst0, np.cumsum(hlen) - hlen, hlen)
        vals[d] = hbytes[s]
        d, s = _segments(total, dst0 + hlen, tstart, tlen)
        vals[d] = titles[s]
        # Per-tile byte ranges are summed per feature below (rows are contiguous).
        return (feat[0], feat[1]), (vals, rowlen), (tile[starts] if n else tile, starts, ends)

    def _clusters(self, tile: np.ndarray, x: np.ndarray, y: np.ndarray, count: np.ndarray,
                  cats: np.ndarray, pt_tile: np.ndarray
                  ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray],
                             tuple[np.ndarray, np.ndarray, np.ndarray]]:
        n, ncat = len(tile), len(self.categories)
        cats = cats[:, :ncat] if ncat else np.zeros((n, 0), dtype=np.int32)
        starts = np.flatnonzero(np.concatenate(([True], tile[1:] != tile[:-1]))) if n \
            else np.zeros(0, dtype=np.int64)
        ends = np.append(starts[1:], n) if n else starts
        # Values of a cluster: count, abbreviation, then one per category present.
        nz = cats > 0
        nvals = 2 + nz.sum(axis=1)
        csum = np.cumsum(nvals) - nvals
        within = csum - np.repeat(csum[starts], ends - starts)
        npts = np.searchsorted(pt_tile, tile, "right") - np.searchsorted(pt_tile, tile, "left")
        v = (self.shared + 2 * npts + within).astype(_U)
        cat_v = v[:, None] + 1 + np.cumsum(nz, axis=1).astype(_U)
        m = np.zeros((n, 10 + 2 * ncat + 7), dtype=_U)
        mask = np.ones(m.shape, dtype=bool)
        m[:, 0], m[:, 2] = 0x12, 0x12
        m[:, 4], m[:, 5], m[:, 6], m[:, 7], m[:, 8], m[:, 9] = 3, ncat, 4, v, 5, v + 1
        tag_cols = slice(10, 10 + 2 * ncat)
        m[:, 10:10 + 2 * ncat:2] = 6 + np.arange(ncat, dtype=_U)
        m[:, 11:10 + 2 * ncat:2] = cat_v
        mask[:, tag_cols] = np.repeat(nz, 2, axis=1)
        c = 10 + 2 * ncat
        zx, zy = zigzag(x), zigzag(y)
        m[:, c], m[:, c + 1], m[:, c + 2] = 0x18, 1, 0x22
        m[:, c + 4], m[:, c + 5], m[:, c + 6] = 9, zx, zy
        geomlen = 1 + varint_len(zx) + varint_len(zy)
        m[:, c + 3] = geomlen
        tl = varint_len(m[:, 4:c]) * mask[:, 4:c]
        tagslen = tl.sum(axis=1)
        m[:, 3] = tagslen
        m[:, 1] = 1 + varint_len(tagslen) + tagslen + 3 + 1 + geomlen
        feat = encode_varints(m, mask)
        # Values: two scalar varint groups around the abbreviation's bytes.
        uniq, inv = np.unique(count, return_inverse=True)
        abbr = [abbreviate(int(u)).encode() for u in uniq]
        ablen = np.array([len(a) for a in abbr], dtype=np.int64)
        ablob = np.frombuffer(b"".join(abbr), dtype=np.uint8)
        abstart = np.cumsum(ablen) - ablen
        al = ablen[inv] if n else np.zeros(0, dtype=np.int64)
        cu = count.astype(_U)
        h = np.empty((n, 8), dtype=_U)
        h[:, 0], h[:, 1], h[:, 2], h[:, 3] = 0x22, 1 + varint_len(cu), 0x28, cu
        h[:, 4], h[:, 5], h[:, 6], h[:, 7] = 0x22, 2 + al, 0x0A, al
        hb, hl = encode_varints(h)
        cv = cats.astype(_U)
        t = np.zeros((n, 4 * ncat), dtype=_U)
        t[:, 0::4], t[:, 1::4], t[:, 2::4], t[:, 3::4] = 0x22, 1 + varint_len(cv), 0x28, cv
        tb, tlen = encode_varints(t, np.repeat(nz, 4, axis=1)) if ncat else \
            (np.zeros(0, np.uint8), np.zeros(n, np.int64))
        rowlen = hl + al + tlen
        total = int(rowlen.sum())
        vals = np.empty(total, dtype=np.uint8)
        dst0 = np.cumsum(rowlen) - rowlen
        for dst, src, seg, ln in ((dst0, np.cumsum(hl) - hl, hb, hl),
                                  (dst0 + hl, abstart[inv] if n else al, ablob, al),
                                  (dst0 + hl + al, np.cumsum(tlen) - tlen, tb, tlen)):
            d, s = _segments(total, dst, src, ln)
            vals[d] = seg[s]
        return (feat[0], feat[1]), (vals, rowlen), (tile[starts] if n else tile, starts, ends)
