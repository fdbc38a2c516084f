"""The column path: a simple CSV validated and encoded a batch of columns at a time.

pyarrow splits the cells, numpy reprojects, :func:`ingestion.columns.precheck`
validates whole columns; rows it cannot prove simple and valid go to the scalar path,
so both paths store the same rows (tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from .areaindex import area_ids_column
from .categories import CategorySpec
from .copyrows import _copy_columns, _escape, _ewkb_hex, _hex_binary
from .mapping import DESCRIPTION_KEYS, REF_KEYS, TITLE_KEYS, Mapper, to_lonlat_many
from .readers import CsvColumns, csv_row
from .scalarpath import _Context, _dedupe, _encode_items, _validate_batch
from .types import Record
from .validation import validate_submission

try:  # the vectorised pre-check of whole columns (another module; optional until it lands)
    from .columns import ColumnBatch, precheck
except ImportError:  # pragma: no cover - depends on the tree
    ColumnBatch = precheck = None  # type: ignore[assignment,misc]

_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"


@dataclass
class _Plan:
    """Which columns of a simple CSV the generic mapper would read, by index."""

    header: list[str]
    title: list[int]
    description: list[int]
    category: list[int]
    constant_category: str | None
    other: list[int]
    ref: list[int]
    groups: list[tuple[list[int], list[int]]]


def _plan(cols: CsvColumns, categories: Mapping[str, CategorySpec], *,
          category: str | None, prefer_xy: bool) -> _Plan:
    from .readers import LAT_KEYS, LON_KEYS, X_KEYS, Y_KEYS

    h = cols.header

    def present(keys: Iterable[str]) -> list[int]:
        return [h.index(k) for k in keys if k in h]

    specs = [categories[category]] if category else list(categories.values())
    attr_names = {f.name for spec in specs for f in spec.fields}
    groups = [(present(X_KEYS), present(Y_KEYS)), (present(LON_KEYS), present(LAT_KEYS))]
    return _Plan(h, present(TITLE_KEYS), present(DESCRIPTION_KEYS),
                 present(("category", "categorie")), category,
                 present(sorted({"starts_at", "ends_at", "email"} | attr_names)),
                 present(REF_KEYS), groups if prefer_xy else groups[::-1])



def _fast_batch(cols: CsvColumns, start: int, stop: int, plan: _Plan, ctx: _Context,
                prefer_xy: bool, mapper: Mapper) -> list[bytes | str]:
    """One batch of a simple CSV as COPY chunks.

    Columns for the rows that are certainly simple and valid, the scalar path for the
    others (their refusals and counts are exactly the scalar path's).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = stop - start
    cells = cols.cells(start, n)
    numbers = cols.numbers[start:stop]
    good = np.asarray(pc.equal(pc.list_value_length(cells), len(plan.header))
                      .to_numpy(zero_copy_only=False), dtype=bool)
    gidx = np.flatnonzero(good)
    cg = pc.filter(cells, pa.array(good))

    def col(j: int) -> Any:
        c = pc.list_element(cg, j)
        return pc.if_else(pc.equal(c, ""), pa.scalar(None, pa.string()), c)

    def first(idxs: list[int]) -> Any:
        if not idxs:
            return pa.nulls(len(gidx), pa.string())
        return pc.coalesce(*[col(j) for j in idxs])

    def valid(a: Any) -> np.ndarray:
        return np.asarray(pc.is_valid(a).to_numpy(zero_copy_only=False), dtype=bool)

    title, desc, ref = first(plan.title), first(plan.description), first(plan.ref)
    simple = valid(title) & valid(ref)
    if plan.constant_category is not None:
        cat = pa.array([plan.constant_category] * len(gidx), pa.string())
    else:
        cat = first(plan.category)
        simple &= valid(cat)
    for j in plan.other:
        simple &= ~valid(col(j))
    (gx1, gy1), (gx2, gy2) = [(first(a), first(b)) for a, b in plan.groups]
    use1 = pc.or_(pc.is_valid(gx1), pc.is_valid(gy1))
    x, y = pc.if_else(use1, gx1, gx2), pc.if_else(use1, gy1, gy2)
    for c in (x, y):
        simple &= np.asarray(pc.fill_null(pc.match_substring_regex(c, _NUMBER), False)
                             .to_numpy(zero_copy_only=False), dtype=bool)
    sel = np.flatnonzero(simple)
    fast_ok = np.zeros(len(gidx), dtype=bool)
    lon = lat = np.zeros(0)
    lines = cols.lines.slice(start, n)
    chg_fast = np.zeros(0, dtype=bool)
    unch_pos = np.zeros(0, dtype=np.int64)
    unch_refs = pa.array([], pa.string())
    titles: Any = pa.array([], pa.string())
    descs: Any = pa.array([], pa.string())
    if len(sel):
        xs = pc.take(x, sel).cast(pa.float64()).to_numpy(zero_copy_only=False)
        ys = pc.take(y, sel).cast(pa.float64()).to_numpy(zero_copy_only=False)
        lon, lat, ok = to_lonlat_many(xs, ys, ctx.crs)
        refs_sel = pc.utf8_slice_codeunits(pc.take(ref, sel), 0, 200)
        chg = np.zeros(len(sel), dtype=bool)
        unch = np.zeros(len(sel), dtype=bool)
        if ctx.previous:  # a re-import: compare the bytes of rows seen before
            # A Python set lookup per row: pc.is_in would hash every previous ref again
            # for each batch (~0.25 s a batch at a million refs).
            prev = ctx.previous
            ref_list = refs_sel.to_pylist()
            kp = np.array([j for j, r in enumerate(ref_list) if r in prev], dtype=np.int64)
            if len(kp):
                raws = pc.take(lines, pa.array(gidx[sel[kp]])).to_pylist()
                same = prev.same
                for j, r, b in zip(kp.tolist(), [ref_list[j] for j in kp.tolist()], raws,
                                   strict=True):
                    if same(r, b):
                        unch[j] = True
                    else:
                        chg[j] = True
            ok &= ~unch
            unch_pos = gidx[sel[unch]]
            unch_refs = refs_sel.filter(pa.array(unch))
        t_list = pc.take(title, sel).to_pylist()
        d_list = pc.take(desc, sel).to_pylist()
        c_list = pc.take(cat, sel).to_pylist()
        if precheck is not None:
            clean = precheck(ColumnBatch(
                lon=np.where(ok, lon, np.nan), lat=np.where(ok, lat, np.nan), title=t_list,
                description=d_list, category=c_list, has_other=np.zeros(len(sel), bool)),
                categories=ctx.categories, area=ctx.area, config=ctx.config)
            ok &= np.asarray(clean.ok, dtype=bool)
            keep_ok = pa.array(ok)
            titles = pa.array(clean.title, pa.string()).filter(keep_ok)
            descs = pc.fill_null(pa.array(clean.description, pa.string()).filter(keep_ok), "")
        else:  # the scalar validation, on dicts built from the columns
            title_list: list[str] = []
            desc_list: list[str] = []
            if ctx.area is not None:
                with np.errstate(invalid="ignore"):
                    inside = shapely.intersects_xy(ctx.area.geometry, np.nan_to_num(lon),
                                                   np.nan_to_num(lat))
            else:
                inside = np.ones(len(sel), bool)
            for k in np.flatnonzero(ok).tolist():
                data = {"category": c_list[k], "title": t_list[k], "description": d_list[k],
                        "attributes": {}, "lon": float(lon[k]), "lat": float(lat[k])}
                try:
                    res = validate_submission(data, categories=ctx.categories,
                                              area=None if inside[k] else ctx.area,
                                              now=ctx.now, config=ctx.config,
                                              allow_unknown=True)
                except Exception:  # the scalar path will record it
                    res = None
                if not isinstance(res, Record) or res.attributes or res.starts_at \
                        or res.ends_at or res.email or (res.lon, res.lat) != (lon[k], lat[k]):
                    ok[k] = False
                    continue
                title_list.append(res.title)
                desc_list.append(res.description)
            titles, descs = pa.array(title_list, pa.string()), pa.array(desc_list, pa.string())
        fast_ok[sel[ok]] = True
        lon, lat, chg_fast = lon[ok], lat[ok], chg[ok]
        fast_refs = refs_sel.filter(pa.array(ok))
    else:
        fast_refs = pa.array([], pa.string())
    # Rows of the batch (by position) that are fast and valid, unchanged, and the others.
    fast_pos = gidx[fast_ok]
    is_fast = np.zeros(n, dtype=bool)
    is_fast[fast_pos] = True
    is_fast[unch_pos] = True
    slow_pos = np.flatnonzero(~is_fast)
    slow_raw = pc.take(lines, pa.array(slow_pos)).to_pylist() if len(slow_pos) else []
    slow_rows = [csv_row(int(numbers[p]), raw, raw.decode(), cols.header, cols.delimiter,
                         prefer_xy=prefer_xy) for p, raw in zip(slow_pos.tolist(), slow_raw,
                                                                 strict=True)]
    items = _validate_batch(slow_rows, mapper=mapper, crs=ctx.crs, categories=ctx.categories,
                            area=ctx.area, now=ctx.now, config=ctx.config,
                            geocoder=ctx.geocoder, previous=ctx.previous)
    # Repeated references, in file order, across every kind of row.
    fast_ref_list, unch_ref_list = fast_refs.to_pylist(), unch_refs.to_pylist()
    all_refs = fast_ref_list + unch_ref_list + [i.ref for i in items]
    if len(set(all_refs)) == len(all_refs) and ctx.seen.isdisjoint(all_refs):
        ctx.seen.update(all_refs)
    else:
        order = sorted([(int(p), k, 0) for k, p in enumerate(fast_pos.tolist())]
                       + [(int(p), k, 1) for k, p in enumerate(unch_pos.tolist())]
                       + [(int(p), k, 2) for k, p in enumerate(slow_pos.tolist())])
        demoted: tuple[list[int], list[int]] = ([], [])
        for p, k, kind in order:
            if kind == 2:
                _dedupe(items[k], ctx)
                continue
            ref = (fast_ref_list if kind == 0 else unch_ref_list)[k]
            if ref not in ctx.seen:
                ctx.seen.add(ref)
                continue
            # A column row whose ref came earlier: the scalar path, exactly.
            raw = pc.take(lines, pa.array([p])).to_pylist()[0]
            row = csv_row(int(numbers[p]), raw, raw.decode(), cols.header, cols.delimiter,
                          prefer_xy=prefer_xy)
            extra = _validate_batch([row], mapper=mapper, crs=ctx.crs,
                                    categories=ctx.categories, area=ctx.area, now=ctx.now,
                                    config=ctx.config, geocoder=ctx.geocoder)[0]
            _dedupe(extra, ctx)
            items.append(extra)
            demoted[kind].append(k)
        if demoted[0]:
            keep = np.ones(len(fast_pos), dtype=bool)
            keep[demoted[0]] = False
            fast_pos, lon, lat, chg_fast = fast_pos[keep], lon[keep], lat[keep], chg_fast[keep]
            titles, descs = titles.filter(pa.array(keep)), descs.filter(pa.array(keep))
            fast_refs = fast_refs.filter(pa.array(keep))
        if demoted[1]:
            keep = np.ones(len(unch_pos), dtype=bool)
            keep[demoted[1]] = False
            unch_pos, unch_refs = unch_pos[keep], unch_refs.filter(pa.array(keep))
            unch_ref_list = unch_refs.to_pylist()
        items.sort(key=lambda i: i.row.number)
    chunks: list[bytes | str] = [_encode_items(items, ctx)]
    if len(unch_pos):
        summary = ctx.summary
        for ref in unch_ref_list:  # counted as the row was the last time
            summary.read += 1
            summary.already_imported += 1
            _, outcome, code = ctx.previous[ref]
            if outcome == "invalid":
                summary.refused += 1
                summary.refused_by_reason[code or "invalid"] += 1
            else:
                summary.accepted += 1
        raw, raw_offset, raw_length = _raw_columns(cols, start, lines, unch_pos, ctx)
        columns = [pa.array(np.full(len(unch_pos), ctx.run_id)),
                   pa.array(numbers[unch_pos]), _escape(unch_refs), raw,
                   pa.scalar("unchanged"), pa.scalar("f"), *[pa.scalar("\\N")] * 8,
                   pa.scalar("{}"), raw_offset, raw_length]
        chunks.append(_copy_columns(columns))
    m = len(fast_pos)
    if m:
        ctx.summary.read += m
        ctx.summary.accepted += m
        ctx.valid_written += m
        ctx.summary.changed += int(chg_fast.sum())
        placed = ctx.areas.lookup_ids(lon, lat)

        geom = pa.StringArray.from_buffers(
            m, pa.py_buffer(np.arange(0, 50 * m + 1, 50, dtype=np.int32)),
            pa.py_buffer(_ewkb_hex(lon, lat).tobytes()))
        raw, raw_offset, raw_length = _raw_columns(cols, start, lines, fast_pos, ctx)
        columns = [
            pa.array(np.full(m, ctx.run_id)).cast(pa.string()),
            pa.array(numbers[fast_pos]).cast(pa.string()),
            _escape(fast_refs),
            raw,
            pa.scalar("valid"), pa.array(np.where(chg_fast, "t", "f")), pa.scalar("\\N"),
            _escape(pc.take(cat, pa.array(_gidx_of(fast_pos, gidx)))),
            _escape(titles),
            _escape(descs),
            pa.scalar("\\N"), pa.scalar("\\N"), pa.scalar("{}"), geom,
            area_ids_column(placed, m),
            raw_offset, raw_length,
        ]
        chunks.append(_copy_columns(columns))
    return chunks


def _raw_columns(cols: CsvColumns, start: int, lines: Any, pos: np.ndarray,
                 ctx: _Context) -> list[Any]:
    """The raw, raw_offset and raw_length COPY columns of the batch's rows at ``pos``.

    When the lines are slices of the stored file, their offset and length (no copy of
    the bytes: that copy, hex-encoded, was most of what PostgreSQL parsed); else the bytes.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    taken = pc.take(lines, pa.array(pos))
    if not ctx.file_slices or cols.starts is None:
        return [_hex_binary(taken), pa.scalar("\\N"), pa.scalar("\\N")]
    return [pa.scalar("\\N"), pa.array(cols.starts[start + pos]),
            pc.binary_length(taken)]


def _gidx_of(positions: np.ndarray, gidx: np.ndarray) -> np.ndarray:
    """Indices into the good-rows arrays of batch positions (both sorted)."""
    return np.searchsorted(gidx, positions)

