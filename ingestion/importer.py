"""Bulk imports: every row of a file kept in ``import_row``, validated, none dropped.

``run_import(path, session=..., source=...)`` is the guts of ``carte import``:

1. the file is stored as received (``import_run`` + ``import_file_part``) in its own
   committed transaction, before any parsing: a failed import leaves the file and a
   ``failed`` run with its error;
2. rows are read (:mod:`ingestion.readers`), mapped to the submission contract,
   reprojected (pyproj, refusing points outside the CRS's area of use) and validated
   with the same pure rules as the API. A simple CSV (no quotes) takes a column path:
   pyarrow splits it, numpy reprojects it, :func:`ingestion.columns.precheck` (when
   present) validates whole columns, and the COPY text is built by pyarrow kernels;
   every other row (custom mappers, :class:`RefuseRow`, bad rows) takes the scalar path;
3. batches are written with ``COPY`` into ``import_row`` from a second thread, while
   this one prepares the next batch;
4. with ``publish=True`` (a trusted partner, open data) the valid rows are published
   set-based (:func:`geo.publish.publish_import_rows`), audited as ``import``; else the
   run waits, ``pending``, for a moderator (:mod:`ingestion.runs`).

``source`` + the row's stable reference (its id column, or a hash of the row) identify a
row across runs: the same bytes again are ``unchanged`` (nothing written twice), other
bytes are validated again and, once published, revise the feature.

Invariant, checked by tests: ``read == accepted + refused`` for every file.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from pyproj import CRS, Transformer
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from geo.areas import city_outline
from geo.models import Area, AreaKind
from geo.publish import publish_import_rows

from .categories import CategorySpec, FieldSpec, specs_from_db
from .errors import BadSourceFile, CrsError
from .readers import CsvColumns, SourceRow, csv_columns, csv_row, open_source
from .types import FieldError, Record
from .validation import ServiceArea, ValidationConfig, validate_submission

__all__ = ["AreaIndex", "ImportSummary", "Mapped", "RefuseRow", "generic_mapper", "run_import",
           "to_lonlat_many"]

Mapped = tuple[dict[str, Any], str]  # the submission contract's keys, and a stable ref
Mapper = Callable[[SourceRow], Mapped]


class RefuseRow(Exception):
    """Raised by a mapper to refuse a row with its own reason (counted, kept, written).

    A seed file may hold rows another seed already publishes (the jardins partagés of
    ``espaces_verts``): refusing them with a reason keeps ``read == accepted + refused``.
    """

    def __init__(self, ref: str, code: str, message: str) -> None:
        super().__init__(message)
        self.ref, self.code, self.message = ref, code, message

TITLE_KEYS = ("title", "titre", "name", "nom", "Nom", "libelle", "label", "Nom complet",
              "Nom de l'espace vert")
DESCRIPTION_KEYS = ("description", "desc", "Description")
REF_KEYS = ("source_ref", "id", "ID", "identifiant", "Identifiant", "gid", "ref", "fid")
TRUE = {"1", "true", "oui", "yes", "vrai", "o", "y"}
FALSE = {"0", "false", "non", "no", "faux", "n"}
WGS84 = CRS.from_epsg(4326)
COPY_COLUMNS = ("run_id", "row_number", "ref", "raw", "outcome", "changed", "errors",
                "category", "title", "description", "starts_at", "ends_at", "attributes",
                "geom", "arrondissement_id", "quartier_id")
PART_SIZE = 16 * 1024 * 1024  # bytes per import_file_part row


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

    def as_dict(self) -> dict[str, Any]:
        """The summary line ``carte import`` prints (JSON)."""
        return {"file": self.file, "source": self.source, "read": self.read,
                "received": self.read, "accepted": self.accepted, "refused": self.refused,
                "invalid": self.refused, "pending": self.pending, "published": self.published,
                "already_imported": self.already_imported, "changed": self.changed,
                "run_id": self.run_id, "status": self.status,
                "refused_by_reason": dict(self.refused_by_reason.most_common()),
                "refused_file": self.refused_file, "seconds": round(self.seconds, 2),
                "rows_per_s": round(self.read / self.seconds) if self.seconds else None}


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """CSV and shapefile cells are strings or numbers: give them the field's type."""
    if not isinstance(value, str):
        return value
    v = value.strip()
    if spec.type == "boolean":
        return True if v.lower() in TRUE else False if v.lower() in FALSE else value
    if spec.type in ("integer", "number"):
        try:
            num = float(v.replace(",", "."))
        except ValueError:
            return value
        return int(num) if spec.type == "integer" and num.is_integer() else num
    return v


def _stable_ref(props: Mapping[str, Any], raw: bytes) -> str:
    for key in REF_KEYS:
        value = props.get(key)
        if value not in (None, ""):
            return str(value)[:200]
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


def generic_mapper(categories: Mapping[str, CategorySpec], *, category: str | None,
                   title_template: str | None = None) -> Mapper:
    """Map a row by its column names: title/name/nom, description, the category's fields.

    ``title_template`` (``"{numero} {nom_voie}"``) builds titles from columns.
    """
    def mapper(row: SourceRow) -> Mapped:
        props = row.props
        slug = category or props.get("category") or props.get("categorie")
        data: dict[str, Any] = {"category": slug}
        if title_template:
            data["title"] = title_template.format_map(
                defaultdict(str, {k: "" if v is None else v for k, v in props.items()}))
        else:
            data["title"] = next((props[k] for k in TITLE_KEYS if props.get(k)), None)
        data["description"] = next((props[k] for k in DESCRIPTION_KEYS if props.get(k)), None)
        for key in ("starts_at", "ends_at", "email"):
            if props.get(key):
                data[key] = props[key]
        cat = categories.get(slug) if isinstance(slug, str) else None
        attrs: dict[str, Any] = {}
        if cat is not None:
            for spec in cat.fields:
                if props.get(spec.name) not in (None, ""):
                    attrs[spec.name] = _coerce(spec, props[spec.name])
        data["attributes"] = attrs
        return data, _stable_ref(props, row.raw)

    return mapper


def to_lonlat_many(xs: np.ndarray, ys: np.ndarray, crs: str) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`ingestion.validation.to_lonlat`: lon, lat and a mask of good points.

    A point is good when it transforms to finite numbers inside the CRS's area of use
    (pyproj returns finite numbers outside it).
    """
    try:
        src = CRS.from_user_input(crs)
    except Exception as exc:  # pyproj.exceptions.CRSError
        raise CrsError(f"unknown CRS {crs!r}") from exc
    if src == WGS84 or src.equals(WGS84, ignore_axis_order=True):
        lon, lat = xs.astype(float), ys.astype(float)
        return lon, lat, np.isfinite(lon) & np.isfinite(lat)
    tr = Transformer.from_crs(src, WGS84, always_xy=True)
    lon, lat = tr.transform(xs, ys)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    aou = src.area_of_use
    if aou is not None:
        tol = 0.5
        with np.errstate(invalid="ignore"):
            ok &= (lon >= aou.west - tol) & (lon <= aou.east + tol) \
                & (lat >= aou.south - tol) & (lat <= aou.north + tol)
    return lon, lat, ok


class AreaIndex:
    """Arrondissement and quartier of many points at once, in memory (prepared shapely).

    The same answer as :func:`geo.areas.locate` for points inside an area; points in
    the few-m² slivers between boundaries go to the nearest area within its tolerance.
    Each point is tested against the prepared polygons whose bounding box holds it
    (~20x faster than an STRtree query with an ``intersects`` predicate).
    """

    def __init__(self, session: Session) -> None:
        self.kinds: dict[AreaKind, tuple[list[Any], np.ndarray, np.ndarray,
                                         shapely.STRtree]] = {}
        for kind in (AreaKind.arrondissement, AreaKind.quartier):
            rows = session.execute(select(Area.id, Area.geom).where(Area.kind == kind)
                                   .order_by(Area.code)).all()
            geoms = [to_shape(g) for _, g in rows]
            for g in geoms:
                shapely.prepare(g)
            bounds = np.array([g.bounds for g in geoms], dtype=float).reshape(-1, 4)
            self.kinds[kind] = (geoms, np.array([i for i, _ in rows], dtype=np.int64),
                                bounds, shapely.STRtree(geoms))

    def lookup_ids(self, lons: np.ndarray, lats: np.ndarray) -> dict[AreaKind, np.ndarray]:
        """Area ids by kind as int64 arrays, ``-1`` where a point is in none."""
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        out: dict[AreaKind, np.ndarray] = {}
        for kind, (geoms, ids, bounds, tree) in self.kinds.items():
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
                                            max_distance=1e-4)
                found[missing[mp[::-1]]] = ids[mg[::-1]]  # ties: the first, as in a loop
            out[kind] = found
        return out

    def lookup(self, lons: np.ndarray, lats: np.ndarray) -> dict[AreaKind, list[int | None]]:
        """Area ids by kind, ``None`` where a point is in none."""
        return {kind: [None if v < 0 else v for v in found.tolist()]
                for kind, found in self.lookup_ids(lons, lats).items()}


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


def _validate_items(items: list[_Row], *, crs: str, categories: Mapping[str, CategorySpec],
                    area: ServiceArea | None, now: datetime,
                    config: ValidationConfig) -> None:
    """Reproject and validate the mapped rows that have no result yet (in place)."""
    todo = [item for item in items if item.result is None]
    if not todo:
        return
    xs = np.array([math.nan if r.row.x is None else r.row.x for r in todo], dtype=float)
    ys = np.array([math.nan if r.row.y is None else r.row.y for r in todo], dtype=float)
    lons, lats, ok = to_lonlat_many(xs, ys, crs)
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
        if row.geom_error:
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
                    now: datetime, config: ValidationConfig) -> list[_Row]:
    items = _map_rows(batch, mapper)
    _validate_items(items, crs=crs, categories=categories, area=area, now=now, config=config)
    return items


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: Any) -> str:
    """One value in PostgreSQL's COPY text format (faster than adapting row by row)."""
    if value is None:
        return "\\N"
    cls = type(value)
    if cls is str:
        return value.translate(_COPY_ESCAPES) if not value.isalnum() else value
    if cls is bytes:
        return "\\\\x" + value.hex()
    if cls is bool:
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    return str(value).translate(_COPY_ESCAPES)


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    return "".join("\t".join(map(_copy_field, r)) + "\n" for r in rows)


def _ewkb_hex(lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Hex EWKB of points (SRID 4326) as a (n, 50) uint8 array of ASCII hex digits.

    PostGIS reads hex EWKB without parsing text numbers; built with numpy, no per-row
    Python: the 25 bytes of each point are fixed but for its two doubles.
    """
    n = len(lons)
    rec = np.zeros(n, dtype=[("head", "u1", 9), ("x", "<f8"), ("y", "<f8")])
    rec["head"] = np.frombuffer(bytes.fromhex("0101000020e6100000"), dtype=np.uint8)
    rec["x"], rec["y"] = lons, lats
    raw = rec.view(np.uint8).reshape(n, 25)
    digits = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
    out = np.empty((n, 50), dtype=np.uint8)
    out[:, 0::2], out[:, 1::2] = digits[raw >> 4], digits[raw & 15]
    return out


def _ewkb_one(lon: float, lat: float) -> str:
    return _ewkb_hex(np.array([lon]), np.array([lat])).tobytes().decode()


class _Writer:
    """COPY batches on the session's connection from a second thread.

    PostgreSQL parses, checks and stores batch N (on the other core) while this
    process validates batch N+1; the thread mostly waits on the socket, GIL released.
    ``join`` before anything else uses the connection.
    """

    def __init__(self, session: Session) -> None:
        self.conn = session.connection().connection.driver_connection
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self, chunks: list[bytes | str]) -> None:
        try:
            with self.conn.cursor() as cur, cur.copy(
                    f"COPY import_row ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                for data in chunks:
                    for start in range(0, len(data), 1 << 22):
                        copy.write(data[start:start + (1 << 22)])
        except BaseException as exc:  # re-raised in the caller's thread by join()
            self.error = exc

    def start(self, chunks: list[bytes | str]) -> None:
        self.join()
        chunks = [c for c in chunks if c]
        if chunks:
            self.thread = threading.Thread(target=self._run, args=(chunks,), daemon=True)
            self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine


def _create_run(engine: Engine, *, source: str, file_name: str, data: bytes,
                crs: str | None, category: str | None, options: dict[str, Any]) -> int:
    """Create the run (committed at once: the rows' trigger checks it exists)."""
    with engine.begin() as conn:
        run_id = conn.execute(text(
            "INSERT INTO import_run (source, file_name, file_sha256, file_size, crs, category, "
            "options) VALUES (:source, :name, :sha, :size, :crs, :category, "
            "CAST(:options AS jsonb)) RETURNING id"),
            {"source": source, "name": file_name[:1000], "sha": hashlib.sha256(data).digest(),
             "size": len(data), "crs": crs, "category": category,
             "options": json.dumps(options, default=str)}).scalar_one()
    return int(run_id)


class _FileStore:
    """Store the file as received, in parts, on a connection and a thread of its own.

    The upload (a 1M-row CSV is ~46 MB) overlaps the parsing; :meth:`join` waits for its
    commit, and the import joins it before it ends, successfully or not: a failed
    import still leaves its file. Binary parameters: no hex round trip for the bytes.
    """

    def __init__(self, engine: Engine, run_id: int, data: bytes) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(engine, run_id, data),
                                       daemon=True)
        self.thread.start()

    def _run(self, engine: Engine, run_id: int, data: bytes) -> None:
        try:
            raw = engine.raw_connection()
            try:
                conn = raw.driver_connection
                with conn.cursor() as cur:
                    for part, start in enumerate(range(0, max(len(data), 1), PART_SIZE)):
                        cur.execute("INSERT INTO import_file_part (run_id, part, data) "
                                    "VALUES (%s, %s, %s)",
                                    (run_id, part, data[start:start + PART_SIZE]), binary=True)
                raw.commit()
            finally:
                raw.close()
        except BaseException as exc:  # re-raised by join()
            self.error = exc

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _fail_run(engine: Engine, run_id: int, error: BaseException) -> None:
    """Mark the run failed with its error, in a transaction of its own."""
    message = f"{type(error).__name__}: {error}"[:2000] or type(error).__name__
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text(
                "UPDATE import_run SET status = 'failed', finished_at = now(), reason = :e "
                "WHERE id = :r AND status = 'running'"), {"e": message, "r": run_id})
    except Exception:  # noqa: S110 - the original error matters more than this one
        pass


_Previous = dict[str, tuple[bytes, str, str | None]]


def _previous(session: Session, source: str, run_id: int) -> _Previous:
    """The latest (hash, outcome, first error code) of every ref this source imported."""
    rows = session.execute(text("""
        SELECT DISTINCT ON (r.ref) r.ref, r.row_hash, r.outcome::text, r.errors->0->>'code'
        FROM import_row r JOIN import_run u ON u.id = r.run_id
        WHERE u.source = :s AND u.id <> :run AND u.status <> 'failed'
          AND r.outcome <> 'unchanged'
        ORDER BY r.ref, r.run_id DESC, r.row_number"""), {"s": source, "run": run_id})
    return {ref: (bytes(h), outcome, code) for ref, h, outcome, code in rows}


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
    previous_refs: Any = None  # the refs of ``previous`` as a pyarrow array (lazily)


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
    where = {id(item): (int(placed[AreaKind.arrondissement][k]),
                        int(placed[AreaKind.quartier][k])) for k, item in enumerate(valid)}
    rows: list[tuple[Any, ...]] = []
    for item in items:
        summary.read += 1
        number, raw = item.row.number, item.row.raw
        prev = ctx.previous.get(item.ref)
        changed = False
        if prev is not None:
            if hashlib.sha256(raw).digest() == prev[0]:
                summary.already_imported += 1
                if prev[1] == "invalid":
                    summary.refused += 1
                    summary.refused_by_reason[prev[2] or "invalid"] += 1
                else:
                    summary.accepted += 1
                rows.append((run, number, item.ref, raw, "unchanged", False) + (None,) * 10)
                continue
            changed = True
            summary.changed += 1
        res = item.result
        if isinstance(res, Record):
            arr, qu = where[id(item)]
            rows.append((
                run, number, item.ref, raw, "valid", changed, None, res.category,
                res.title, res.description, res.starts_at, res.ends_at,
                json.dumps(dict(res.attributes), ensure_ascii=False), _ewkb_one(res.lon, res.lat),
                None if arr < 0 else arr, None if qu < 0 else qu))
            summary.accepted += 1
        else:
            assert res is not None
            errs = _errors_json(res)
            rows.append((run, number, item.ref, raw, "invalid", changed,
                         json.dumps(errs, ensure_ascii=False)) + (None,) * 9)
            summary.refused += 1
            summary.refused_by_reason[res[0].code] += 1
            if ctx.refused_out is not None:
                ctx.refused_out.write(json.dumps({
                    "row": number, "ref": item.ref, "errors": errs,
                    "raw": raw.decode("utf-8", "replace")}, ensure_ascii=False) + "\n")
    return _copy_text(rows)


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


def _escape(arr: Any) -> Any:
    """COPY text escapes of a string array; most columns need none (checked by memchr)."""
    import pyarrow.compute as pc

    data = arr.buffers()[2] if len(arr) else None
    if data is None:
        return arr
    raw = data.to_pybytes()
    if not any(c in raw for c in (b"\\", b"\t", b"\n", b"\r")):
        return arr
    for old, new in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        arr = pc.replace_substring(arr, old, new)
    return arr


def _hex_binary(arr: Any) -> Any:
    """Each value of a binary array as COPY text's bytea (backslash-x and hex), vectorised."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arr.cast(pa.large_binary())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    first, last = int(offsets[0]), int(offsets[-1])
    hexed = data.to_pybytes()[first:last].hex().encode() if data is not None else b""
    hex_arr = pa.StringArray.from_buffers(
        len(arr), pa.py_buffer(((offsets - first) * 2).astype(np.int32)), pa.py_buffer(hexed))
    return pc.binary_join_element_wise(pa.scalar("\\\\x"), hex_arr, "")


def _copy_columns(columns: list[Any]) -> bytes:
    """COPY text of rows given as columns (arrays or scalars) already in COPY format."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [c if isinstance(c, pa.Scalar) else c.cast(pa.string()) for c in columns]
    joined = pc.binary_join_element_wise(
        pc.binary_join_element_wise(*columns, "\t"), pa.scalar("\n"), "")
    offs = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    return joined.buffers()[2].to_pybytes()[int(offs[0]):int(offs[len(joined)])]


def _fast_batch(cols: CsvColumns, start: int, stop: int, plan: _Plan, ctx: _Context,
                prefer_xy: bool, mapper: Mapper) -> list[bytes | str]:
    """One batch of a simple CSV as COPY chunks.

    Columns for the rows that are certainly simple and valid, the scalar path for the
    others (their refusals and counts are exactly the scalar path's).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = stop - start
    cells = cols.cells.slice(start, n)
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
            if ctx.previous_refs is None:
                ctx.previous_refs = pa.array(list(ctx.previous), pa.string())
            kp = np.flatnonzero(np.asarray(
                pc.is_in(refs_sel, value_set=ctx.previous_refs).to_numpy(zero_copy_only=False),
                dtype=bool))
            if len(kp):
                raws = pc.take(lines, pa.array(gidx[sel[kp]])).to_pylist()
                sha = hashlib.sha256
                for j, r, b in zip(kp.tolist(), refs_sel.take(pa.array(kp)).to_pylist(), raws,
                                   strict=True):
                    if sha(b).digest() == ctx.previous[r][0]:
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
                            area=ctx.area, now=ctx.now, config=ctx.config)
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
                                    config=ctx.config)[0]
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
        columns = [pa.array(np.full(len(unch_pos), ctx.run_id)),
                   pa.array(numbers[unch_pos]), _escape(unch_refs),
                   _hex_binary(pc.take(lines, pa.array(unch_pos))), pa.scalar("unchanged"),
                   pa.scalar("f")] + [pa.scalar("\\N")] * 10
        chunks.append(_copy_columns(columns))
    m = len(fast_pos)
    if m:
        ctx.summary.read += m
        ctx.summary.accepted += m
        ctx.summary.changed += int(chg_fast.sum())
        placed = ctx.areas.lookup_ids(lon, lat)

        def ids(values: np.ndarray) -> Any:
            s = pa.array(values).cast(pa.string())
            return pc.if_else(pa.array(values < 0), pa.scalar("\\N"), s)

        geom = pa.StringArray.from_buffers(
            m, pa.py_buffer(np.arange(0, 50 * m + 1, 50, dtype=np.int32)),
            pa.py_buffer(_ewkb_hex(lon, lat).tobytes()))
        raw_fast = pc.take(lines, pa.array(fast_pos))
        columns = [
            pa.array(np.full(m, ctx.run_id)).cast(pa.string()),
            pa.array(numbers[fast_pos]).cast(pa.string()),
            _escape(fast_refs),
            _hex_binary(raw_fast),
            pa.scalar("valid"), pa.array(np.where(chg_fast, "t", "f")), pa.scalar("\\N"),
            _escape(pc.take(cat, pa.array(_gidx_of(fast_pos, gidx)))),
            _escape(titles),
            _escape(descs),
            pa.scalar("\\N"), pa.scalar("\\N"), pa.scalar("{}"), geom,
            ids(placed[AreaKind.arrondissement]), ids(placed[AreaKind.quartier]),
        ]
        chunks.append(_copy_columns(columns))
    return chunks


def _gidx_of(positions: np.ndarray, gidx: np.ndarray) -> np.ndarray:
    """Indices into the good-rows arrays of batch positions (both sorted)."""
    return np.searchsorted(gidx, positions)


def run_import(path: Path, *, session: Session, source: str, crs: str | None = None,
               category: str | None = None, publish: bool = False,
               attribution: str | None = None, title_template: str | None = None,
               mapper: Mapper | None = None, refused_path: Path | None = None,
               buffer_m: float = 500.0, now: datetime | None = None,
               config: ValidationConfig | None = None, batch_size: int = 25_000,
               progress: Callable[[int], None] | None = None, fast: bool = True,
               file_name: str | None = None) -> ImportSummary:
    """Import one file; the caller's session holds the rows' transaction (it commits).

    The run and the file itself are committed first, apart: if anything fails later,
    the run is marked ``failed`` with the error and the file stays.

    Parameters
    ----------
    source
        Who the rows come from (``ville-de-paris``); with each row's stable reference it
        identifies a row across runs.
    crs
        The file's CRS when it does not say (``EPSG:2154``); default: what the file
        declares, else EPSG:4326.
    category
        The category of every row (else a ``category`` column).
    publish
        Publish valid rows at once (trusted sources), audited as ``import``; else the
        run waits (``pending``) for a moderator.
    refused_path
        Where to write refused rows (JSON lines: row number, reference, errors, raw).
    fast
        Let simple CSV files take the column path (``False``: every row takes the
        scalar path; both give the same rows).

    Raises
    ------
    BadSourceFile, CrsError
        The file cannot be read at all, or the CRS is unknown (before any row is written).
    """
    t0 = time.perf_counter()
    if not source.strip():
        raise ValueError("source must not be blank")
    now = now or datetime.now(UTC)
    config = config or ValidationConfig()
    categories = specs_from_db(session)
    if category is not None and category not in categories:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(categories)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadSourceFile(f"{path}: {exc.strerror}") from exc
    engine = _engine_of(session)
    options = {"crs": crs, "category": category, "publish": publish,
               "attribution": attribution, "title_template": title_template,
               "buffer_m": buffer_m, "mapper": getattr(mapper, "__name__", None)}
    run_id = _create_run(engine, source=source, file_name=file_name or path.name, data=data,
                         crs=crs, category=category, options=options)
    stored = _FileStore(engine, run_id, data)
    try:
        summary, content_type, file_crs = _import_rows(
            path, data, session=session, run_id=run_id, source=source, crs=crs,
            category=category, publish=publish, attribution=attribution,
            title_template=title_template, mapper=mapper, refused_path=refused_path,
            buffer_m=buffer_m, now=now, config=config, batch_size=batch_size,
            progress=progress, fast=fast, categories=categories)
        stored.join()
    except BaseException as exc:
        try:
            stored.join()
        finally:
            _fail_run(engine, run_id, exc)
        raise
    summary.seconds = time.perf_counter() - t0
    session.execute(text(
        "UPDATE import_run SET status = CAST(:st AS import_run_status), finished_at = now(), "
        "content_type = :ct, crs = :crs, summary = CAST(:summary AS jsonb), "
        "decided_at = CASE WHEN :st = 'published' THEN now() END WHERE id = :r"),
        {"st": summary.status, "ct": content_type, "crs": file_crs,
         "summary": json.dumps(summary.as_dict()), "r": run_id})
    return summary


def _import_rows(path: Path, data: bytes, *, session: Session, run_id: int, source: str,
                 crs: str | None, category: str | None, publish: bool,
                 attribution: str | None, title_template: str | None,
                 mapper: Mapper | None, refused_path: Path | None, buffer_m: float,
                 now: datetime, config: ValidationConfig, batch_size: int,
                 progress: Callable[[int], None] | None, fast: bool,
                 categories: Mapping[str, CategorySpec]) -> tuple[ImportSummary, str, str]:
    prefer_xy = bool(crs) and crs.upper() not in ("EPSG:4326", "OGC:CRS84")  # type: ignore[union-attr]
    opened = open_source(path, prefer_xy=prefer_xy, data=data)
    file_crs = crs or opened.crs or "EPSG:4326"
    to_lonlat_many(np.array([0.0]), np.array([0.0]), file_crs)  # unknown CRS: fail early
    outline = city_outline(session)
    area = ServiceArea(outline, buffer_m=buffer_m) if outline is not None else None
    generic = mapper is None and title_template is None
    mapper = mapper or generic_mapper(categories, category=category,
                                      title_template=title_template)
    summary = ImportSummary(file=str(path), source=source, run_id=run_id)
    refused_out: IO[str] | None = None
    if refused_path is not None:
        refused_path.parent.mkdir(parents=True, exist_ok=True)
        refused_out = refused_path.open("w", encoding="utf-8")
        summary.refused_file = str(refused_path)
    ctx = _Context(run_id=run_id, source=source, crs=file_crs, categories=categories,
                   area=area, areas=AreaIndex(session), now=now, config=config,
                   previous=_previous(session, source, run_id), summary=summary,
                   refused_out=refused_out)
    cols = csv_columns(opened.data) if fast and generic and opened.data is not None else None
    writer = _Writer(session)
    try:
        if cols is not None:
            plan = _plan(cols, categories, category=category, prefer_xy=prefer_xy)
            for start in range(0, len(cols.lines), batch_size):
                stop = min(start + batch_size, len(cols.lines))
                chunks = _fast_batch(cols, start, stop, plan, ctx, prefer_xy, mapper)
                writer.start(chunks)
                if progress is not None:
                    progress(stop - start)
        else:
            for batch in _batches(opened.rows, batch_size):
                items = _validate_batch(batch, mapper=mapper, crs=file_crs,
                                        categories=categories, area=area, now=now,
                                        config=config)
                for item in items:
                    _dedupe(item, ctx)
                writer.start([_encode_items(items, ctx)])
                if progress is not None:
                    progress(len(items))
        writer.join()
        if publish:
            publish_import_rows(session, run_id=run_id, source=source,
                                attribution=attribution)
            summary.published = session.execute(text(
                "SELECT count(*) FROM feature WHERE source = :s AND status = 'published'"),
                {"s": source}).scalar_one()
            summary.status = "published"
        else:
            summary.pending = session.execute(text(
                "SELECT count(*) FROM import_row WHERE run_id = :r AND outcome = 'valid'"),
                {"r": run_id}).scalar_one()
            summary.status = "pending"
    finally:
        if writer.thread is not None:
            writer.thread.join()
        if refused_out is not None:
            refused_out.close()
    return summary, opened.content_type, file_crs
