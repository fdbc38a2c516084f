"""Column tables (Arrow) of published features, cached per id bucket, for GDAL's formats.

FlatGeobuf carries a packed Hilbert R-tree over all its features, so a FlatGeobuf file
is always written whole; what a refresh saves is the reading: every bucket's Arrow
table is kept in the part cache (an Arrow IPC file per bucket, named by fingerprint) and
only changed buckets are read again from PostgreSQL. GeoPackage patches
(:mod:`opendata.geopackage`) take the changed buckets' tables from here too.

PostgreSQL writes CSV lines, Arrow's C++ reader parses them and shapely makes the WKB
points: no Python object per row. pyogrio's per-feature numpy writer is ~3x slower than
its Arrow one here, mostly on date-times.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, text

from geo.city import AreaLevel
from geo.published import area_joins, public_fields

from .lines import BATCH, _runs
from .parts import PartStore
from .snapshot import BUCKET, bucket_range

__all__ = ["arrow_signature", "empty_table", "gdal_table", "load_table", "render_pieces"]

_EPOCH = "(extract(epoch FROM {}) * 1000)::bigint"


def _plain(expr: str) -> str:
    return f"coalesce(({expr})::text, '')"


def _quoted(expr: str) -> str:
    return f"""coalesce('"' || replace({expr}, '"', '""') || '"', '')"""


def _arrow_columns(levels: Sequence[AreaLevel]) -> tuple[list[str], str, set[str]]:
    """Column names, line SQL and date-time columns of the Arrow table.

    The public fields in order, then ``lon`` and ``lat`` (made into the geometry, and
    kept in the cached table for GeoPackage patches).
    """
    fields = public_fields(levels)
    cells = [_plain(_EPOCH.format(f.sql)) if f.kind == "datetime" else
             _plain(f.sql) if f.kind == "integer" else
             _quoted(f"({f.sql})::text" if f.kind == "json" else f.sql) for f in fields]
    return ([f.name for f in fields] + ["lon", "lat"],
            " || ',' || ".join([*cells, _plain("ST_X(p.geom)"), _plain("ST_Y(p.geom)")]),
            {f.name for f in fields if f.kind == "datetime"})


def arrow_signature(levels: Sequence[AreaLevel]) -> str:
    """What the schema key hashes for the cached tables."""
    names, line, stamps = _arrow_columns(levels)
    return f"arrow|{names}|{sorted(stamps)}|{line}"


def _types(levels: Sequence[AreaLevel]) -> dict[str, Any]:
    import pyarrow as pa

    names, _, stamps = _arrow_columns(levels)
    return {n: pa.int64() if n in stamps or n == "id" else
            pa.float64() if n in ("lon", "lat") else pa.string() for n in names}


def _finish(table: Any, levels: Sequence[AreaLevel]) -> Any:
    """Date-times as UTC timestamps and a WKB ``geometry`` column (lon/lat kept)."""
    import pyarrow as pa
    import shapely

    _, _, stamps = _arrow_columns(levels)
    stamp = pa.timestamp("ms", tz="UTC")
    for name in stamps:
        table = table.set_column(table.schema.get_field_index(name), name,
                                 table[name].cast(stamp))
    points = shapely.points(table["lon"].to_numpy(zero_copy_only=False),
                            table["lat"].to_numpy(zero_copy_only=False))
    return table.append_column("geometry", pa.array(shapely.to_wkb(points), pa.binary()))


def empty_table(levels: Sequence[AreaLevel]) -> Any:
    """A table of no feature, with every column."""
    import pyarrow as pa

    return _finish(pa.table({n: pa.array([], t) for n, t in _types(levels).items()}), levels)


def render_pieces(conn: Connection, levels: Sequence[AreaLevel],
                  buckets: Iterable[int]) -> Iterator[tuple[int, Any]]:
    """``(bucket, Arrow table)`` of these buckets' published features, in id order."""
    import io

    import pyarrow.csv as pacsv

    names, line, _ = _arrow_columns(levels)
    types = _types(levels)
    sql = text(f"""
      SELECT s.id / {BUCKET} AS b, string_agg(s.line, E'\\n' ORDER BY s.id)
      FROM (SELECT p.id, {line} AS line FROM feature p {area_joins(levels)}
            WHERE p.status = 'published' AND p.id >= :lo AND p.id < :hi) s
      GROUP BY 1""")  # noqa: S608 (constant fragments only)
    for first, last in _runs(buckets, BATCH):
        lo, hi = bucket_range(first)[0], bucket_range(last)[1]
        for b, body in conn.execute(sql, {"lo": lo, "hi": hi}):
            table = pacsv.read_csv(
                io.BytesIO(body.encode() + b"\n"),
                read_options=pacsv.ReadOptions(column_names=names),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, strings_can_be_null=True,
                    quoted_strings_can_be_null=False))
            yield int(b), _finish(table, levels)


def _to_bytes(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_bytes(data: bytes) -> Any:
    import pyarrow as pa

    return pa.ipc.open_file(pa.py_buffer(data)).read_all()


def load_table(conn: Connection, levels: Sequence[AreaLevel], fps: dict[int, str],
               store: PartStore, buckets: Iterable[int] | None = None) -> tuple[Any, int]:
    """The table of these buckets (default: all of ``fps``), from the cache where it can.

    Buckets whose piece is missing or fails its check are rendered (in runs) and kept.
    Returns the table (in id order) and how many buckets were rendered.
    """
    import pyarrow as pa

    wanted = sorted(fps if buckets is None else (b for b in buckets if b in fps))
    tables: dict[int, Any] = {}
    missing: list[int] = []
    for b in wanted:
        part = store.get(b, fps[b])
        data = part.read() if part is not None else None
        if data is None:
            if part is not None:
                store.drop(part)
            missing.append(b)
        else:
            tables[b] = _from_bytes(data)
    for b, table in render_pieces(conn, levels, missing):
        store.put(b, fps[b], _to_bytes(table))
        tables[b] = table
    pieces = [tables[b] for b in wanted if b in tables]
    table = pa.concat_tables(pieces) if pieces else empty_table(levels)
    return table, len(missing)


def gdal_table(table: Any, category: str | None) -> Any:
    """What GDAL writes: one category's rows (or all), without the lon/lat helpers."""
    import pyarrow.compute as pc

    if category is not None:
        table = table.filter(pc.equal(table["category"], category))
    return table.drop_columns(["lon", "lat"])
