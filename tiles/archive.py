"""Tile archives: MBTiles (the live archive, updated in place), PMTiles snapshots, TileJSON.

MBTiles uses the deduplicated layout (``map`` + ``images`` behind a ``tiles`` view, as
MapTiler and mbutil write it): the image id is a content hash, so it doubles as the
HTTP ETag and identical tiles are stored once. A full build writes a new file next to
the old one and renames it over it; an incremental build changes tiles inside one
SQLite transaction. Either way a reader — or a build killed at any instant — only ever
sees a whole archive.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer as PMTilesWriter

from .errors import ArchiveError, ArchiveMissing

__all__ = [
    "MBTiles",
    "atomic_path",
    "content_id",
    "pmtiles_snapshot",
    "tilejson",
    "write_all",
]

_SCHEMA = """
CREATE TABLE metadata (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE map (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_id TEXT,
                  PRIMARY KEY (zoom_level, tile_column, tile_row)) WITHOUT ROWID;
CREATE TABLE images (tile_id TEXT PRIMARY KEY, tile_data BLOB) WITHOUT ROWID;
CREATE VIEW tiles AS
  SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column,
         map.tile_row AS tile_row, images.tile_data AS tile_data
  FROM map JOIN images ON images.tile_id = map.tile_id;
"""


def content_id(data: bytes) -> str:
    """Content hash of a tile: its image id and its ETag."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary sibling of ``path``, renamed over it only if the block succeeds.

    The rename is atomic on POSIX: a reader, or a process killed at any moment, sees
    the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    finally:
        tmp.unlink(missing_ok=True)


class MBTiles:
    """An MBTiles 1.3 archive (XYZ in the API, TMS rows on disk, as the spec says)."""

    def __init__(self, path: Path, *, create: bool = False, readonly: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise ArchiveMissing(f"{self.path.name} has not been built yet")
        try:
            if readonly:
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                            check_same_thread=False)
            else:
                self.conn = sqlite3.connect(self.path, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode=DELETE")
            if create:
                self.conn.execute("PRAGMA synchronous=OFF")  # fsynced before the rename
                self.conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot open {self.path.name}: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> MBTiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[MBTiles]:
        """One SQLite transaction: every change inside is applied together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def put(self, z: int, x: int, y: int, data: bytes) -> None:
        """Store (or replace) tile z/x/y."""
        tid = content_id(data)
        self.conn.execute("INSERT OR IGNORE INTO images (tile_id, tile_data) VALUES (?, ?)",
                          (tid, data))
        self.conn.execute("INSERT OR REPLACE INTO map VALUES (?, ?, ?, ?)",
                          (z, x, (1 << z) - 1 - y, tid))

    def delete(self, z: int, x: int, y: int) -> None:
        """Remove tile z/x/y (it became empty)."""
        self.conn.execute("DELETE FROM map WHERE zoom_level = ? AND tile_column = ? "
                          "AND tile_row = ?", (z, x, (1 << z) - 1 - y))

    def prune_images(self) -> None:
        """Drop images no tile points to any more."""
        self.conn.execute("DELETE FROM images WHERE tile_id NOT IN "
                          "(SELECT DISTINCT tile_id FROM map)")

    def get(self, z: int, x: int, y: int) -> tuple[bytes, str] | None:
        """Tile bytes and content id, or ``None`` when the tile is empty."""
        row = self.conn.execute(
            "SELECT images.tile_data, map.tile_id FROM map JOIN images USING (tile_id) "
            "WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (1 << z) - 1 - y)).fetchone()
        return (row[0], row[1]) if row else None

    def keys(self, z: int | None = None) -> set[tuple[int, int, int]]:
        """Addresses (z, x, y) of the stored tiles, of one zoom or all."""
        sql = "SELECT zoom_level, tile_column, tile_row FROM map"
        rows = self.conn.execute(sql + " WHERE zoom_level = ?", (z,)) if z is not None \
            else self.conn.execute(sql)
        return {(zz, x, (1 << zz) - 1 - r) for zz, x, r in rows}

    def all_tiles(self) -> Iterator[tuple[int, int, int, bytes]]:
        """Every tile as (z, x, y, data)."""
        for z, x, r, data in self.conn.execute("SELECT zoom_level, tile_column, tile_row, "
                                               "tile_data FROM tiles"):
            yield z, x, (1 << z) - 1 - r, data

    def set_metadata(self, values: Mapping[str, Any]) -> None:
        """Write metadata rows (non-strings as JSON)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO metadata (name, value) VALUES (?, ?)",
            [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()])

    def metadata(self) -> dict[str, str]:
        """Every metadata row."""
        return dict(self.conn.execute("SELECT name, value FROM metadata").fetchall())


def pmtiles_snapshot(mbtiles: Path, target: Path, *, tile_type: str = "pbf") -> int:
    """Write a PMTiles v3 copy of ``mbtiles`` atomically; returns the number of tiles.

    An empty archive removes the snapshot (PMTiles has no empty form).
    """
    with MBTiles(mbtiles, readonly=True) as src:
        meta = src.metadata()
        entries = sorted((zxy_to_tileid(z, x, y), data) for z, x, y, data in src.all_tiles())
    if not entries:
        # PMTiles cannot be empty; an old snapshot must not outlive what it showed.
        target.unlink(missing_ok=True)
        return 0
    west, south, east, north = (float(v) for v in meta["bounds"].split(","))
    clon, clat, czoom = (float(v) for v in meta["center"].split(","))
    header = {
        "tile_type": TileType.MVT if tile_type == "pbf" else TileType.PNG,
        "tile_compression": Compression.GZIP if tile_type == "pbf" else Compression.NONE,
        "min_lon_e7": int(west * 1e7), "min_lat_e7": int(south * 1e7),
        "max_lon_e7": int(east * 1e7), "max_lat_e7": int(north * 1e7),
        "center_zoom": int(czoom), "center_lon_e7": int(clon * 1e7),
        "center_lat_e7": int(clat * 1e7),
    }
    metadata: dict[str, Any] = {k: v for k, v in meta.items() if k not in ("json",)}
    if "json" in meta:
        metadata.update(json.loads(meta["json"]))
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        writer = PMTilesWriter(f)
        for tid, data in entries:
            writer.write_tile(tid, data)
        writer.finalize(header, metadata)
    return len(entries)


def tilejson(meta: Mapping[str, str], *, tiles_url: str) -> dict[str, Any]:
    """TileJSON 3.0.0 of an archive's metadata."""
    body: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": meta.get("name", ""),
        "description": meta.get("description", ""),
        "version": meta.get("version", "1.0.0"),
        "attribution": meta.get("attribution", ""),
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": int(meta.get("minzoom", 0)),
        "maxzoom": int(meta.get("maxzoom", 0)),
    }
    if meta.get("bounds"):
        body["bounds"] = [float(v) for v in meta["bounds"].split(",")]
    if meta.get("center"):
        body["center"] = [float(v) for v in meta["center"].split(",")]
        body["center"][2] = int(body["center"][2])
    if meta.get("json"):
        body["vector_layers"] = json.loads(meta["json"]).get("vector_layers", [])
    return body


def write_all(path: Path, tiles: Iterable[tuple[int, int, int, bytes]],
              metadata: Mapping[str, Any]) -> int:
    """A new MBTiles at ``path`` (atomically) holding ``tiles``; returns the tile count."""
    n = 0
    with atomic_path(path) as tmp, MBTiles(tmp, create=True) as mb, mb.transaction():
        for z, x, y, data in tiles:
            mb.put(z, x, y, data)
            n += 1
        mb.set_metadata(metadata)
    return n
