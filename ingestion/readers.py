"""Readers of import files: every row as its raw bytes, its properties and a position.

GeoJSON (a FeatureCollection, or the JSON array of records that opendata.paris.fr
exports), CSV (``,`` or ``;``, optionally gzipped or alone in a zip; lon/lat or x/y
columns, a WKT column, or a ``"lat,lon"`` column as Paris exports have) and anything
else GDAL reads through pyogrio (GeoPackage, Shapefile, FlatGeobuf...). A row whose geometry is
missing or unreadable is still yielded, with ``geom_error`` saying why: the importer
counts and reports it, it never disappears here.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import shapely
from shapely.geometry import shape

from .errors import BadSourceFile

__all__ = ["CsvColumns", "SourceFile", "SourceRow", "csv_columns", "csv_columns_rows", "csv_row",
           "open_source"]

LON_KEYS = ("lon", "lng", "long", "longitude")
LAT_KEYS = ("lat", "latitude")
X_KEYS = ("x", "X", "easting", "coord_x")
Y_KEYS = ("y", "Y", "northing", "coord_y")
WKT_KEYS = ("wkt", "WKT", "geometry", "geom", "the_geom")
LATLON_KEYS = ("geo_point_2d", "Geo point", "geo_point")


class SourceRow(NamedTuple):
    """One row as read: raw bytes, properties, a position in the file's CRS (or why not)."""

    number: int  # 1-based, in file order
    raw: bytes
    props: dict[str, Any]
    x: float | None
    y: float | None
    geom_error: str | None = None


class SourceFile(NamedTuple):
    """An opened source: its rows, its declared CRS (if any) and the raw rows' media type."""

    rows: Iterator[SourceRow]
    crs: str | None
    content_type: str
    data: bytes | None = None  # a CSV file's bytes (unzipped), for the fast column path


def _point_of(geom: Any) -> tuple[float | None, float | None, str | None]:
    """A point for any geometry: itself, or a point on the surface of lines and polygons."""
    if geom is None:
        return None, None, "the row has no geometry"
    try:
        g = geom if isinstance(geom, shapely.Geometry) else shape(geom)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        return None, None, f"unreadable geometry ({exc})"
    if g.is_empty:
        return None, None, "the geometry is empty"
    if g.geom_type != "Point":
        try:
            g = g.point_on_surface() if g.geom_type in ("Polygon", "MultiPolygon") \
                else g.representative_point()
        except shapely.errors.GEOSException as exc:
            return None, None, f"unusable geometry ({exc})"
    return float(g.x), float(g.y), None


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        return math.nan


def _latlon_field(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, dict):
        return _num(value.get("lon")), _num(value.get("lat"))
    if isinstance(value, list | tuple) and len(value) == 2:
        return _num(value[1]), _num(value[0])
    if isinstance(value, str) and "," in value:
        lat, _, lon = value.partition(",")
        return _num(lon), _num(lat)
    return None, None


def position_from_props(props: dict[str, Any], *, prefer_xy: bool) -> tuple[
        float | None, float | None, str | None]:
    """Find a position among a row's columns (see the module docstring for which)."""
    def first(keys: tuple[str, ...]) -> Any:
        return next((props[k] for k in keys if props.get(k) not in (None, "")), None)

    groups = [(X_KEYS, Y_KEYS), (LON_KEYS, LAT_KEYS)]
    for xs, ys in groups if prefer_xy else groups[::-1]:
        x, y = first(xs), first(ys)
        if x is not None or y is not None:
            return _num(x), _num(y), None
    wkt = first(WKT_KEYS)
    if isinstance(wkt, str):
        try:
            return _point_of(shapely.from_wkt(wkt) if not wkt.lstrip().startswith("{")
                             else json.loads(wkt))
        except (shapely.errors.GEOSException, ValueError) as exc:
            return None, None, f"unreadable WKT ({exc})"
    latlon = first(LATLON_KEYS)
    if latlon is not None:
        x, y = _latlon_field(latlon)
        if x is not None:
            return x, y, None
    shape_field = first(("geo_shape", "Geo Shape"))
    if shape_field is not None:
        try:
            doc = json.loads(shape_field) if isinstance(shape_field, str) else shape_field
            if isinstance(doc, dict) and doc.get("type") == "Feature":
                doc = doc.get("geometry")
            return _point_of(doc)
        except ValueError as exc:
            return None, None, f"unreadable geo_shape ({exc})"
    return None, None, "the row has no coordinates"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _geojson_rows(doc: Any, *, prefer_xy: bool) -> Iterator[SourceRow]:
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        items = doc.get("features")
        if not isinstance(items, list):
            raise BadSourceFile("a FeatureCollection without a features array")
        for i, feat in enumerate(items, 1):
            if not isinstance(feat, dict):
                yield SourceRow(i, _dumps(feat), {}, None, None, "not a GeoJSON Feature")
                continue
            props = feat.get("properties") if isinstance(feat.get("properties"), dict) else {}
            props = dict(props)
            if feat.get("id") is not None:
                props.setdefault("id", feat["id"])
            if feat.get("geometry") is not None:
                x, y, err = _point_of(feat["geometry"])
            else:
                x, y, err = position_from_props(props, prefer_xy=prefer_xy)
                if err:
                    err = "the row has no geometry"
            yield SourceRow(i, _dumps(feat), props, x, y, err)
    elif isinstance(doc, list):
        for i, rec in enumerate(doc, 1):
            if not isinstance(rec, dict):
                yield SourceRow(i, _dumps(rec), {}, None, None, "not a JSON object")
                continue
            x, y, err = position_from_props(rec, prefer_xy=prefer_xy)
            yield SourceRow(i, _dumps(rec), rec, x, y, err)
    else:
        raise BadSourceFile("expected a GeoJSON FeatureCollection or a JSON array of records")


def _csv_records(text: str) -> Iterator[str]:
    """The file's records as their original text (a quoted field may span lines).

    Records end at a line end (LF, CR LF or CR) only: a vertical tab or a form feed
    inside a field (the RNA has some) is text, not a new row, whatever
    ``str.splitlines`` thinks.
    """
    pending: list[str] = []
    quotes = 0
    for line in _LINE_END.split(text):
        pending.append(line)
        quotes += line.count('"')
        if quotes % 2 == 0:
            yield "\n".join(pending)
            pending, quotes = [], 0
    if pending:
        yield "\n".join(pending)  # an unterminated quote: the row reports it


_LINE_END = re.compile(r"\r\n|\r|\n")


def _delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    return ";" if first_line.count(";") > first_line.count(",") else ","


def _split(record: str, delimiter: str) -> list[str]:
    if '"' not in record:
        return record.split(delimiter)
    return next(csv.reader([record], delimiter=delimiter), [])


def csv_row(number: int, raw: bytes, record: str, header: list[str], delimiter: str, *,
            prefer_xy: bool) -> SourceRow:
    """One CSV record (its text and its bytes as in the file) as a :class:`SourceRow`.

    The one definition of a CSV row, shared by the csv-module path and the fast path's
    rows that need the scalar pipeline.
    """
    try:
        row = _split(record, delimiter)
    except csv.Error as exc:
        return SourceRow(number, raw, {}, None, None, f"unreadable CSV row ({exc})")
    if len(row) != len(header):
        return SourceRow(number, raw, dict(zip(header, row, strict=False)), None, None,
                         f"the row has {len(row)} columns, the header {len(header)}")
    props = dict(zip(header, row, strict=True))
    x, y, err = position_from_props(props, prefer_xy=prefer_xy)
    return SourceRow(number, raw, props, x, y, err)


def _csv_rows(text: str, *, prefer_xy: bool) -> Iterator[SourceRow]:
    # Paris exports carry whole polygons in one field (``Geo Shape``), past csv's 128 KiB.
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
    if text.startswith("\ufeff"):
        text = text[1:]
    delimiter = _delimiter(text)
    records = _csv_records(text)
    try:
        header = _split(next(records), delimiter)
    except StopIteration as exc:
        raise BadSourceFile("the CSV file is empty") from exc
    number = 0
    for record in records:
        if not record.strip():
            continue
        number += 1
        # the row exactly as it is in the file
        yield csv_row(number, record.encode(), record, header, delimiter, prefer_xy=prefer_xy)


# Python's str.splitlines() and str.strip() know more line breaks and spaces than "\n":
# a file holding any of these (or a quote) takes the csv-module path.
_OTHER_BREAKS = (b'"', b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\xc2\x85",
                 b"\xe2\x80\xa8", b"\xe2\x80\xa9")
_BLANK = (r"^[\t\x0b\x0c\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
          r"\x{202f}\x{205f}\x{3000}]*$")


class CsvColumns(NamedTuple):
    """A simple CSV file (no quotes, newline line ends) split into columns by pyarrow.

    ``lines`` holds every data row's bytes as in the file (a binary array, file order),
    ``numbers`` their 1-based row numbers, ``text`` the lines as strings, split into
    cells a batch at a time by :meth:`cells` (so that the split of batch N+1 runs while
    PostgreSQL stores batch N); rows whose field count differs from the header's are
    left to :func:`csv_row`.
    ``starts``: each line's byte offset in the bytes given to :func:`csv_columns`, so a
    row stored as received can be kept as (offset, length) instead of a copy.
    """

    header: list[str]
    delimiter: str
    lines: Any  # pyarrow.BinaryArray
    numbers: Any  # numpy int64
    text: Any  # pyarrow.LargeStringArray
    starts: Any = None  # numpy int64

    def cells(self, start: int, length: int) -> Any:
        """The split fields of ``length`` rows from ``start`` (a pyarrow list array)."""
        import pyarrow.compute as pc

        return pc.split_pattern(self.text.slice(start, length), self.delimiter)


def csv_columns(data: bytes) -> CsvColumns | None:
    """Split ``data`` (a CSV file's bytes) into columns, or ``None`` if it is not simple.

    Simple: UTF-8, no quote, no line break but the newline, unique header names. Then each
    line is one record and ``line.split(delimiter)`` is what the csv module would read,
    so the rows are exactly those of the csv-module path (a test checks it).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if any(b in data for b in _OTHER_BREAKS):
        return None
    base = 0
    if data.startswith(b"\xef\xbb\xbf"):
        data, base = data[3:], 3
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    end = data.find(b"\n")
    head = data if end < 0 else data[:end]
    text_head = head.decode()
    delimiter = _delimiter(text_head)
    header = text_head.split(delimiter)
    if not text_head.strip() or len(set(header)) != len(header):
        return None
    body = b"" if end < 0 else data[end + 1:]
    if body and not body.endswith(b"\n"):
        body += b"\n"
    buf = np.frombuffer(body, dtype=np.uint8)
    offsets = np.concatenate([[0], np.flatnonzero(buf == 10) + 1]).astype(np.int64)
    # Each line with its newline, straight over the file's bytes (no per-row object),
    # then the newline cut off and the empty lines (not rows) dropped, in C.
    whole = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(body)])
    arr = pc.binary_slice(whole, 0, -1)
    nonempty = np.diff(offsets) > 1
    arr = pc.filter(arr, pa.array(nonempty))
    starts = offsets[:-1][nonempty] + (base + end + 1)
    text_arr = arr.cast(pa.large_string())
    blank = pc.match_substring_regex(text_arr, _BLANK)
    if pc.any(blank).as_py():
        text_arr = pc.filter(text_arr, pc.invert(blank))
        arr = pc.filter(arr, pc.invert(blank))
        starts = starts[~np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)]
    numbers = np.arange(1, len(arr) + 1, dtype=np.int64)
    return CsvColumns(header, delimiter, arr, numbers, text_arr, starts)


def csv_columns_rows(cols: CsvColumns, *, prefer_xy: bool) -> Iterator[SourceRow]:
    """The fast split's rows as :class:`SourceRow` (what the csv-module path yields)."""
    for number, raw in zip(cols.numbers.tolist(), cols.lines.to_pylist(), strict=True):
        yield csv_row(number, raw, raw.decode(), cols.header, cols.delimiter,
                      prefer_xy=prefer_xy)


def _ogr_rows(path: Path) -> SourceFile:
    import pyogrio
    from pyogrio.errors import DataSourceError

    try:
        meta, _, geometry, fields = pyogrio.raw.read(path)
    except (DataSourceError, OSError, ValueError) as exc:
        raise BadSourceFile(f"{path.name}: GDAL cannot read it ({exc})") from exc
    names = list(meta["fields"])
    geoms = shapely.from_wkb(geometry) if geometry is not None else [None] * (
        len(fields[0]) if fields else 0)

    def rows() -> Iterator[SourceRow]:
        for i, geom in enumerate(geoms):
            props = {n: _plain(col[i]) for n, col in zip(names, fields, strict=True)}
            x, y, err = _point_of(geom)
            raw = _dumps({"properties": props,
                          "wkt": None if geom is None else shapely.to_wkt(geom)})
            yield SourceRow(i + 1, raw, props, x, y, err)

    crs = meta.get("crs")
    return SourceFile(rows(), str(crs) if crs else None, "application/json")


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _zip_member(path: Path, data: bytes) -> tuple[str, bytes]:
    """The one CSV or JSON file inside a zip (opendata.paris.fr zips its big CSV exports)."""
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()
                       and m.filename.lower().endswith((".csv", ".txt", ".geojson", ".json"))]
            if len(members) != 1:
                raise BadSourceFile(f"{path.name}: expected one CSV or JSON file in the zip, "
                                    f"found {len(members)}")
            return members[0].filename.lower(), archive.read(members[0])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BadSourceFile(f"{path.name}: not a readable zip ({exc})") from exc


def open_source(path: Path, *, prefer_xy: bool = False, data: bytes | None = None
                ) -> SourceFile:
    """Open an import file by its extension (``.gz`` and ``.zip`` are opened first).

    ``data``: the file's bytes when the caller has read them already.

    Raises
    ------
    BadSourceFile
        The file cannot be read at all (one bad row never raises: it is yielded).
    """
    name = path.name.lower()
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadSourceFile(f"{path}: {exc.strerror}") from exc
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise BadSourceFile(f"{path.name}: not gzip ({exc})") from exc
        name = name[:-3]
    elif name.endswith(".zip"):
        name, data = _zip_member(path, data)
    if name.endswith((".geojson", ".json")):
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadSourceFile(f"{path.name}: not JSON ({exc})") from exc
        crs = None
        if isinstance(doc, dict):
            crs = ((doc.get("crs") or {}).get("properties") or {}).get("name")
        return SourceFile(_geojson_rows(doc, prefer_xy=prefer_xy), crs, "application/geo+json")
    if name.endswith((".csv", ".txt")):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", "replace")
        return SourceFile(_csv_rows(text, prefer_xy=prefer_xy), None, "text/csv", data)
    return _ogr_rows(path)
