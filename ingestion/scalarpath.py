"""The scalar path: rows mapped, validated and encoded one at a time.

Every row that the column path cannot prove simple and valid comes here (custom
mappers, :class:`~ingestion.mapping.RefuseRow`, bad rows), so refusals and counts are
always the same rules' answers.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import IO, Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.geocode import QUALITIES, Geocoder, Match

from .areaindex import AreaIndex, area_ids_text
from .categories import CategorySpec
from .copyrows import _copy_text, _ewkb_one
from .mapping import ADDRESS_KEY, POSTCODE_KEY, Mapper, RefuseRow, _stable_ref, to_lonlat_many
from .readers import SourceRow
from .types import FieldError, Record
from .validation import ServiceArea, ValidationConfig, validate_submission


@dataclass
class ImportSummary:
    """What one import did. ``read == accepted + refused``, always."""

    file: str
    source: str
    read: int = 0
    accepted: int = 0
    refused: int = 0
    published: int = 0
    pending: int = 0
    already_imported: int = 0
    refused_by_reason: Counter[str] = field(default_factory=Counter)
    refused_file: str | None = None
    seconds: float = 0.0
    run_id: int | None = None
    status: str | None = None
    changed: int = 0
    # Rows placed by their address (geo.geocode), by match quality: exact, street, none.
    geocoded: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """The summary line ``carte import`` prints (JSON)."""
        return {"file": self.file, "source": self.source, "read": self.read,
                "received": self.read, "accepted": self.accepted, "refused": self.refused,
                "invalid": self.refused, "pending": self.pending, "published": self.published,
                "already_imported": self.already_imported, "changed": self.changed,
                "run_id": self.run_id, "status": self.status,
                "refused_by_reason": dict(self.refused_by_reason.most_common()),
                "refused_file": self.refused_file, "seconds": round(self.seconds, 2),
                "rows_per_s": round(self.read / self.seconds) if self.seconds else None,
                **({"geocoded": {q: self.geocoded[q] for q in QUALITIES}}
                   if self.geocoded else {})}



def _batches(rows: Iterator[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    while batch := list(islice(rows, size)):
        yield batch


def _errors_json(errors: Iterable[FieldError]) -> list[dict[str, str]]:
    return [e.as_json() for e in errors]


@dataclass
class _Row:
    row: SourceRow
    ref: str
    data: dict[str, Any]
    result: Record | list[FieldError] | None = None
    geocoded: Match | None = None


def _map_rows(batch: list[SourceRow], mapper: Mapper) -> list[_Row]:
    """Each row mapped to the submission contract and its stable reference."""
    items: list[_Row] = []
    for row in batch:
        try:
            data, ref = mapper(row)
        except RefuseRow as refusal:
            items.append(_Row(row, refusal.ref, {},
                              [FieldError("", refusal.code, refusal.message)]))
            continue
        except Exception as exc:  # a mapper bug must not lose the row
            items.append(_Row(row, _stable_ref({}, row.raw), {},
                              [FieldError("", "mapping", str(exc)[:200])]))
            continue
        items.append(_Row(row, ref, data))
    return items


def _geocode(items: list[_Row], geocoder: Geocoder | None) -> None:
    """Place the rows that have an address line and no position (in place).

    The mapper's ``_address``/``_postcode`` keys never reach validation. A match puts
    the point on the row and the address as the file writes it, with the match quality,
    in its attributes (``address``, ``address_match``); ``none`` refuses the row below.
    """
    for item in items:
        line = item.data.pop(ADDRESS_KEY, None)
        postcode = item.data.pop(POSTCODE_KEY, "")
        if geocoder is None or not line or (item.row.x is not None and item.row.y is not None):
            continue
        item.geocoded = geocoder(str(line), str(postcode or ""))


def _validate_items(items: list[_Row], *, crs: str, categories: Mapping[str, CategorySpec],
                    area: ServiceArea | None, now: datetime,
                    config: ValidationConfig, geocoder: Geocoder | None = None) -> None:
    """Reproject and validate the mapped rows that have no result yet (in place)."""
    todo = [item for item in items if item.result is None]
    if not todo:
        return
    _geocode(todo, geocoder)
    xs = np.array([math.nan if r.row.x is None else r.row.x for r in todo], dtype=float)
    ys = np.array([math.nan if r.row.y is None else r.row.y for r in todo], dtype=float)
    lons, lats, ok = to_lonlat_many(xs, ys, crs)
    for i, item in enumerate(todo):  # geocoded points are WGS84 already
        match = item.geocoded
        if match is not None and match.lon is not None and match.lat is not None:
            xs[i], ys[i], lons[i], lats[i], ok[i] = match.lon, match.lat, match.lon, \
                match.lat, True
    # The service area test, vectorised: rows inside skip the scalar test; the others
    # go through it to get their exact message (outside, swapped...).
    if area is not None:
        with np.errstate(invalid="ignore"):
            inside = ok & shapely.intersects_xy(area.geometry, np.nan_to_num(lons),
                                                np.nan_to_num(lats))
    else:
        inside = ok
    for i, item in enumerate(todo):
        row = item.row
        pre: list[FieldError] = []
        match = item.geocoded
        if match is not None and match.quality == "none":
            pre.append(FieldError("/address", "address_not_found", match.reason))
        elif match is not None:
            item.data["lon"], item.data["lat"] = float(lons[i]), float(lats[i])
            attrs = item.data.setdefault("attributes", {})
            if isinstance(attrs, dict):
                attrs["address"], attrs["address_match"] = match.label, match.quality
        elif row.geom_error:
            pre.append(FieldError("/geometry", "no_geometry", row.geom_error))
        elif not (math.isfinite(xs[i]) and math.isfinite(ys[i])):
            pre.append(FieldError("/geometry", "not_finite", "coordinates are not numbers"))
        elif not ok[i]:
            pre.append(FieldError("/geometry", "crs_area",
                                  f"({xs[i]}, {ys[i]}) read as {crs} falls outside that CRS's "
                                  "area of use: wrong --crs?"))
        else:
            item.data["lon"], item.data["lat"] = float(lons[i]), float(lats[i])
        try:
            result = validate_submission(item.data, categories=categories,
                                         area=None if inside[i] else area, now=now,
                                         config=config, allow_unknown=True)
        except Exception as exc:  # a validator bug must not lose the row either
            result = [FieldError("", "internal", f"validation failed: {exc}"[:200])]
        if pre:
            others = [] if not isinstance(result, list) else [
                e for e in result if e.pointer not in ("/lon", "/lat")]
            result = pre + others
        item.result = result


def _validate_batch(batch: list[SourceRow], *, mapper: Mapper, crs: str,
                    categories: Mapping[str, CategorySpec], area: ServiceArea | None,
                    now: datetime, config: ValidationConfig,
                    geocoder: Geocoder | None = None,
                    previous: _Previous | None = None) -> list[_Row]:
    items = _map_rows(batch, mapper)
    if previous:  # the same bytes as last time: stored 'unchanged', never validated or
        for item in items:  # geocoded again (a daily sync of an address-only source)
            if item.result is None and item.ref in previous and \
                    previous.same(item.ref, item.row.raw):
                item.result = []
    _validate_items(items, crs=crs, categories=categories, area=area, now=now, config=config,
                    geocoder=geocoder)
    return items



class _Previous(dict[str, tuple[Any, str, str | None]]):
    """ref -> (what its bytes were, outcome, first error code) of a source's last import.

    What the bytes were: the SHA-256 of the row's ``raw`` (``bytes``), or for a row kept
    as a slice of its run's stored file, ``(run_id, offset, length)``; those files are
    read once, here (``files``), so that a re-import compares bytes with bytes.
    """

    files: dict[int, bytes]

    def same(self, ref: str, raw: bytes) -> bool:
        """Whether ``raw`` are the bytes ``ref`` had the last time (``ref`` is a key)."""
        was = self[ref][0]
        if type(was) is bytes:
            return hashlib.sha256(raw).digest() == was
        run, offset, length = was
        return length == len(raw) and self.files[run][offset:offset + length] == raw


def _previous(session: Session, source: str, run_id: int) -> _Previous:
    """The latest bytes, outcome and first error code of every ref this source imported."""
    # psycopg's own cursor: a million rows come ~3x faster than through SQLAlchemy's rows.
    with session.connection().connection.driver_connection.cursor() as cur:
        cur.execute("""
            SELECT DISTINCT ON (r.ref) r.ref, r.row_hash, r.run_id, r.raw_offset,
                   r.raw_length, r.outcome::text, r.errors->0->>'code'
            FROM import_row r JOIN import_run u ON u.id = r.run_id
            WHERE u.source = %(s)s AND u.id <> %(run)s AND u.status <> 'failed'
              AND r.outcome <> 'unchanged'
            ORDER BY r.ref, r.run_id DESC, r.row_number""", {"s": source, "run": run_id})
        rows = cur.fetchall()
    out = _Previous()
    runs: set[int] = set()
    for ref, h, run, offset, length, outcome, code in rows:
        if h is not None:
            out[ref] = (bytes(h), outcome, code)
        else:
            out[ref] = ((run, offset, length), outcome, code)
            runs.add(run)
    out.files = {}
    for run in sorted(runs):
        parts = session.execute(text(
            "SELECT data FROM import_file_part WHERE run_id = :r ORDER BY part"), {"r": run})
        out.files[run] = b"".join(bytes(d) for (d,) in parts)
    return out


@dataclass
class _Context:
    """What every batch of one import needs."""

    run_id: int
    source: str
    crs: str
    categories: Mapping[str, CategorySpec]
    area: ServiceArea | None
    areas: AreaIndex
    now: datetime
    config: ValidationConfig
    previous: _Previous
    summary: ImportSummary
    refused_out: IO[str] | None
    seen: set[str] = field(default_factory=set)
    # The column path's lines are slices of the stored file (not a gzip's or zip's
    # member): rows are kept as (offset, length) in it instead of a copy of their bytes.
    file_slices: bool = False
    valid_written: int = 0  # rows of this run written 'valid' (what waits for a moderator)
    geocoder: Geocoder | None = None  # places rows that have an address and no position


def _dedupe(item: _Row, ctx: _Context) -> None:
    """The same reference twice in one file: keep both rows, refuse the later ones."""
    if item.ref in ctx.seen:
        item.ref = f"{item.ref}#row{item.row.number}"
        if not isinstance(item.result, list) or not item.result:
            item.result = [FieldError("/id", "repeated_ref",
                                      "another row of this file has the same id")]
    ctx.seen.add(item.ref)


def _encode_items(items: list[_Row], ctx: _Context) -> str:
    """Count, write refusals and build the COPY text of rows that took the scalar path."""
    summary, run = ctx.summary, ctx.run_id
    valid = [i for i in items if isinstance(i.result, Record)]
    placed = ctx.areas.lookup_ids(np.array([i.result.lon for i in valid], dtype=float),  # type: ignore[union-attr]
                                  np.array([i.result.lat for i in valid], dtype=float))
    where = {id(item): area_ids_text(placed, k) for k, item in enumerate(valid)}
    rows: list[tuple[Any, ...]] = []
    for item in items:
        summary.read += 1
        if item.geocoded is not None:
            summary.geocoded[item.geocoded.quality] += 1
        number, raw = item.row.number, item.row.raw
        prev = ctx.previous.get(item.ref)
        changed = False
        if prev is not None:
            if ctx.previous.same(item.ref, raw):
                summary.already_imported += 1
                if prev[1] == "invalid":
                    summary.refused += 1
                    summary.refused_by_reason[prev[2] or "invalid"] += 1
                else:
                    summary.accepted += 1
                rows.append((run, number, item.ref, raw, "unchanged", False)
                            + (None,) * 8 + ("{}", None, None))
                continue
            changed = True
            summary.changed += 1
        res = item.result
        if isinstance(res, Record):
            rows.append((
                run, number, item.ref, raw, "valid", changed, None, res.category,
                res.title, res.description, res.starts_at, res.ends_at,
                json.dumps(dict(res.attributes), ensure_ascii=False), _ewkb_one(res.lon, res.lat),
                where[id(item)], None, None))
            summary.accepted += 1
            ctx.valid_written += 1
        else:
            assert res is not None
            errs = _errors_json(res)
            rows.append((run, number, item.ref, raw, "invalid", changed,
                         json.dumps(errs, ensure_ascii=False))
                        + (None,) * 7 + ("{}", None, None))
            summary.refused += 1
            summary.refused_by_reason[res[0].code] += 1
            if ctx.refused_out is not None:
                ctx.refused_out.write(json.dumps({
                    "row": number, "ref": item.ref, "errors": errs,
                    "raw": raw.decode("utf-8", "replace")}, ensure_ascii=False) + "\n")
    return _copy_text(rows)

