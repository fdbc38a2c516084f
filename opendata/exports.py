"""Open-data files: every published feature as GeoJSON, CSV, GeoPackage and FlatGeobuf.

One file per format for all features (``features.<ext>``) and one per category
(``features-<slug>.<ext>``), written into ``$CARTE_VAR_DIR/data/`` by ``carte export``.

* Every file is written to a temporary name in the same directory and renamed into
  place (``os.replace`` is atomic), so a download never sees half a file.
* All formats come from one REPEATABLE READ snapshot: the counts agree across files.
* GeoJSON and CSV are produced by PostgreSQL itself (``COPY ... TO STDOUT``), streamed
  to disk without a Python object per row; GeoPackage and FlatGeobuf are written by
  GDAL (pyogrio) from column arrays.
* Only public fields leave, the same as the API's: every column of every format is
  derived from :func:`geo.published.public_fields` (the city's area levels included).
  CSV cells that start with ``=``, ``+``, ``-``, ``@``, tab or carriage return get a
  leading apostrophe so a spreadsheet shows them instead of running them.

``index.json`` (the manifest) is written last and describes every file: title,
licence, count, CRS, size, update time. The ``/data/`` index reads it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, text

from geo.city import AreaLevel
from geo.published import PublicField, area_joins, feature_json_sql, public_fields

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
# PostgreSQL writes the bytes: each query returns one text of CHUNK features (one
# line each), fetched by keyset paging on the primary key inside the export's snapshot.
# Reading row by row (COPY or a cursor) costs 18-30 µs a row in psycopg here; one text
# per 5,000 rows makes the Python side negligible.

CHUNK = 5000


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


_EPOCH = "(extract(epoch FROM {}) * 1000)::bigint"


def _arrow_columns(levels: Sequence[AreaLevel]) -> tuple[list[str], str, set[str]]:
    """Column names, line SQL and date-time columns of the Arrow table (GDAL formats).

    The public fields in order, then ``lon`` and ``lat`` (made into the geometry).
    """
    fields = public_fields(levels)
    cells = [_plain(_EPOCH.format(f.sql)) if f.kind == "datetime" else
             _plain(f.sql) if f.kind == "integer" else
             _quoted(f"({f.sql})::text" if f.kind == "json" else f.sql) for f in fields]
    return ([f.name for f in fields] + ["lon", "lat"],
            _csv_line([*cells, _plain("ST_X(p.geom)"), _plain("ST_Y(p.geom)")]),
            {f.name for f in fields if f.kind == "datetime"})


def _stream_lines(conn: Connection, line_sql: str, category: str | None, out: IO[bytes],
                  levels: Sequence[AreaLevel], *, separator: str = "\n") -> int:
    """Write one line per published feature (in id order); returns how many."""
    sql = text(f"""
      SELECT max(s.id), count(*), string_agg(s.line, :sep ORDER BY s.id) FROM (
        SELECT p.id, {line_sql} AS line FROM feature p
        {area_joins(levels)}
        WHERE p.status = 'published' AND p.id > :after
          AND (CAST(:category AS text) IS NULL OR p.category = :category)
        ORDER BY p.id LIMIT :chunk) s""")  # noqa: S608 (constant fragments only)
    after, total = 0, 0
    while True:
        last, n, body = conn.execute(sql, {"after": after, "category": category,
                                           "chunk": CHUNK, "sep": separator}).one()
        if not n:
            return total
        out.write(((separator if total else "") + body).encode())
        total += n
        after = last
        if n < CHUNK:
            return total


def _write_geojson(conn: Connection, path: Path, category: str | None, name: str,
                   levels: Sequence[AreaLevel]) -> None:
    header = json.dumps({"type": "FeatureCollection", "name": name, "licence": LICENCE_NAME,
                         "licence_url": LICENCE_URL, "attribution": ATTRIBUTION},
                        ensure_ascii=False)[:-1]
    with open(path, "wb") as out:
        out.write((header + ',"features":[\n').encode())
        _stream_lines(conn, feature_json_sql(levels), category, out, levels,
                      separator=",\n")
        out.write(b"\n]}\n")


def _write_csv(conn: Connection, path: Path, category: str | None,
               levels: Sequence[AreaLevel]) -> None:
    names, line = csv_columns(levels)
    with open(path, "wb") as out:
        out.write((",".join(names) + "\n").encode())
        if _stream_lines(conn, line, category, out, levels):
            out.write(b"\n")


def _columns(conn: Connection, levels: Sequence[AreaLevel]) -> Any:
    """Every published feature as an Arrow table, for GDAL's Arrow writer.

    PostgreSQL writes CSV lines, Arrow's C++ reader parses them and shapely makes the
    WKB points: no Python object per row. pyogrio's per-feature numpy writer is ~3x
    slower than its Arrow one here, mostly on date-times.
    """
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import shapely

    names, line, stamps = _arrow_columns(levels)
    buf = io.BytesIO()
    rows = _stream_lines(conn, line, None, buf, levels)
    buf.write(b"\n")
    buf.seek(0)
    types = {n: pa.int64() if n in stamps or n == "id" else
             pa.float64() if n in ("lon", "lat") else pa.string() for n in names}
    if not rows:
        table = pa.table({n: pa.array([], t) for n, t in types.items()})
    else:
        table = pacsv.read_csv(
            buf, read_options=pacsv.ReadOptions(column_names=names),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True,
                quoted_strings_can_be_null=False))
    points = shapely.points(table["lon"].to_numpy(), table["lat"].to_numpy())
    stamp = pa.timestamp("ms", tz="UTC")
    for name in stamps:
        table = table.set_column(table.schema.get_field_index(name), name,
                                 table[name].cast(stamp))
    table = table.drop_columns(["lon", "lat"])
    return table.append_column("geometry", pa.array(shapely.to_wkb(points), pa.binary()))


_GDAL = {"gpkg": "GPKG", "fgb": "FlatGeobuf"}


def _write_gdal(table: Any, category: str | None, path: Path, fmt: str, layer: str) -> None:
    import pyarrow.compute as pc
    from pyogrio import write_arrow

    if category is not None:
        table = table.filter(pc.equal(table["category"], category))
    write_arrow(table, str(path), driver=_GDAL[fmt], layer=layer, geometry_name="geometry",
                geometry_type="Point", crs="EPSG:4326", encoding="UTF-8")


# --- the run ---------------------------------------------------------------------------

def _state(conn: Connection) -> dict[str, Any]:
    """What changes when anything published changes (for ``--if-changed``)."""
    row = conn.execute(text(
        "SELECT count(*) FILTER (WHERE status = 'published'), max(updated_at), max(id) "
        "FROM feature")).one()
    return {"published": int(row[0]), "last_change": row[1].isoformat() if row[1] else None,
            "max_id": row[2]}


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest of the last export, or ``None`` if there was none."""
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_export(engine: Engine, directory: Path, *, formats: Iterable[str] = FORMATS,
               if_changed: bool = False, per_category: bool = True,
               levels: Sequence[AreaLevel] | None = None,
               progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Write every open-data file and the manifest; returns the manifest.

    Parameters
    ----------
    levels
        The city's area levels, which name the area columns (default: the configured
        city's, ``CARTE_CITY``).
    formats
        Any of :data:`FORMATS`.
    if_changed
        Do nothing (and return the previous manifest with ``"skipped": true``) when no
        published feature changed since the last export: cheap enough for a cron job.
    per_category
        Also write one file per category (default).
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
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        state = _state(conn)
        if if_changed and previous is not None and previous.get("state") == state \
                and set(previous.get("formats", [])) >= set(formats):
            return {**previous, "skipped": True}
        cats = conn.execute(text(
            "SELECT c.slug, c.label_fr, c.label_en, count(f.id) FROM category c "
            "JOIN feature f ON f.category = c.slug AND f.status = 'published' "
            "GROUP BY c.slug ORDER BY c.slug")).all()
        total = sum(int(c[3]) for c in cats)
        targets: list[tuple[str | None, str, str, int]] = [
            (None, "features", "Toutes les contributions publiées / All published features",
             total)]
        if per_category:
            targets += [(slug, f"features-{slug}", f"{fr} / {en}", int(n))
                        for slug, fr, en, n in cats]
        files: list[ExportedFile] = []
        cols = _columns(conn, levels) if {"gpkg", "fgb"} & set(formats) else None
        for fmt in formats:
            label, media = FORMATS[fmt]
            for category, stem, title, count in targets:
                final = directory / f"{stem}.{fmt}"
                with atomic_path(final) as tmp:
                    if fmt == "geojson":
                        _write_geojson(conn, tmp, category, stem, levels)
                    elif fmt == "csv":
                        _write_csv(conn, tmp, category, levels)
                    else:
                        _write_gdal(cols, category, tmp, fmt, stem)
                stat = final.stat()
                item = ExportedFile(
                    name=final.name, format=fmt, media_type=media, title=title,
                    description=f"{label}: " + ("every published feature" if category is None
                                                else f"published features of {category}"),
                    category=category, count=count, crs=CRS, size=stat.st_size,
                    updated_at=datetime.fromtimestamp(stat.st_mtime, UTC).isoformat())
                files.append(item)
                if progress:
                    progress({"wrote": item.name, "count": count, "size": item.size})
        conn.rollback()
    wanted = {f.name for f in files}
    for fmt in formats if per_category else ():
        # files of categories that no longer have published features
        for old in directory.glob(f"features-*.{fmt}"):
            if old.name not in wanted:
                old.unlink()
    manifest = {
        "generated_at": datetime.now(UTC).isoformat(), "state": state, "formats": formats,
        "licence": LICENCE_NAME, "licence_url": LICENCE_URL, "attribution": ATTRIBUTION,
        "files": [asdict(f) for f in files],
    }
    with atomic_path(directory / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest
