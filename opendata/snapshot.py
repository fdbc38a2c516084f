"""What the published features look like now, per id bucket and category, in one query.

An incremental export (:mod:`opendata.exports`) rewrites only what changed. To know what
changed without rendering anything, PostgreSQL gives, for every bucket of
:data:`BUCKET` consecutive ids and every category in it, a *cell*: how many published
features, a sum of 64-bit hashes of ``(id, version, updated_at, attribution)`` and a sum
of hashes of their public photos' rows. One grouped scan of ``feature`` (0.4 s at 1M
features) and a join over the (small) ``photo`` table.

Why these columns
    Every public field of a feature changes through :mod:`geo.publish`, which bumps
    ``version`` and sets ``updated_at`` (edits, status changes, photos decided by a
    moderator, ``on_loan_until`` written by :mod:`community.loans`). One writer does not:
    a source's credit line (``ingestion.services``) updates ``attribution`` alone, hence
    ``attribution`` in the hash. Photos are hashed from their own rows, so a photo made
    ready or hidden without a new version of its feature still changes the cell.
    Unpublishing removes the row from the cell (count and sum change); a category
    change moves it to another cell (both change).

What is not in a row
    The SQL that renders a line, the public field list, the city's levels, the area
    codes and names, the schema's migration: :func:`schema_key` hashes them all, and the
    part cache lives in a directory named after it, so a code, settings or data-model
    change starts from an empty cache (a full render), never from stale parts.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from geo.city import AreaLevel

__all__ = ["BUCKET", "CACHE_VERSION", "Snapshot", "bucket_range", "read_snapshot",
           "schema_key"]

BUCKET = 2000
"""Ids per bucket. New approvals land in the last bucket, an edit re-renders 2,000 lines
(~80 ms of PostgreSQL per format); 500 buckets at 1M features keep the fingerprint
list and the part files few."""

CACHE_VERSION = "1"
"""Bumped when the layout or content of cached parts changes (part of the schema key)."""

_CELLS = text(f"""
SELECT p.id / {BUCKET} AS b, p.category, count(*),
       sum(hashtextextended(p.version::text || '/' || p.updated_at::text || '/'
                            || coalesce(p.attribution, ''), p.id))
FROM feature p WHERE p.status = 'published'
GROUP BY 1, 2""")  # noqa: S608 (a constant)

_PHOTOS = text(f"""
SELECT f.id / {BUCKET} AS b, f.category, sum(hashtextextended(x::text, 0))
FROM photo x JOIN feature f ON f.id = x.feature_id
WHERE x.status = 'ready' AND f.status = 'published'
GROUP BY 1, 2""")  # noqa: S608 (a constant)

_CONTEXT = text("""
SELECT (SELECT string_agg(version_num, ',' ORDER BY version_num) FROM alembic_version),
       (SELECT md5(string_agg(id || '/' || coalesce(code, '') || '/' || coalesce(name, ''),
                              '|' ORDER BY id)) FROM area)""")


def bucket_range(bucket: int) -> tuple[int, int]:
    """The ids ``[lo, hi)`` of a bucket."""
    return bucket * BUCKET, (bucket + 1) * BUCKET


def _digest(parts: Iterable[object]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\x00")
    return h.hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """The cells of one REPEATABLE READ snapshot: ``(bucket, category) -> (n, h, photos)``."""

    cells: dict[tuple[int, str], tuple[int, int, int]]
    _by_bucket: dict[int, list[tuple[str, tuple[int, int, int]]]] = field(
        default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[int, list[tuple[str, tuple[int, int, int]]]] = defaultdict(list)
        for (b, cat), cell in sorted(self.cells.items()):
            grouped[b].append((cat, cell))
        self._by_bucket.update(grouped)

    def fingerprints(self, category: str | None) -> dict[int, str]:
        """Bucket -> fingerprint of the target (every feature, or one category).

        A bucket with nothing of the target is absent: its part is empty.
        """
        if category is None:
            return {b: _digest(cells) for b, cells in self._by_bucket.items()}
        return {b: _digest([(category, cell)]) for (b, cat), cell in self.cells.items()
                if cat == category}

    def count(self, category: str | None = None) -> int:
        """Published features of the target."""
        return sum(n for (_, cat), (n, _h, _p) in self.cells.items()
                   if category is None or cat == category)

    def categories(self) -> set[str]:
        """Categories with at least one published feature."""
        return {cat for _, cat in self.cells}


def read_snapshot(conn: Connection) -> Snapshot:
    """The cells of every published feature, in the caller's snapshot."""
    cells: dict[tuple[int, str], tuple[int, int, int]] = {
        (int(b), cat): (int(n), int(h), 0) for b, cat, n, h in conn.execute(_CELLS)}
    for b, cat, h in conn.execute(_PHOTOS):
        n, fh, _ = cells[(int(b), cat)]
        cells[(int(b), cat)] = (n, fh, int(h))
    return Snapshot(cells)


def schema_key(conn: Connection, levels: Sequence[AreaLevel], rendered: Sequence[str]) -> str:
    """A hash of everything a part depends on besides the feature rows.

    ``rendered`` are the SQL and headers of every format (they embed the public field
    list and the levels); the database adds its migration and the areas' codes and
    names. A different key means a different cache directory.
    """
    migration, areas = conn.execute(_CONTEXT).one()
    return _digest([CACHE_VERSION, BUCKET, migration, areas,
                    [(lv.slug, lv.public_name) for lv in levels], *rendered])
