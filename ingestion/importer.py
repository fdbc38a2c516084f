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

The pieces live in modules named after what they hold: :mod:`ingestion.filestore`
(run creation, file parts, failure marking), :mod:`ingestion.mapping` (mappers,
:class:`RefuseRow`, reprojection), :mod:`ingestion.scalarpath` (row-at-a-time
validation, :class:`ImportSummary`), :mod:`ingestion.columnpath` (the CSV column path),
:mod:`ingestion.areaindex` (:class:`AreaIndex`) and :mod:`ingestion.copyrows` (COPY
encoding and the writer thread). Their public names stay importable from here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.areas import city_outline
from geo.geocode import Geocoder
from geo.publish import publish_import_rows

from .areaindex import AreaIndex
from .categories import CategorySpec, specs_from_db
from .columnpath import _fast_batch, _plan
from .copyrows import _Writer
from .errors import BadSourceFile
from .filestore import _create_run, _engine_of, _fail_run, _FileStore
from .mapping import Mapped, Mapper, RefuseRow, generic_mapper, to_lonlat_many
from .readers import csv_columns, open_source
from .scalarpath import (
    ImportSummary,
    _batches,
    _Context,
    _dedupe,
    _encode_items,
    _previous,
    _validate_batch,
)
from .validation import ServiceArea, ValidationConfig

__all__ = ["AreaIndex", "ImportSummary", "Mapped", "RefuseRow", "generic_mapper", "run_import",
           "to_lonlat_many"]


def run_import(path: Path, *, session: Session, source: str, crs: str | None = None,
               category: str | None = None, publish: bool = False,
               attribution: str | None = None, title_template: str | None = None,
               mapper: Mapper | None = None, refused_path: Path | None = None,
               buffer_m: float = 500.0, now: datetime | None = None,
               config: ValidationConfig | None = None, batch_size: int = 25_000,
               progress: Callable[[int], None] | None = None, fast: bool = True,
               file_name: str | None = None,
               geocoder: Geocoder | None = None,
               forget: Collection[str] = ()) -> ImportSummary:
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
    geocoder
        Places the rows that have an address and no coordinates (the city's address
        file, :class:`geo.geocode.Geocoder`); each such row's match quality is counted
        in the summary (``geocoded``) and kept in its attributes (``address_match``);
        an address not found refuses the row (``address_not_found``, with the reason).
        A row whose bytes are those of the source's last import is not geocoded again
        (it is stored ``unchanged``): ``geocoded`` counts the rows placed this time.
    forget
        References whose bytes from earlier imports are not compared: validated (and
        geocoded) again even if unchanged (a sync re-places rows after a new address
        file).

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
            progress=progress, fast=fast, categories=categories, geocoder=geocoder,
            forget=forget)
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
                 categories: Mapping[str, CategorySpec],
                 geocoder: Geocoder | None = None,
                 forget: Collection[str] = ()) -> tuple[ImportSummary, str, str]:
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
    # The areas and the previous rows (database and GEOS work, GIL mostly released) are
    # read on a thread while pyarrow splits the file here: neither waits for the other.
    loaded: dict[str, Any] = {}

    def load() -> None:
        try:
            loaded["areas"] = AreaIndex(session)
            loaded["previous"] = previous = _previous(session, source, run_id)
            for ref in forget:
                previous.pop(ref, None)
        except BaseException as exc:  # re-raised below, in this thread
            loaded["error"] = exc

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        cols = csv_columns(opened.data) if fast and generic and opened.data is not None \
            else None
    finally:
        loader.join()
    if "error" in loaded:
        raise loaded["error"]
    ctx = _Context(run_id=run_id, source=source, crs=file_crs, categories=categories,
                   area=area, areas=loaded["areas"], now=now, config=config,
                   previous=loaded["previous"], summary=summary,
                   refused_out=refused_out, file_slices=opened.data is data,
                   geocoder=geocoder)
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
                                        config=config, geocoder=geocoder,
                                        previous=ctx.previous)
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
            # Counted while writing: a scan of a million rows here would run alone.
            summary.pending = ctx.valid_written
            summary.status = "pending"
    finally:
        if writer.thread is not None:
            writer.thread.join()
        if refused_out is not None:
            refused_out.close()
    return summary, opened.content_type, file_crs

