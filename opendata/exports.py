"""Open-data files: every published feature as GeoJSON, CSV, GeoPackage and FlatGeobuf.

One file per format for all features (``features.<ext>``) and one per category
(``features-<slug>.<ext>``), written into ``$CARTE_VAR_DIR/data/`` by ``carte export``
and kept up to date by ``carte worker``.

* **Incremental** (issue 17: fresh within 60 s of the last of 100 approvals at 1M
  features, where a full rewrite took ~3 min): PostgreSQL fingerprints every bucket of
  2,000 ids per category in one grouped scan (:mod:`opendata.snapshot`); a file whose
  fingerprints did not change is kept (its manifest entry carried over); GeoJSON and CSV
  are concatenations of cached per-bucket parts, only changed buckets rendered again
  (:mod:`opendata.lines`); FlatGeobuf is rewritten from cached Arrow pieces
  (:mod:`opendata.columns`); GeoPackage is patched in a copy (:mod:`opendata.geopackage`).
  The cache (:mod:`opendata.parts`) is under ``.parts/`` of the export directory.
* Every file is written to a temporary name in the same directory and renamed into
  place (``os.replace`` is atomic), so a download never sees half a file.
* All formats come from one REPEATABLE READ snapshot: the counts agree across files.
* Only public fields leave, the same as the API's: every column of every format is
  derived from :func:`geo.published.public_fields` (the city's area levels included).
  CSV cells that start with ``=``, ``+``, ``-``, ``@``, tab or carriage return get a
  leading apostrophe so a spreadsheet shows them instead of running them.

``index.json`` (the manifest) is written last and describes every file: title,
licence, count, CRS, size, update time, when it was built and how the last refresh
treated it (``refresh``: ``kept``, ``assembled``, ``patched``, ``written``); at its top,
whether the refresh was ``incremental`` and its ``refresh`` timings. The ``/data/``
index reads it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo.city import AreaLevel
from geo.published import PublicField, public_fields

from .columns import arrow_signature, gdal_table, load_table
from .geopackage import patch_geopackage, write_geopackage
from .lines import line_formats, render_buckets, write_file
from .parts import CACHE_DIR, PartStore, States, cache_root, clear_scratch, drop_other_schemas
from .snapshot import BUCKET, read_snapshot, schema_key

__all__ = [
    "ATTRIBUTION",
    "FORMATS",
    "LICENCE_NAME",
    "LICENCE_URL",
    "MANIFEST",
    "ExportedFile",
    "csv_columns",
    "neutralise_cell",
    "read_manifest",
    "run_export",
]

LICENCE_NAME = "ODbL-1.0"
LICENCE_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
ATTRIBUTION = ("© les contributeurs de Carte citoyenne, sous licence ODbL 1.0 ; les objets "
               "importés de partenaires gardent l'attribution de leur source (champ "
               "« attribution »).")
MANIFEST = "index.json"
FORMATS = {
    "geojson": ("GeoJSON (RFC 7946)", "application/geo+json"),
    "csv": ("CSV (UTF-8, lon/lat and WKT)", "text/csv"),
    "gpkg": ("GeoPackage", "application/geopackage+sqlite3"),
    "fgb": ("FlatGeobuf", "application/flatgeobuf"),
}
CRS = "EPSG:4326 (WGS 84, longitude/latitude)"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: str) -> str:
    """A CSV cell a spreadsheet will show rather than run (OWASP CSV injection).

    >>> neutralise_cell("=1+1"), neutralise_cell("jardin")
    ("'=1+1", 'jardin')
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@dataclass(frozen=True)
class ExportedFile:
    """One file of the manifest."""

    name: str
    format: str
    media_type: str
    title: str
    description: str
    category: str | None
    count: int
    crs: str
    size: int
    updated_at: str
    licence: str = LICENCE_NAME
    licence_url: str = LICENCE_URL
    attribution: str = ATTRIBUTION
    built_at: str | None = None
    refresh: str = "written"


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path next to ``final``, renamed onto it only if the block succeeds.

    The temporary file sits in a hidden scratch directory of the same file system (so
    the rename is atomic) and keeps the final name, since GDAL checks extensions.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    path = scratch / final.name
    try:
        yield path
        os.chmod(path, 0o644)
        os.replace(path, final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --- SQL -------------------------------------------------------------------------------
#
# PostgreSQL writes the bytes (:mod:`opendata.lines`, :mod:`opendata.columns`): one text
# per bucket of 2,000 features, never a Python object per row.


def _iso(col: str) -> str:
    return f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


def _neutral(expr: str) -> str:
    """SQL neutralising formula-looking cells (the same rule as :func:`neutralise_cell`)."""
    return (f"CASE WHEN left({expr}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') "
            f"THEN '''' || {expr} ELSE {expr} END")


def _quoted(expr: str) -> str:
    """A CSV cell: NULL as nothing, text always quoted (RFC 4180)."""
    return f"""coalesce('"' || replace({expr}, '"', '""') || '"', '')"""


def _plain(expr: str) -> str:
    return f"coalesce(({expr})::text, '')"


def _csv_line(cells: list[str]) -> str:
    return " || ',' || ".join(cells)


def _csv_cell(f: PublicField) -> str:
    if f.kind == "integer":
        return _plain(f.sql)
    if f.kind == "datetime":
        return _plain(_iso(f.sql))
    return _quoted(_neutral(f"({f.sql})::text" if f.kind == "json" else f.sql))


def csv_columns(levels: Sequence[AreaLevel]) -> tuple[tuple[str, ...], str]:
    """The CSV header and the SQL of one line, from the public fields.

    The point is written as ``lon``, ``lat`` and ``wkt`` after ``ends_at``, and
    ``attributes`` (JSON) comes last, as the first CSV export did.
    """
    names: list[str] = []
    cells: list[str] = []
    fields = public_fields(levels)
    for f in fields:
        if f.kind == "json":
            continue
        names.append(f.name)
        cells.append(_csv_cell(f))
        if f.name == "ends_at":
            names += ["lon", "lat", "wkt"]
            cells += [_plain("round(ST_X(p.geom)::numeric, 7)"),
                      _plain("round(ST_Y(p.geom)::numeric, 7)"),
                      _quoted("ST_AsText(p.geom, 7)")]
    for f in fields:
        if f.kind == "json":
            names.append(f.name)
            cells.append(_csv_cell(f))
    return tuple(names), _csv_line(cells)


# --- the run ---------------------------------------------------------------------------


def _state(conn: Connection, published: int) -> dict[str, Any]:
    """What ``/data/`` compares with to count changes behind (``last_change``).

    ``published`` comes from the snapshot's cells; the two maxima are read from the
    ``updated_at`` index and the primary key (no second scan of the table).
    """
    last, max_id = conn.execute(text(
        "SELECT (SELECT max(updated_at) FROM feature), (SELECT max(id) FROM feature)")).one()
    return {"published": published, "last_change": last.isoformat() if last else None,
            "max_id": max_id}


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest of the last export, or ``None`` if there was none."""
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class _Target:
    """One file per format: every feature (``category`` None) or one category's."""

    category: str | None
    stem: str
    title: str
    count: int
    fps: dict[int, str]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _Run:
    """One export: the snapshot, the cache, and what was done to each file."""

    def __init__(self, conn: Connection, directory: Path, levels: Sequence[AreaLevel],
                 targets: list[_Target], root: Path, previous: dict[str, Any] | None,
                 progress: Callable[[dict[str, Any]], None] | None) -> None:
        self.conn, self.directory, self.levels = conn, directory, levels
        self.targets, self.root, self.progress = targets, root, progress
        self.states = States(root)
        self.lines = line_formats(levels)
        self.previous = {f["name"]: f for f in (previous or {}).get("files", [])}
        self.files: list[ExportedFile] = []
        self.seconds: dict[str, float] = {}
        self.rendered: dict[str, int] = {}
        self.how: dict[str, int] = {"kept": 0, "assembled": 0, "patched": 0, "written": 0}
        self._table: Any = None

    # -- helpers
    def stale(self, fmt: str, target: _Target) -> bool:
        """Whether the file of ``target`` must be (re)written: it changed or is not ours."""
        final = self.directory / f"{target.stem}.{fmt}"
        return self.states.fingerprints(final) != target.fps

    def store(self, fmt: str, target: _Target | None) -> PartStore:
        return PartStore(self.root / fmt / target.stem if target else self.root / fmt)

    def done(self, fmt: str, target: _Target, how: str) -> None:
        """Record the file of ``target`` in the manifest (and the cache state if written)."""
        label, media = FORMATS[fmt]
        final = self.directory / f"{target.stem}.{fmt}"
        stat = final.stat()
        built = self.previous.get(final.name, {}).get("built_at") if how == "kept" else None
        if how != "kept":
            self.states.record(final, target.fps, target.count)
        self.how[how] += 1
        item = ExportedFile(
            name=final.name, format=fmt, media_type=media, title=target.title,
            description=f"{label}: " + ("every published feature" if target.category is None
                                        else f"published features of {target.category}"),
            category=target.category, count=target.count, crs=CRS, size=stat.st_size,
            updated_at=datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
            built_at=built or datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
            refresh=how)
        self.files.append(item)
        if self.progress and how != "kept":
            self.progress({"wrote": item.name, "count": target.count, "size": item.size,
                           "refresh": how})

    # -- GeoJSON and CSV
    def lines_format(self, fmt: str) -> None:
        line = self.lines[fmt]
        stale = [t for t in self.targets if self.stale(fmt, t)]
        stale_stems = {t.stem for t in stale}
        stores = {t.stem: self.store(fmt, t) for t in self.targets}
        by_category = {t.category: t for t in self.targets}
        need = {b for t in stale for b, fp in t.fps.items()
                if stores[t.stem].get(b, fp) is None}
        rendered = len(need)
        for b, category, data in render_buckets(self.conn, line, self.levels, need):
            target = by_category.get(category)
            if target is not None and b in target.fps \
                    and stores[target.stem].get(b, target.fps[b]) is None:
                stores[target.stem].put(b, target.fps[b], data)
        for t in self.targets:
            if t.stem not in stale_stems:
                self.done(fmt, t, "kept")
                continue
            final = self.directory / f"{t.stem}.{fmt}"
            with atomic_path(final) as tmp:
                rendered += write_file(self.conn, line, self.levels, tmp, t.stem, t.category,
                                       t.fps, t.count, stores[t.stem])
            self.done(fmt, t, "assembled")
        self.rendered[fmt] = rendered
        for t in self.targets:
            stores[t.stem].keep_only(t.fps)

    # -- FlatGeobuf and GeoPackage
    def table(self) -> Any:
        """Every published feature (Arrow), from the cached pieces; loaded once."""
        if self._table is None:
            everything = self.targets[0]
            self._table, n = load_table(self.conn, self.levels, everything.fps,
                                        self.store("arrow", None))
            self.rendered["arrow"] = self.rendered.get("arrow", 0) + n
        return self._table

    def fgb(self) -> None:
        from pyogrio import write_arrow

        for t in self.targets:
            if not self.stale("fgb", t):
                self.done("fgb", t, "kept")
                continue
            final = self.directory / f"{t.stem}.fgb"
            with atomic_path(final) as tmp:
                write_arrow(gdal_table(self.table(), t.category), str(tmp),
                            driver="FlatGeobuf", layer=t.stem, geometry_name="geometry",
                            geometry_type="Point", crs="EPSG:4326", encoding="UTF-8")
            self.done("fgb", t, "written")

    def gpkg(self) -> None:
        everything = self.targets[0]
        arrow = self.store("arrow", None)
        for t in self.targets:
            final = self.directory / f"{t.stem}.gpkg"
            before = self.states.fingerprints(final)
            if before == t.fps:
                self.done("gpkg", t, "kept")
                continue
            with atomic_path(final) as tmp:
                if before is None or not t.fps:
                    write_geopackage(gdal_table(self.table(), t.category), tmp, t.stem)
                    how = "written"
                else:
                    changed = {b for b in set(before) | set(t.fps)
                               if before.get(b) != t.fps.get(b)}
                    if self._table is not None:
                        rows = self._table.filter(_in_buckets(self._table, changed))
                    else:
                        rows, n = load_table(self.conn, self.levels, everything.fps, arrow,
                                             buckets=changed)
                        self.rendered["arrow"] = self.rendered.get("arrow", 0) + n
                    if t.category is not None:
                        rows = rows.filter(pc_equal(rows["category"], t.category))
                    patch_geopackage(final, tmp, t.stem, changed, rows, t.count)
                    how = "patched"
            self.done("gpkg", t, how)


def pc_equal(column: Any, value: str) -> Any:
    """Arrow's ``column == value`` mask."""
    import pyarrow.compute as pc

    return pc.equal(column, value)


def _in_buckets(table: Any, buckets: set[int]) -> Any:
    """Arrow mask of the rows whose id falls in one of ``buckets``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pc.divide(table["id"], pa.scalar(BUCKET, pa.int64()))
    return pc.is_in(ids, value_set=pa.array(sorted(buckets), pa.int64()))


def run_export(engine: Engine, directory: Path, *, formats: Iterable[str] = FORMATS,
               if_changed: bool = False, per_category: bool = True,
               levels: Sequence[AreaLevel] | None = None, full: bool = False,
               progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Bring every open-data file and the manifest up to date; returns the manifest.

    Incremental: a file whose features did not change since it was written is kept
    as it is (its manifest entry carried over); GeoJSON and CSV are re-assembled from
    cached parts with only the changed id buckets rendered again, FlatGeobuf rewritten
    from cached Arrow pieces, GeoPackage patched in a copy (module docstrings of
    :mod:`opendata.lines`, :mod:`opendata.columns`, :mod:`opendata.geopackage`).
    Without a cache (first export, ``full``, or a code or settings change: see
    :func:`opendata.snapshot.schema_key`) everything is rendered, which fills it.

    Parameters
    ----------
    levels
        The city's area levels, which name the area columns (default: the configured
        city's, ``CARTE_CITY``).
    formats
        Any of :data:`FORMATS`.
    if_changed
        Do nothing (and return the previous manifest with ``"skipped": true``) when no
        file of these formats is behind the database: cheap enough for a cron job (one
        grouped scan of the published features).
    per_category
        Also write one file per category (default).
    full
        Ignore and rebuild the cache: every file rendered from the database.
    progress
        Called with one dict per file written (``carte export`` prints them).
    """
    if levels is None:
        from geo.city import load_city

        levels = load_city(check_files=False).levels
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown formats: {', '.join(sorted(unknown))}")
    formats = [f for f in FORMATS if f in set(formats)]
    directory.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(directory)
    if full:
        shutil.rmtree(directory / CACHE_DIR, ignore_errors=True)
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        snap = read_snapshot(conn)
        state = _state(conn, snap.count())
        lines = line_formats(levels)
        schema = schema_key(conn, levels, [*(f.signature() for f in lines.values()),
                                           arrow_signature(levels), ATTRIBUTION, LICENCE_NAME,
                                           LICENCE_URL])
        cats = conn.execute(text(
            "SELECT slug, label_fr, label_en FROM category WHERE slug = ANY(:s) "
            "ORDER BY slug"), {"s": sorted(snap.categories())}).all()
        targets = [_Target(None, "features",
                           "Toutes les contributions publiées / All published features",
                           snap.count(), snap.fingerprints(None))]
        if per_category:
            targets += [_Target(slug, f"features-{slug}", f"{fr} / {en}", snap.count(slug),
                                snap.fingerprints(slug)) for slug, fr, en in cats]
        root = cache_root(directory, schema)
        run = _Run(conn, directory, levels, targets, root, previous, progress)
        gone = _gone_files(directory, formats, {t.stem for t in targets}, per_category)
        if if_changed and previous is not None and not gone \
                and set(previous.get("formats", [])) >= set(formats) \
                and not any(run.stale(fmt, t) for fmt in formats for t in targets):
            if previous.get("state") != state:
                # Something changed that no file shows (an unpublished feature edited):
                # the manifest moves its state on, so changes_behind and the worker's
                # pause rule stop counting it (else: a refresh every poll, for nothing).
                previous = {**previous, "state": state, "generated_at": _now()}
                _write_manifest(directory, previous)
            return {**previous, "skipped": True}
        incremental = bool(run.states.data)
        run.seconds["snapshot"] = round(time.perf_counter() - started, 3)
        for fmt in formats:
            t0 = time.perf_counter()
            if fmt in lines:
                run.lines_format(fmt)
            elif fmt == "fgb":
                run.fgb()
            else:
                run.gpkg()
            run.seconds[fmt] = round(time.perf_counter() - t0, 3)
        if {"fgb", "gpkg"} & set(formats):
            run.store("arrow", None).keep_only(targets[0].fps)
        conn.rollback()
    for old in gone:
        old.unlink(missing_ok=True)
        run.states.forget(old.name)
    run.states.save()
    clear_scratch(directory)  # scratch copies of a refresh killed before its rename
    _drop_unused_stores(root, formats, {t.stem for t in targets})
    drop_other_schemas(directory, schema)
    manifest = {
        "generated_at": _now(), "state": state, "formats": formats,
        "incremental": incremental,
        "refresh": {"seconds": {**run.seconds,
                                "total": round(time.perf_counter() - started, 3)},
                    "rendered_buckets": run.rendered, "files": run.how},
        "licence": LICENCE_NAME, "licence_url": LICENCE_URL, "attribution": ATTRIBUTION,
        "files": [asdict(f) for f in run.files],
    }
    _write_manifest(directory, manifest)
    return manifest


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    with atomic_path(directory / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


def _gone_files(directory: Path, formats: Iterable[str], stems: set[str],
                per_category: bool) -> list[Path]:
    """Files of categories that no longer have published features."""
    return [old for fmt in (formats if per_category else ())
            for old in directory.glob(f"features-*.{fmt}") if old.stem not in stems]


def _drop_unused_stores(root: Path, formats: Iterable[str], stems: set[str]) -> None:
    """Part directories of categories that no longer have published features."""
    for fmt in formats:
        base = root / fmt
        if fmt in ("geojson", "csv") and base.exists():
            for child in base.iterdir():
                if child.is_dir() and child.name not in stems:
                    shutil.rmtree(child, ignore_errors=True)
