"""Open-data files: every published feature as GeoJSON, CSV, GeoPackage and FlatGeobuf.

One file per format for all features (``features.<ext>``) and one per category
(``features-<slug>.<ext>``), written into ``$CARTE_VAR_DIR/data/`` by ``carte export``.

* Every file is written to a temporary name in the same directory and renamed into
  place (``os.replace`` is atomic), so a download never sees half a file.
* All formats come from one REPEATABLE READ snapshot: the counts agree across files.
* GeoJSON and CSV are produced by PostgreSQL itself (``COPY ... TO STDOUT``), streamed
  to disk without a Python object per row; GeoPackage and FlatGeobuf are written by
  GDAL (pyogrio) from column arrays.
* Only public columns leave (the same as the API: :data:`~webmap.ogc_queries.PUBLIC_PROPERTIES`).
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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, text

from .ogc_queries import PRIVATE_ATTRIBUTE_KEYS, feature_json_sql

__all__ = [
    "ATTRIBUTION",
    "FORMATS",
    "LICENCE_NAME",
    "LICENCE_URL",
    "MANIFEST",
    "ExportedFile",
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
CSV_COLUMNS = ("id", "category", "title", "description", "starts_at", "ends_at", "lon", "lat",
               "wkt", "arrondissement", "arrondissement_name", "quartier", "quartier_name",
               "source", "attribution", "published_at", "updated_at", "attributes")
_TEXT_COLUMNS = {"category", "title", "description", "arrondissement", "arrondissement_name",
                 "quartier", "quartier_name", "source", "attribution", "attributes"}


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

_BASE = """FROM feature p
  LEFT JOIN area a ON a.id = p.arrondissement_id
  LEFT JOIN area q ON q.id = p.quartier_id
  WHERE p.status = 'published' AND (CAST(:category AS text) IS NULL OR p.category = :category)
  ORDER BY p.id"""


def _csv_text(expr: str) -> str:
    """SQL neutralising formula-looking cells (the same rule as :func:`neutralise_cell`)."""
    return (f"CASE WHEN left({expr}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') "
            f"THEN '''' || {expr} ELSE {expr} END")


def _iso(col: str) -> str:
    return f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


_PRIVATE = "ARRAY[" + ", ".join(f"'{k}'" for k in PRIVATE_ATTRIBUTE_KEYS) + "]::text[]"
_CSV_SELECT = ", ".join([
    "p.id", _csv_text("p.category"), _csv_text("p.title"), _csv_text("p.description"),
    _iso("p.starts_at"), _iso("p.ends_at"), "round(ST_X(p.geom)::numeric, 7)",
    "round(ST_Y(p.geom)::numeric, 7)", "ST_AsText(p.geom, 7)",
    _csv_text("a.code"), _csv_text("a.name"), _csv_text("q.code"), _csv_text("q.name"),
    _csv_text("p.source"), _csv_text("p.attribution"), _iso("p.published_at"),
    _iso("p.updated_at"), _csv_text(f"(p.attributes - {_PRIVATE})::text"),
])


def _copy_sql(conn: Connection, select_list: str, options: str, category: str | None) -> str:
    """A ``COPY (SELECT ...) TO STDOUT`` statement with ``category`` bound as a literal."""
    # COPY takes no bind parameters: render the one value through the driver's quoting.
    literal = "NULL" if category is None else conn.exec_driver_sql(
        "SELECT quote_literal(CAST(%(v)s AS text))", {"v": category}).scalar_one()
    query = f"SELECT {select_list} {_BASE}".replace(
        "CAST(:category AS text)", f"CAST({literal} AS text)").replace(":category", literal)
    return f"COPY ({query}) TO STDOUT WITH ({options})"


def _stream_copy(conn: Connection, sql: str, out: IO[bytes],
                 transform: Callable[[bytes], bytes] | None = None) -> int:
    """Run a COPY TO STDOUT into ``out``; returns the number of bytes written."""
    pg = conn.connection.driver_connection
    written = 0
    with pg.cursor() as cur, cur.copy(sql) as copy:
        for chunk in copy:
            data = bytes(chunk)
            if transform is not None:
                data = transform(data)
            out.write(data)
            written += len(data)
    return written


def _write_geojson(conn: Connection, path: Path, category: str | None, name: str) -> None:
    header = json.dumps({"type": "FeatureCollection", "name": name, "licence": LICENCE_NAME,
                         "licence_url": LICENCE_URL, "attribution": ATTRIBUTION},
                        ensure_ascii=False)[:-1]
    # A quote and delimiter that JSON text never contains raw: each line is one feature.
    sql = _copy_sql(conn, feature_json_sql("p"),
                    "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'", category)
    with open(path, "wb") as out:
        out.write((header + ',"features":[\n').encode())
        n = _stream_copy(conn, sql, out, lambda b: b.replace(b"\n", b",\n"))
        if n:
            out.seek(-2, os.SEEK_END)
            out.truncate()
        out.write(b"\n]}\n")


def _write_csv(conn: Connection, path: Path, category: str | None) -> None:
    sql = _copy_sql(conn, _CSV_SELECT, "FORMAT csv, HEADER false, ENCODING 'UTF8'", category)
    with open(path, "wb") as out:
        out.write((",".join(CSV_COLUMNS) + "\n").encode())
        _stream_copy(conn, sql, out)


def _columns(conn: Connection) -> dict[str, Any]:
    """Every published feature as numpy column arrays, for GDAL's writers."""
    import numpy as np

    sql = f"""SELECT p.id, ST_AsBinary(p.geom), p.category, p.title, p.description,
        extract(epoch FROM p.starts_at) * 1000, extract(epoch FROM p.ends_at) * 1000,
        (p.attributes - {_PRIVATE})::text, a.code, a.name, q.code, q.name, p.source,
        p.attribution, extract(epoch FROM p.published_at) * 1000,
        extract(epoch FROM p.updated_at) * 1000 {_BASE}"""  # noqa: S608 (constants only)
    pg = conn.connection.driver_connection
    rows: list[tuple[Any, ...]] = []
    with pg.cursor(name="carte_export", binary=False) as cur:
        cur.itersize = 50_000
        cur.execute(sql.replace("CAST(:category AS text)", "CAST(NULL AS text)")
                    .replace(":category", "NULL"))
        while batch := cur.fetchmany(50_000):
            rows.extend(batch)
    cols = list(zip(*rows, strict=True)) if rows else [()] * 16
    names = ["id", "wkb", "category", "title", "description", "starts_at", "ends_at",
             "attributes", "arrondissement", "arrondissement_name", "quartier",
             "quartier_name", "source", "attribution", "published_at", "updated_at"]
    out: dict[str, Any] = {}
    for name, values in zip(names, cols, strict=True):
        if name == "id":
            out[name] = np.array(values, dtype=np.int64)
        elif name in ("starts_at", "ends_at", "published_at", "updated_at"):
            ms = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
            stamps = np.full(len(ms), np.datetime64("NaT"), dtype="datetime64[ms]")
            ok = ~np.isnan(ms)
            stamps[ok] = ms[ok].astype(np.int64).astype("datetime64[ms]")
            out[name] = stamps
        else:
            out[name] = np.array(values, dtype=object)
    return out


_GDAL = {"gpkg": ("GPKG", {}), "fgb": ("FlatGeobuf", {})}


def _write_gdal(cols: dict[str, Any], mask: Any, path: Path, fmt: str, layer: str) -> None:
    from pyogrio.raw import write

    driver, options = _GDAL[fmt]
    fields = [k for k in cols if k != "wkb"]
    data = [cols[k] if mask is None else cols[k][mask] for k in fields]
    geometry = cols["wkb"] if mask is None else cols["wkb"][mask]
    write(str(path), geometry, data, fields, driver=driver, layer=layer,
          geometry_type="Point", crs="EPSG:4326", encoding="UTF-8",
          layer_options=options or None)


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
               if_changed: bool = False,
               progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Write every open-data file and the manifest; returns the manifest.

    Parameters
    ----------
    formats
        Any of :data:`FORMATS`.
    if_changed
        Do nothing (and return the previous manifest with ``"skipped": true``) when no
        published feature changed since the last export: cheap enough for a cron job.
    progress
        Called with one dict per file written (``carte export`` prints them).
    """
    formats = [f for f in FORMATS if f in set(formats)]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown formats: {', '.join(sorted(unknown))}")
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
        targets += [(slug, f"features-{slug}", f"{fr} / {en}", int(n))
                    for slug, fr, en, n in cats]
        files: list[ExportedFile] = []
        cols = _columns(conn) if {"gpkg", "fgb"} & set(formats) else None
        for fmt in formats:
            label, media = FORMATS[fmt]
            for category, stem, title, count in targets:
                final = directory / f"{stem}.{fmt}"
                with atomic_path(final) as tmp:
                    if fmt == "geojson":
                        _write_geojson(conn, tmp, category, stem)
                    elif fmt == "csv":
                        _write_csv(conn, tmp, category)
                    else:
                        assert cols is not None
                        mask = None if category is None else cols["category"] == category
                        _write_gdal(cols, mask, tmp, fmt, stem)
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
    for fmt in formats:  # files of categories that no longer have published features
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
