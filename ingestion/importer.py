"""Bulk imports: every row of a file stored as a submission, validated, none dropped.

``run_import(path, session=..., source=...)`` is the guts of ``carte import``: read
rows (:mod:`ingestion.readers`), map them to the submission contract, reproject
(pyproj, refusing points outside the CRS's area of use), validate with the same pure
rules as the API, then write the whole batch with one ``COPY`` (raw row bytes and
outcome in the same row). With ``publish=True`` (a trusted partner, open data) valid
rows are published at once through :func:`geo.publish.publish_feature`, audited as
``import``. ``source`` + the row's stable reference (its id column, or a hash of the row)
make a second run of the same file add nothing.

Invariant, checked by tests: ``read == accepted + refused`` for every file.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
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
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from geo.areas import city_outline
from geo.models import Area, AreaKind, ModerationAction, Submission, SubmissionStatus
from geo.publish import FeatureDraft, publish_feature

from .categories import CategorySpec, FieldSpec, specs_from_db
from .errors import CrsError
from .readers import SourceRow, open_source
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
COPY_COLUMNS = ("source", "content_type", "raw", "idempotency_key", "status", "errors",
                "category", "title", "description", "starts_at", "ends_at", "email",
                "attributes", "geom", "arrondissement_id", "quartier_id")


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

    def as_dict(self) -> dict[str, Any]:
        """The summary line ``carte import`` prints (JSON)."""
        return {"file": self.file, "source": self.source, "read": self.read,
                "received": self.read, "accepted": self.accepted, "refused": self.refused,
                "invalid": self.refused, "pending": self.pending, "published": self.published,
                "already_imported": self.already_imported,
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
    """Arrondissement and quartier of many points at once, in memory (shapely STRtree).

    The same answer as :func:`geo.areas.locate` for points inside an area; points in
    the few-m² slivers between boundaries go to the nearest area within its tolerance.
    """

    def __init__(self, session: Session) -> None:
        self.trees: dict[AreaKind, tuple[shapely.STRtree, np.ndarray]] = {}
        for kind in (AreaKind.arrondissement, AreaKind.quartier):
            rows = session.execute(select(Area.id, Area.geom).where(Area.kind == kind)
                                   .order_by(Area.code)).all()
            geoms = [to_shape(g) for _, g in rows]
            self.trees[kind] = (shapely.STRtree(geoms), np.array([i for i, _ in rows]))

    def lookup(self, lons: np.ndarray, lats: np.ndarray) -> dict[AreaKind, list[int | None]]:
        """Area ids by kind, ``None`` where a point is in none."""
        points = shapely.points(lons, lats)
        out: dict[AreaKind, list[int | None]] = {}
        for kind, (tree, ids) in self.trees.items():
            found: list[int | None] = [None] * len(points)
            if len(ids):
                pi, gi = tree.query(points, predicate="intersects")
                for p, g in zip(pi.tolist(), gi.tolist(), strict=True):
                    if found[p] is None:
                        found[p] = int(ids[g])
                missing = [i for i, f in enumerate(found) if f is None]
                if missing:
                    mp, mg = tree.query_nearest(points[missing], max_distance=1e-4)
                    for p, g in zip(mp.tolist(), mg.tolist(), strict=True):
                        found[missing[p]] = int(ids[g])
            out[kind] = found
        return out


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


def _validate_batch(batch: list[SourceRow], *, mapper: Mapper, crs: str,
                    categories: Mapping[str, CategorySpec], area: ServiceArea | None,
                    now: datetime, config: ValidationConfig) -> list[_Row]:
    items: list[_Row] = []
    for row in batch:
        try:
            data, ref = mapper(row)
        except RefuseRow as refusal:
            items.append(_Row(row, refusal.ref, {},
                              [FieldError("", refusal.code, refusal.message)]))
            continue
        except Exception as exc:  # a mapper bug must not lose the row
            data, ref = {}, _stable_ref({}, row.raw)
            items.append(_Row(row, ref, data, [FieldError("", "mapping", str(exc)[:200])]))
            continue
        items.append(_Row(row, ref, data))
    xs = np.array([math.nan if r.row.x is None else r.row.x for r in items], dtype=float)
    ys = np.array([math.nan if r.row.y is None else r.row.y for r in items], dtype=float)
    lons, lats, ok = to_lonlat_many(xs, ys, crs)
    # The service area test, vectorised: rows inside skip the scalar test; the others
    # go through it to get their exact message (outside, swapped...).
    if area is not None:
        with np.errstate(invalid="ignore"):
            inside = ok & shapely.intersects_xy(area.geometry, np.nan_to_num(lons),
                                                np.nan_to_num(lats))
    else:
        inside = ok
    for i, item in enumerate(items):
        if item.result is not None:
            continue
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
    return items


def _existing(session: Session, source: str, refs: list[str]) -> dict[str, tuple[str, Any]]:
    rows = session.execute(text(
        "SELECT idempotency_key, status::text, errors FROM submission "
        "WHERE source = :s AND idempotency_key = ANY(:k)"), {"s": source, "k": refs})
    return {k: (st, errs) for k, st, errs in rows}


def _ewkt(lon: float, lat: float) -> str:
    return f"SRID=4326;POINT({lon!r} {lat!r})"


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
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    return str(value).translate(_COPY_ESCAPES)


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    return "".join("\t".join(map(_copy_field, r)) + "\n" for r in rows)


class _Writer:
    """COPY batches on the session's connection from a second thread.

    PostgreSQL parses, checks and indexes batch N (on the other core) while this
    process validates batch N+1; the thread mostly waits on the socket, GIL released.
    ``join`` before anything else uses the connection.
    """

    def __init__(self, session: Session) -> None:
        self.conn = session.connection().connection.driver_connection
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self, data: str) -> None:
        try:
            with self.conn.cursor() as cur, cur.copy(
                    f"COPY submission ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                for start in range(0, len(data), 1 << 20):
                    copy.write(data[start:start + (1 << 20)])
        except BaseException as exc:  # re-raised in the caller's thread by join()
            self.error = exc

    def start(self, rows: list[tuple[Any, ...]]) -> None:
        self.join()
        if rows:
            self.thread = threading.Thread(target=self._run, args=(_copy_text(rows),),
                                           daemon=True)
            self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _publish_pending(session: Session, source: str, refs: list[str], *,
                     attribution: str | None) -> int:
    subs = session.scalars(select(Submission).where(
        Submission.source == source, Submission.idempotency_key.in_(refs),
        Submission.status == SubmissionStatus.pending)).all()
    for sub in subs:
        pt = to_shape(sub.geom)
        feature = publish_feature(
            session, FeatureDraft(category=sub.category or "", title=sub.title or "",
                                  lon=float(pt.x), lat=float(pt.y),
                                  description=sub.description or "",
                                  starts_at=sub.starts_at, ends_at=sub.ends_at,
                                  attributes=dict(sub.attributes or {})),
            source=source, source_ref=sub.idempotency_key, attribution=attribution,
            submission_id=sub.id, action=ModerationAction.import_,
            reason=f"import from {source}")
        sub.status = SubmissionStatus.approved
        sub.feature_id = feature.id
        sub.decided_at = feature.published_at
    session.flush()
    return len(subs)


def run_import(path: Path, *, session: Session, source: str, crs: str | None = None,
               category: str | None = None, publish: bool = False,
               attribution: str | None = None, title_template: str | None = None,
               mapper: Mapper | None = None, refused_path: Path | None = None,
               buffer_m: float = 500.0, now: datetime | None = None,
               config: ValidationConfig | None = None, batch_size: int = 20_000,
               progress: Callable[[int], None] | None = None) -> ImportSummary:
    """Import one file; the caller's session holds the transaction (the caller commits).

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
        Publish valid rows at once (trusted sources), audited as ``import``.
    refused_path
        Where to write refused rows (JSON lines: row number, reference, errors, raw).

    Raises
    ------
    BadSourceFile, CrsError
        The file cannot be read at all, or the CRS is unknown (before any row is written).
    """
    import time

    t0 = time.perf_counter()
    if not source.strip():
        raise ValueError("source must not be blank")
    now = now or datetime.now(UTC)
    config = config or ValidationConfig()
    categories = specs_from_db(session)
    if category is not None and category not in categories:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(categories)}")
    opened = open_source(path, prefer_xy=bool(crs) and crs.upper() not in (
        "EPSG:4326", "OGC:CRS84"))
    file_crs = crs or opened.crs or "EPSG:4326"
    to_lonlat_many(np.array([0.0]), np.array([0.0]), file_crs)  # unknown CRS: fail early
    outline = city_outline(session)
    area = ServiceArea(outline, buffer_m=buffer_m) if outline is not None else None
    areas = AreaIndex(session)
    mapper = mapper or generic_mapper(categories, category=category,
                                      title_template=title_template)
    summary = ImportSummary(file=str(path), source=source)
    refused_out: IO[str] | None = None
    if refused_path is not None:
        refused_path.parent.mkdir(parents=True, exist_ok=True)
        refused_out = refused_path.open("w", encoding="utf-8")
        summary.refused_file = str(refused_path)
    seen: set[str] = set()
    writer = _Writer(session)
    try:
        for batch in _batches(opened.rows, batch_size):
            items = _validate_batch(batch, mapper=mapper, crs=file_crs, categories=categories,
                                    area=area, now=now, config=config)
            for item in items:  # the same reference twice in one file: keep both rows
                if item.ref in seen:
                    item.ref = f"{item.ref}#row{item.row.number}"
                    if isinstance(item.result, Record):
                        item.result = [FieldError("/id", "repeated_ref",
                                                  "another row of this file has the same id")]
                seen.add(item.ref)
            writer.join()  # the previous batch is written: the connection is free
            existing = _existing(session, source, [i.ref for i in items])
            fresh = [i for i in items if i.ref not in existing]
            valid = [i for i in fresh if isinstance(i.result, Record)]
            placed = areas.lookup(np.array([i.result.lon for i in valid]),  # type: ignore[union-attr]
                                  np.array([i.result.lat for i in valid])) if valid else {
                AreaKind.arrondissement: [], AreaKind.quartier: []}
            where = {id(item): (placed[AreaKind.arrondissement][k],
                                placed[AreaKind.quartier][k]) for k, item in enumerate(valid)}
            copy_rows: list[tuple[Any, ...]] = []
            for item in items:
                summary.read += 1
                if item.ref in existing:
                    summary.already_imported += 1
                    status, errs = existing[item.ref]
                    if status == "invalid":
                        summary.refused += 1
                        code = (errs or [{}])[0].get("code", "invalid")
                        summary.refused_by_reason[code] += 1
                    else:
                        summary.accepted += 1
                    continue
                res = item.result
                if isinstance(res, Record):
                    arr, qu = where[id(item)]
                    copy_rows.append((
                        source, opened.content_type, item.row.raw, item.ref, "pending", None,
                        res.category, res.title, res.description, res.starts_at, res.ends_at,
                        res.email, json.dumps(dict(res.attributes), ensure_ascii=False)
                        if res.attributes else "{}", _ewkt(res.lon, res.lat), arr, qu))
                    summary.accepted += 1
                else:
                    assert res is not None
                    errs = _errors_json(res)
                    copy_rows.append((
                        source, opened.content_type, item.row.raw, item.ref, "invalid",
                        json.dumps(errs, ensure_ascii=False), None, None, None, None, None,
                        None, "{}", None, None, None))
                    summary.refused += 1
                    summary.refused_by_reason[res[0].code] += 1
                    if refused_out is not None:
                        refused_out.write(json.dumps({
                            "row": item.row.number, "ref": item.ref, "errors": errs,
                            "raw": item.row.raw.decode("utf-8", "replace")},
                            ensure_ascii=False) + "\n")
            writer.start(copy_rows)
            if publish:
                writer.join()
                summary.published += _publish_pending(
                    session, source, [i.ref for i in items], attribution=attribution)
            if progress is not None:
                progress(len(items))
        writer.join()
        if not publish:
            summary.pending = session.execute(text(
                "SELECT count(*) FROM submission WHERE source = :s AND status = 'pending'"),
                {"s": source}).scalar_one()
        summary.published = session.execute(text(
            "SELECT count(*) FROM feature WHERE source = :s AND status = 'published'"),
            {"s": source}).scalar_one() if publish else 0
    finally:
        if writer.thread is not None:
            writer.thread.join()
        if refused_out is not None:
            refused_out.close()
    summary.seconds = time.perf_counter() - t0
    return summary
