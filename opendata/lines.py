"""GeoJSON and CSV files as concatenations of cached parts, one part per id bucket.

Both formats are one line per feature in id order between a fixed head and tail, so a
file is ``head + part + sep + part + ... + tail`` where a part is the lines of one
bucket (:data:`opendata.snapshot.BUCKET` ids) joined by the same separator. Parts are
rendered by PostgreSQL (one text per bucket and target, never a Python object per row)
and kept in the part cache (:mod:`opendata.parts`); a refresh re-renders only buckets
whose fingerprint changed and writes each file by sequential concatenation. A full
export is the same assembly from an empty cache, so the incremental file is the full
file byte for byte.

One query renders a bucket once for every target: ``GROUPING SETS ((bucket), (bucket,
category))`` aggregates the same rendered lines into the all-features part and one part
per category (the previous exporter rendered every line twice).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from geo.city import AreaLevel
from geo.published import area_joins, feature_json_sql

from .parts import PartStore
from .snapshot import BUCKET, bucket_range

__all__ = ["BATCH", "LineFormat", "line_formats", "render_buckets", "write_file"]

BATCH = 4
"""Buckets per query in a full render (8,000 lines: one text each, a few MB)."""


@dataclass(frozen=True)
class LineFormat:
    """A one-line-per-feature format: the SQL of a line, the separator, head and tail."""

    name: str
    line_sql: str
    sep: str
    columns: tuple[str, ...] = ()

    def head(self, stem: str) -> bytes:
        """Bytes before the first line (the GeoJSON collection's members, the CSV header)."""
        if self.name == "geojson":
            from .exports import ATTRIBUTION, LICENCE_NAME, LICENCE_URL

            header = json.dumps({"type": "FeatureCollection", "name": stem,
                                 "licence": LICENCE_NAME, "licence_url": LICENCE_URL,
                                 "attribution": ATTRIBUTION}, ensure_ascii=False)[:-1]
            return (header + ',"features":[\n').encode()
        return (",".join(self.columns) + "\n").encode()

    def tail(self, lines: int) -> bytes:
        """Bytes after the last line."""
        if self.name == "geojson":
            return b"\n]}\n"
        return b"\n" if lines else b""

    def signature(self) -> str:
        """What the schema key hashes for this format."""
        return f"{self.name}|{self.sep!r}|{self.columns}|{self.line_sql}"


def line_formats(levels: Sequence[AreaLevel]) -> dict[str, LineFormat]:
    """The GeoJSON and CSV line formats of a city with these area levels."""
    from .exports import csv_columns

    names, csv_line = csv_columns(levels)
    return {"geojson": LineFormat("geojson", feature_json_sql(levels), ",\n"),
            "csv": LineFormat("csv", csv_line, "\n", names)}


def _runs(buckets: Iterable[int], batch: int) -> Iterator[tuple[int, int]]:
    """Consecutive buckets grouped into ``[first, last]`` runs of at most ``batch``."""
    run: list[int] = []
    for b in sorted(set(buckets)):
        if run and (b != run[-1] + 1 or len(run) == batch):
            yield run[0], run[-1]
            run = []
        run.append(b)
    if run:
        yield run[0], run[-1]


def render_buckets(conn: Connection, fmt: LineFormat, levels: Sequence[AreaLevel],
                   buckets: Iterable[int]) -> Iterator[tuple[int, str | None, bytes]]:
    """``(bucket, category or None for every feature, part bytes)`` of these buckets.

    Read by id range on the primary key, in the caller's snapshot.
    """
    sql = text(f"""
      SELECT s.id / {BUCKET} AS b, s.category, GROUPING(s.category) = 1 AS every,
             string_agg(s.line, :sep ORDER BY s.id)
      FROM (SELECT p.id, p.category, {fmt.line_sql} AS line FROM feature p
            {area_joins(levels)}
            WHERE p.status = 'published' AND p.id >= :lo AND p.id < :hi) s
      GROUP BY GROUPING SETS ((s.id / {BUCKET}), (s.id / {BUCKET}, s.category))
    """)  # noqa: S608 (constant fragments only)
    for first, last in _runs(buckets, BATCH):
        lo, hi = bucket_range(first)[0], bucket_range(last)[1]
        for b, category, every, body in conn.execute(sql, {"lo": lo, "hi": hi,
                                                           "sep": fmt.sep}):
            yield int(b), None if every else category, body.encode()


def write_file(conn: Connection, fmt: LineFormat, levels: Sequence[AreaLevel], path: Path,
               stem: str, category: str | None, fps: dict[int, str], count: int,
               store: PartStore) -> int:
    """Write the file of one target from its parts; re-render any part missing or bad.

    ``fps`` are the target's bucket fingerprints. A part that fails its check (a
    truncated or damaged cache file) is rendered again from the database, in the same
    snapshot, and replaced. Returns how many buckets had to be rendered here.
    """
    rendered = 0
    with open(path, "wb") as out:
        out.write(fmt.head(stem))
        first = True
        for b in sorted(fps):
            part = store.get(b, fps[b])
            data = part.read() if part is not None else None
            if data is None:
                if part is not None:
                    store.drop(part)
                data = _render_one(conn, fmt, levels, b, category, fps[b], store)
                rendered += 1
            if not data:
                continue
            if not first:
                out.write(fmt.sep.encode())
            out.write(data)
            first = False
        out.write(fmt.tail(count))
    return rendered


def _render_one(conn: Connection, fmt: LineFormat, levels: Sequence[AreaLevel], bucket: int,
                category: str | None, fingerprint: str, store: PartStore) -> bytes:
    for b, cat, data in render_buckets(conn, fmt, levels, [bucket]):
        if b == bucket and cat == category:
            store.put(bucket, fingerprint, data)
            return data
    return b""
