"""``carte tiles build [--full] [--basemap]`` and ``carte tiles watch``: the tile commands."""

from __future__ import annotations

import logging
import time

import click
import psycopg
from sqlalchemy.exc import DBAPIError

from geo.config import var_dir
from geo.db import get_engine
from geo.errors import GeoError
from tiles.errors import TilesError

from .options import echo_json, fail

__all__ = ["tiles"]

log = logging.getLogger(__name__)


def _options(mode: str | None, max_zoom: int | None):
    from ..settings import Settings  # CARTE_TILES_* and the city, read once

    try:
        return Settings.from_env(derive=False).tile_options(mode=mode, max_zoom=max_zoom)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


_mode = click.option("--mode", type=click.Choice(["cluster", "drop"]), default=None,
                     help="low-zoom generalisation [default: $CARTE_TILES_MODE or cluster]")
_max_zoom = click.option("--max-zoom", type=click.IntRange(0, 16), default=None,
                         help="deepest zoom [default: $CARTE_TILES_MAX_ZOOM or 16]")


@click.group("tiles")
def tiles() -> None:
    """Build the vector and raster tiles of the published map."""


def build_basemap_if_changed(*, force: bool = False) -> dict[str, object]:
    """Build the city's basemap when its sources changed (or ``force``); report as a dict.

    The basemap needs no database: it is built first, so a database that is down does
    not leave the map without streets. A city without basemap sources builds nothing.
    """
    from geo.city import load_city
    from tiles.basemap import build_basemap

    return build_basemap(load_city(check_files=False), var_dir(), force=force).as_dict()


@tiles.command("build")
@click.option("--full", is_flag=True, help="rebuild every tile, not only the dirty ones")
@click.option("--basemap", "force_basemap", is_flag=True,
              help="rebuild the basemap even if its sources have not changed")
@_mode
@_max_zoom
def build(full: bool, force_basemap: bool, mode: str | None, max_zoom: int | None) -> None:
    """Render the tiles: all of them with --full, else those queued in tile_dirty.

    The basemap is rebuilt when its source files (or the builder) changed since the
    archive was written, or always with --basemap.
    """
    from tiles.build import build_full, build_incremental

    options = _options(mode, max_zoom)
    basemap_error: TilesError | None = None
    try:
        basemap = build_basemap_if_changed(force=force_basemap)
    except TilesError as exc:  # a broken source must not stop the points' tiles
        basemap_error, basemap = exc, {"built": False, "error": str(exc)}
    try:
        engine = get_engine()
        if full:
            report = build_full(engine, var_dir(), options)
        else:
            report = build_incremental(engine, var_dir(), options)
    except (TilesError, GeoError) as exc:
        raise fail(exc) from exc
    echo_json({**report.as_dict(), "basemap": basemap})
    if basemap_error is not None:
        raise fail(basemap_error)


@tiles.command("watch")
@click.option("--interval", type=click.FloatRange(0.05, 60), default=0.2, show_default=True,
              help="seconds between polls of the dirty-tile queue")
@click.option("--snapshot-every", type=click.FloatRange(0, 3600), default=30,
              show_default=True, help="seconds between PMTiles snapshots (0: after each)")
@click.option("--once", is_flag=True, hidden=True, help="stop after the first rebuild")
@click.option("--expire-every", type=click.FloatRange(0, 3600), default=30, show_default=True,
              help="seconds between looks for events that are over (their tiles rebuilt)")
@_mode
@_max_zoom
def watch(interval: float, snapshot_every: float, once: bool, expire_every: float,
          mode: str | None, max_zoom: int | None) -> None:
    """Keep the tiles up to date: rebuild what the dirty-tile queue names, until Ctrl-C."""
    from tiles.archive import pmtiles_snapshot
    from tiles.build import (
        FEATURES_MBTILES,
        FEATURES_PMTILES,
        PointCache,
        build_incremental,
        tiles_dir,
    )

    options = _options(mode, max_zoom)
    engine = get_engine()
    cache = PointCache(options, expire_every=expire_every)
    directory = tiles_dir(var_dir())
    last_snapshot = time.monotonic()
    stale = False
    echo_json({"watching": str(directory), "interval": interval})
    try:
        while True:
            try:
                report = build_incremental(engine, var_dir(), options, cache=cache,
                                           snapshot=snapshot_every == 0)
            except (TilesError, GeoError, DBAPIError, psycopg.Error) as exc:
                # The database restarting must not end the watcher: retry shortly.
                log.error("tile build failed: %s", exc)
                cache.points = None
                time.sleep(max(interval, 1.0))
                continue
            if report.dirty or report.kind == "full":
                echo_json(report.as_dict())
                stale = report.kind != "full" and snapshot_every > 0
                if once:
                    break
            if stale and time.monotonic() - last_snapshot >= snapshot_every:
                pmtiles_snapshot(directory / FEATURES_MBTILES, directory / FEATURES_PMTILES)
                last_snapshot, stale = time.monotonic(), False
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        if stale:
            pmtiles_snapshot(directory / FEATURES_MBTILES, directory / FEATURES_PMTILES)
