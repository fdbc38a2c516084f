"""Full and incremental builds of the ``features`` vector archive.

``build_full`` renders every tile into a new MBTiles renamed over the live one, then
the PMTiles snapshot, then the density raster. ``build_incremental`` claims rows of the
``tile_dirty`` queue with ``FOR UPDATE SKIP LOCKED`` (two builders never take the same
row), re-renders those tiles and their neighbours (whose buffers may show the changed
point) from the same per-point decisions as a full build, and replaces them in the live
MBTiles in one SQLite transaction; the queue rows are deleted in the same PostgreSQL
transaction that claimed them, committed only after SQLite committed. A crash at any
point leaves the rows queued and the archive whole.

Events leave the map when they are over (:mod:`geo.events`), though nobody touches
them: a build reads only what is live at its instant ``now`` and records that instant
in the archive's metadata (``carte.live_at``). An incremental build first queues, in
the transaction that claims the queue, the columns of every published feature that
went from live to over since ``live_at`` (one query over two small partial indexes),
and drops those features from the watcher's point cache, which otherwise refreshes
only what was *updated*.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from geo.events import ENDED_BETWEEN_SQL, city_zone, local_midnight
from geo.tilemath import mercator_to_lonlat, tiles_for_point

from .archive import MBTiles, pmtiles_snapshot, write_all
from .errors import BuildBusy, TileTooLarge
from .options import EXTENT, LAYER, WORLD_BOUNDS, TileOptions
from .points import EXTENT_BITS, PointSet
from .pyramid import Plan, RenderedTile, _encode, plan, render, tile_key, zoom_layout
from .source import read_points
from .thinning import NEVER, STRIDE_CELL_BITS, runs

__all__ = ["BuildReport", "PointCache", "build_full", "build_incremental", "build_lock",
           "mark_ended", "tiles_dir"]

log = logging.getLogger(__name__)

FEATURES_MBTILES = "features.mbtiles"
FEATURES_PMTILES = "features.pmtiles"
PROBE_POINTS = 30_000


def tiles_dir(var_dir: Path) -> Path:
    """Where the archives live: ``$VAR_DIR/tiles``."""
    return Path(var_dir) / "tiles"


@contextlib.contextmanager
def build_lock(directory: Path, *, wait: bool = True) -> Iterator[None]:
    """One builder at a time per tile directory (released by the kernel on any death)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".build.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise BuildBusy(f"another build holds {directory}") from exc
        yield


@dataclass
class BuildReport:
    """What a build did, printed as one JSON line by the CLI."""

    kind: str
    mode: str
    points: int = 0
    tiles: int = 0
    bytes: int = 0
    largest: int = 0
    removed: int = 0
    dirty: int = 0
    ended: int = 0
    seconds: float = 0.0
    per_zoom: dict[int, int] = field(default_factory=dict)
    kept_per_zoom: dict[int, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return dict(self.__dict__)


def _bounds(points: PointSet, empty: tuple[float, float, float, float] | None
            ) -> tuple[float, float, float, float]:
    if not len(points):
        return empty or WORLD_BOUNDS
    scale = 2 * np.pi * 6378137.0 / float(1 << (points.max_zoom + 12))
    half = np.pi * 6378137.0
    xs = np.array([points.gx.min(), points.gx.max() + 1]) * scale - half
    ys = half - np.array([points.gy.max() + 1, points.gy.min()]) * scale
    lon, lat = mercator_to_lonlat(xs, ys)
    return (round(float(lon[0]), 6), round(float(lat[0]), 6), round(float(lon[1]), 6),
            round(float(lat[1]), 6))


def _metadata(p: Plan, options: TileOptions, generation: int, live_at: datetime
              ) -> dict[str, Any]:
    west, south, east, north = _bounds(p.points, options.bounds)
    fields = {"id": "Number", "category": "String", "title": "String"}
    if options.mode == "cluster":
        fields.update({"cluster": "Boolean", "point_count": "Number",
                       "point_count_abbreviated": "String"})
        fields.update({f"count_{c}": "Number" for c in p.points.categories})
    return {
        "name": "Carte citoyenne: features", "format": "pbf", "type": "overlay",
        "version": "1.0.0", "description": f"Published features ({options.mode} mode)",
        "attribution": options.attribution, "minzoom": "0", "maxzoom": str(options.max_zoom),
        "bounds": f"{west},{south},{east},{north}",
        "center": f"{(west + east) / 2:.6f},{(south + north) / 2:.6f},"
                  f"{min(12, options.max_zoom)}",
        "json": {"vector_layers": [{"id": LAYER, "description": "Published pins",
                                    "minzoom": 0, "maxzoom": options.max_zoom,
                                    "fields": fields}]},
        "carte": {"mode": options.mode, "max_zoom": options.max_zoom,
                  "buffer": options.buffer, "extent": EXTENT,
                  "drop_rate": options.drop_rate, "cap": p.cap,
                  "factors": {str(k): v for k, v in p.factors.items()},
                  "categories": list(p.points.categories), "generation": generation,
                  "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "live_at": live_at.isoformat()},
    }


def probe_cap(points: PointSet, options: TileOptions) -> int | None:
    """Points per tile that fit the byte limit, measured on the densest deepest tile.

    Encoding that one tile unthinned costs milliseconds and saves re-rendering the
    whole pyramid when the count estimate was off.
    """
    if not len(points):
        return None
    mz = points.max_zoom
    tk = points.morton >> np.uint64(2 * EXTENT_BITS)  # tiles of the deepest zoom
    starts = runs(tk)
    sizes = np.diff(np.append(starts, len(tk)))
    densest = int(np.argmax(sizes))
    if sizes[densest] < 1000:
        return None
    # A sample of at most PROBE_POINTS consecutive (so spatially compact) points of that
    # tile: a hotspot tile can hold most of the map, and encoding it whole costs memory.
    first = int(starts[densest])
    sample = min(int(sizes[densest]), PROBE_POINTS)
    gx = points.gx[first] >> EXTENT_BITS
    gy = points.gy[first] >> EXTENT_BITS
    minzoom = np.full(len(points), NEVER, dtype=np.uint8)
    minzoom[first:first + sample] = 0
    probe = Plan(points, replace(options, buffer=0), minzoom=minzoom)
    lay = zoom_layout(probe, mz, only=[int(tile_key(gx, gy))])
    tiles = _encode(probe, lay, 0, len(lay.tiles()))
    size = sum(len(t.data) for t in tiles)
    return max(1, int(options.max_tile_bytes / (size / sample) * 0.98))


def render_checked(points: PointSet, options: TileOptions) -> tuple[Plan, list[RenderedTile]]:
    """Render every tile; if one is over the byte limit, thin its zoom harder and redo."""
    cap = probe_cap(points, options)
    for _ in range(5):
        p = plan(points, options, cap=cap)
        tiles = list(render(p))
        largest = max((len(t.data) for t in tiles), default=0)
        if largest <= options.max_tile_bytes:
            return p, tiles
        log.warning("largest tile %d bytes > %d: thinning harder", largest,
                    options.max_tile_bytes)
        cap = max(1, int(p.cap * options.max_tile_bytes / largest * 0.97))
    raise TileTooLarge(f"tiles stay over {options.max_tile_bytes} bytes")


def _snapshot_dirty(dbapi: Any) -> tuple[list[int], list[int], list[int], list[Any]]:
    rows = dbapi.execute("SELECT z, x, y, marked_at FROM tile_dirty").fetchall()
    return ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
            [r[3] for r in rows])


_FORGET = """
    DELETE FROM tile_dirty d
    USING unnest(%s::smallint[], %s::int[], %s::int[], %s::timestamptz[]) AS s(z, x, y, m)
    WHERE d.z = s.z AND d.x = s.x AND d.y = s.y AND d.marked_at = s.m
"""


def build_full(engine: Engine, var_dir: Path, options: TileOptions, *,
               density: bool = True, now: datetime | None = None) -> BuildReport:
    """Render the whole live map into new archives (MBTiles, PMTiles, density).

    The dirty rows visible when the points were read are forgotten afterwards: rows
    queued by changes committed later stay for the next incremental build. Features
    over at ``now`` (default: the current time) are left out.
    """
    t0 = time.perf_counter()
    now = now or datetime.now(UTC)
    directory = tiles_dir(var_dir)
    report = BuildReport(kind="full", mode=options.mode)
    with build_lock(directory), _psycopg(engine) as dbapi:
        dbapi.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            points = read_points(dbapi, options, now=now)
            dirty = _snapshot_dirty(dbapi)
        finally:
            dbapi.execute("COMMIT")
        report.timings["read"] = round(time.perf_counter() - t0, 3)
        p, tiles = render_checked(points, options)
        report.timings["render"] = round(time.perf_counter() - t0, 3)
        previous = _generation(directory / FEATURES_MBTILES)
        write_all(directory / FEATURES_MBTILES,
                  ((t.z, t.x, t.y, t.data) for t in tiles),
                  _metadata(p, options, previous + 1, now))
        report.timings["mbtiles"] = round(time.perf_counter() - t0, 3)
        _summarise(report, p, tiles)
        del tiles  # the rasters below need the memory more
        pmtiles_snapshot(directory / FEATURES_MBTILES, directory / FEATURES_PMTILES)
        report.timings["pmtiles"] = round(time.perf_counter() - t0, 3)
        if density and len(points):
            from .raster import build_density

            build_density(points, directory, options)
            report.timings["density"] = round(time.perf_counter() - t0, 3)
        if density and _base_stale(dbapi, directory / "base.mbtiles"):
            from .raster import build_base

            build_base(engine, directory, options)
            report.timings["base"] = round(time.perf_counter() - t0, 3)
        with dbapi.transaction():
            dbapi.execute(_FORGET, dirty)
    report.dirty = len(dirty[0])
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _summarise(report: BuildReport, p: Plan, tiles: list[RenderedTile]) -> None:
    report.points = len(p.points)
    report.tiles = len(tiles)
    report.bytes = sum(len(t.data) for t in tiles)
    report.largest = max((len(t.data) for t in tiles), default=0)
    per_zoom: Counter[int] = Counter()
    for t in tiles:
        per_zoom[t.z] += t.features
    report.per_zoom = dict(sorted(per_zoom.items()))
    report.kept_per_zoom = kept_per_zoom(p)


def kept_per_zoom(p: Plan) -> dict[int, int]:
    """Distinct features per zoom (points kept, or clusters and single points)."""
    mz = p.points.max_zoom
    if p.minzoom is not None:
        counts = np.bincount(np.minimum(p.minzoom, mz + 1), minlength=mz + 2)[:mz + 1]
        return {z: int(v) for z, v in enumerate(np.cumsum(counts))}
    levels = p.levels or {}
    return {z: (len(p.points) if levels.get(z) is None else len(levels[z].key))
            for z in range(mz + 1)}


def _base_stale(dbapi: Any, path: Path) -> bool:
    """The base layer is missing or older than the last load of the boundaries."""
    loaded = dbapi.execute("SELECT extract(epoch FROM max(loaded_at)) FROM area").fetchone()[0]
    if loaded is None:
        return False
    return not path.exists() or path.stat().st_mtime < float(loaded)


def _generation(path: Path) -> int:
    if not path.exists():
        return 0
    with contextlib.suppress(Exception), MBTiles(path, readonly=True) as mb:
        return int(json.loads(mb.metadata().get("carte", "{}")).get("generation", 0))
    return 0


@contextlib.contextmanager
def _psycopg(engine: Engine) -> Iterator[Any]:
    """A pooled psycopg connection in autocommit: transactions are opened explicitly."""
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    try:
        dbapi.autocommit = True
        yield dbapi
    finally:
        with contextlib.suppress(Exception):
            dbapi.autocommit = False
        raw.close()


class PointCache:
    """The published points kept in memory by ``carte tiles watch``.

    Refreshed from the features updated since the oldest claimed dirty row (the same
    transaction marks the rows and stamps ``updated_at``), so that a watcher need not
    re-read a million rows to show one approval within a second; features that went
    over since the last refresh are dropped too (nothing updated them).

    ``expire_every`` (seconds) is how often :func:`build_incremental` looks for
    features that went over, when it is given this cache; ``checked`` is when it last
    did (``time.monotonic``).
    """

    def __init__(self, options: TileOptions, *, expire_every: float = 0.0) -> None:
        self.options = options
        self.points: PointSet | None = None
        self.as_of: datetime | None = None
        self.expire_every = expire_every
        self.checked: float | None = None

    def refresh(self, dbapi: Any, since: Any, *, now: datetime | None = None) -> PointSet:
        """The points live at ``now``: read in full the first time, by difference after."""
        now = now or datetime.now(UTC)
        if self.points is None or since is None or self.as_of is None:
            self.points = read_points(dbapi, self.options, now=now)
            self.as_of = now
            return self.points
        changed = [r[0] for r in dbapi.execute(
            "SELECT id FROM feature WHERE updated_at >= %s", (since,)).fetchall()]
        ended = [r[0] for r in dbapi.execute(_ENDED_IDS, _ended_params(self.as_of, now))]
        if changed or ended:
            added = read_points(dbapi, self.options, changed_since=since, now=now) \
                if changed else None
            gone = np.asarray(changed + ended, dtype=np.int64)
            self.points = self.points.replace(gone, added) if added is not None else \
                self.points.replace(gone, _empty_like(self.points))
        self.as_of = now
        return self.points


_ENDED_IDS = ENDED_BETWEEN_SQL.replace("ST_X(geom), ST_Y(geom)", "id")


def _ended_params(last: datetime, now: datetime) -> dict[str, datetime]:
    zone = city_zone()
    return {"last": last, "now": now, "last_day": local_midnight(last, zone),
            "now_day": local_midnight(now, zone)}


def _empty_like(points: PointSet) -> PointSet:
    return PointSet.from_arrays(ids=[], lon=[], lat=[], cat=[], titles=b"",
                                categories=points.categories, max_zoom=points.max_zoom)


_MARK = """
    INSERT INTO tile_dirty (z, x, y)
    SELECT * FROM unnest(%s::smallint[], %s::int[], %s::int[])
    ON CONFLICT (z, x, y) DO UPDATE SET marked_at = now()
"""


def mark_ended(dbapi: Any, last: datetime, now: datetime, *, max_zoom: int) -> int:
    """Queue the columns of the published features that went over in ``[last, now)``.

    Runs in the caller's transaction; returns how many features went over.
    """
    rows = dbapi.execute(ENDED_BETWEEN_SQL, _ended_params(last, now)).fetchall()
    tiles = sorted({t for lon, lat in rows for t in tiles_for_point(lon, lat,
                                                                   max_zoom=max_zoom)})
    if tiles:
        dbapi.execute(_MARK, ([t.z for t in tiles], [t.x for t in tiles],
                              [t.y for t in tiles]))
    return len(rows)


_CLAIM = """
    SELECT z, x, y, marked_at FROM tile_dirty
    ORDER BY marked_at LIMIT %s FOR UPDATE SKIP LOCKED
"""


def _affected(rows: list[tuple[int, int, int, Any]], max_zoom: int) -> dict[int, set[int]]:
    """Dirty tiles plus the neighbours whose buffer may show a change.

    Decisions change only inside the changed point's cell (1/16 of a tile for drop
    strides, 1/32 for clusters); the deepest dirty tiles locate the points, and a
    neighbour is rebuilt only when such a region lies along the shared edge or corner.
    A dirty tile with no deeper dirty tile inside it takes all 8 neighbours.
    """
    deepest = max(r[0] for r in rows)
    deep = [(x, y) for z, x, y, _ in rows if z == deepest]
    out: dict[int, set[int]] = {}
    band = 1 / (1 << STRIDE_CELL_BITS)  # >= a cluster cell and the 64-unit buffer
    for z, x, y, _ in rows:
        if z > max_zoom:
            continue
        n = 1 << z
        keys = out.setdefault(z, set())
        keys.add(int(tile_key(x, y)))
        shift = deepest - z
        inner = [(dx, dy) for dx, dy in deep if (dx >> shift, dy >> shift) == (x, y)] \
            if shift > 0 else []
        sides: set[tuple[int, int]] = set()
        if not inner:
            sides = {(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)}
        for dx, dy in inner:
            size = 1.0 / (1 << shift)  # the deep tile's side, in units of this tile
            fx, fy = (dx - (x << shift)) * size, (dy - (y << shift)) * size
            xs = [0] + ([-1] if fx < band else []) + ([1] if fx + size > 1 - band else [])
            ys = [0] + ([-1] if fy < band else []) + ([1] if fy + size > 1 - band else [])
            sides |= {(a, b) for a in xs for b in ys}
        for a, b in sides:
            if 0 <= x + a < n and 0 <= y + b < n:
                keys.add(int(tile_key(x + a, y + b)))
    return out


def build_incremental(engine: Engine, var_dir: Path, options: TileOptions, *,
                      cache: PointCache | None = None, limit: int = 50_000,
                      snapshot: bool = True, now: datetime | None = None) -> BuildReport:
    """Rebuild the tiles queued in ``tile_dirty`` (and their neighbours) in place.

    Features that went over since the archive's ``live_at`` are queued first (at most
    every ``cache.expire_every`` seconds with a watcher's cache, every time without),
    so an event leaves the tiles without anyone touching it. Without a live archive, a
    full build is made instead. A rebuilt tile over the size limit means the zoom must
    be thinned as a whole: a full build is made too.
    """
    t0 = time.perf_counter()
    now = now or datetime.now(UTC)
    directory = tiles_dir(var_dir)
    path = directory / FEATURES_MBTILES
    report = BuildReport(kind="incremental", mode=options.mode)
    if not path.exists():
        return build_full(engine, var_dir, options, now=now)
    try:
        return _incremental(engine, path, options, cache, limit, snapshot, report, t0, now)
    except _Rebuild as exc:
        log.info("%s: building in full", exc)
        if cache is not None:
            cache.points = None
        return build_full(engine, var_dir, options, now=now)


def _expiry_due(cache: PointCache | None) -> bool:
    if cache is None or cache.checked is None:
        return True
    return time.monotonic() - cache.checked >= cache.expire_every


def _live_at(carte: dict[str, Any], now: datetime) -> datetime:
    """The archive's ``live_at`` (an archive from before it: the last day is checked)."""
    try:
        return datetime.fromisoformat(carte["live_at"])
    except (KeyError, TypeError, ValueError):
        return now - timedelta(days=1)


def _incremental(engine: Engine, path: Path, options: TileOptions, cache: PointCache | None,
                 limit: int, snapshot: bool, report: BuildReport, t0: float,
                 now: datetime) -> BuildReport:
    directory = path.parent
    with build_lock(directory):
        with MBTiles(path, readonly=True) as mb:
            carte = json.loads(mb.metadata().get("carte", "{}"))
        if carte.get("mode") != options.mode or carte.get("max_zoom") != options.max_zoom:
            raise _Rebuild("options changed since the last full build")
        expire = _expiry_due(cache)
        with _psycopg(engine) as dbapi, dbapi.transaction():
            if expire:
                # Queued in this transaction: rolled back with it if the build fails,
                # and ``live_at`` moves only with the tiles that show it.
                ended = mark_ended(dbapi, _live_at(carte, now), now,
                                   max_zoom=options.max_zoom)
                report.ended = ended
                if cache is not None:
                    cache.checked = time.monotonic()
            rows = dbapi.execute(_CLAIM, (limit,)).fetchall()
            report.dirty = len(rows)
            if not rows:
                report.seconds = round(time.perf_counter() - t0, 3)
                return report
            since = min(r[3] for r in rows)
            cache = cache or PointCache(options)
            points = cache.refresh(dbapi, since, now=now)
            if tuple(carte.get("categories", ())) != points.categories:
                raise _Rebuild("the categories changed")
            report.timings["read"] = round(time.perf_counter() - t0, 3)
            factors = {int(k): float(v) for k, v in carte.get("factors", {}).items()}
            p = plan(points, options, factors=factors, cap=int(carte.get("cap") or 0)
                     or None)
            only = _affected(rows, options.max_zoom)
            tiles = list(render(p, zooms=sorted(only), only=only))
            if any(len(t.data) > options.max_tile_bytes for t in tiles):
                raise _Rebuild("a rebuilt tile is over the size limit")
            report.timings["render"] = round(time.perf_counter() - t0, 3)
            rendered = {(t.z, t.x, t.y) for t in tiles}
            with MBTiles(path) as mb, mb.transaction():
                for t in tiles:
                    mb.put(t.z, t.x, t.y, t.data)
                for z, keys in only.items():
                    for key in keys:
                        x, y = key >> 16, key & 0xFFFF
                        if (z, x, y) not in rendered:
                            mb.delete(z, x, y)
                            report.removed += 1
                mb.prune_images()
                carte["generation"] = int(carte.get("generation", 0)) + 1
                carte["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
                if expire:
                    carte["live_at"] = now.isoformat()
                mb.set_metadata({"carte": carte})
            dbapi.execute("DELETE FROM tile_dirty WHERE (z, x, y, marked_at) IN "
                          "(SELECT * FROM unnest(%s::smallint[], %s::int[], %s::int[], "
                          "%s::timestamptz[]))", tuple(map(list, zip(*rows, strict=True))))
        report.timings["mbtiles"] = round(time.perf_counter() - t0, 3)
        if snapshot:
            pmtiles_snapshot(path, directory / FEATURES_PMTILES)
    report.points = len(points)
    report.tiles = len(tiles)
    report.bytes = sum(len(t.data) for t in tiles)
    report.largest = max((len(t.data) for t in tiles), default=0)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


class _Rebuild(Exception):  # internal control flow, never escapes this module
    """Only a full build can be consistent (options, categories or a zoom's thinning)."""


def pending(engine: Engine) -> int:
    """Rows waiting in ``tile_dirty``."""
    with _psycopg(engine) as dbapi:
        return int(dbapi.execute("SELECT count(*) FROM tile_dirty").fetchone()[0])
