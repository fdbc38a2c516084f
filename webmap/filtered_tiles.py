"""The filter index behind the filtered tiles: loaded once per process, kept fresh.

PostgreSQL counting a z12 tile's cells took 0.56 s at 1M points without any filter
and 1.4 s with the profile filters (``bench/tiles_filtered.py``): per-row JSON
predicates and Mercator arithmetic over a third of the city. So each server process
keeps every published point with what the filters read in numpy arrays
(:class:`tiles.filtered.FilterIndex`, about 100 bytes a point) and builds a filtered
tile from the tile's Morton ranges in milliseconds.

Freshness: at most once a second, a request looks for features updated in the last
minute (one range scan of ``feature_updated_at_idx``) and merges those it has not seen
yet, in the background of that one request. Every change to a feature stamps
``updated_at`` (approvals, edits, unpublishing), so an approval reaches the filtered
tiles within about a second; an event that ends needs no refresh at all, since the
index keeps the dates and each request compares them with its own instant. Every 15
minutes the index is read again in full (a rebuild that also drops what a change
feed cannot show, such as rows deleted by hand).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from flask import Flask, current_app
from sqlalchemy import Engine

from geo.db import get_engine
from tiles.filtered import FilterIndex, PointFilter
from tiles.options import TileOptions
from tiles.source import read_filter_index

from .ogc.params import DAYS
from .ogc.queries import FeatureFilter

__all__ = ["IndexCache", "index_for", "point_filter"]

log = logging.getLogger(__name__)

REFRESH_S = 1.0
MARGIN = timedelta(seconds=60)  # a transaction committing this long after its now()
FULL_RELOAD_S = 15 * 60


def _us(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return round(moment.timestamp() * 1_000_000)


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def point_filter(flt: FeatureFilter) -> PointFilter:
    """The numpy twin of a request's :class:`FeatureFilter` (bbox and near do not apply)."""
    w = flt.window
    return PointFilter(
        categories=flt.categories,
        start=_us(w.start) if w else None, start_day=_us(w.start_day) if w else None,
        end=_us(w.end) if w else None,
        audiences=flt.audiences, accessible=flt.accessible,
        accessible_match=flt.accessible_match,
        days=tuple(DAYS.index(d) for d in flt.days) if flt.days is not None else None,
        hours=(_minutes(flt.hours[0]), _minutes(flt.hours[1])) if flt.hours else None)


class IndexCache:
    """One process's filter index, refreshed from ``updated_at``."""

    def __init__(self, engine: Engine, options: TileOptions) -> None:
        self.engine = engine
        self.options = options
        self.index: FilterIndex | None = None
        self.lock = threading.Lock()
        self.checked = 0.0
        self.loaded = 0.0
        self.since: datetime | None = None
        self.seen: dict[int, datetime] = {}

    def get(self) -> FilterIndex:
        """The current index: loaded on first use, refreshed at most every second.

        The periodic full reload runs on a thread of its own: requests keep the
        current index meanwhile (only the very first load is waited for).
        """
        if self.index is None:
            with self.lock:
                if self.index is None:
                    self._load()
        elif time.monotonic() - self.loaded >= FULL_RELOAD_S and self.lock.acquire(False):
            self.loaded = time.monotonic()  # one reload at a time

            def reload() -> None:
                try:
                    self._load()
                except Exception:  # the current index stays; the next period retries
                    log.exception("could not reload the filter index")
                finally:
                    self.lock.release()

            threading.Thread(target=reload, name="filter-index-reload", daemon=True).start()
        elif time.monotonic() - self.checked >= REFRESH_S and self.lock.acquire(False):
            try:
                self._refresh()
            finally:
                self.lock.release()
        assert self.index is not None
        return self.index

    def _transaction(self) -> Any:
        raw = self.engine.raw_connection()
        dbapi = raw.driver_connection
        dbapi.autocommit = True
        dbapi.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return raw, dbapi

    def _close(self, raw: Any, dbapi: Any) -> None:
        try:
            dbapi.execute("COMMIT")
        finally:
            dbapi.autocommit = False
            raw.close()

    def _load(self) -> None:
        raw, dbapi = self._transaction()
        try:
            db_now = dbapi.execute("SELECT now()").fetchone()[0]
            self.index = read_filter_index(dbapi, self.options)
        finally:
            self._close(raw, dbapi)
        self.since, self.seen = db_now - MARGIN, {}
        self.loaded = self.checked = time.monotonic()

    def _refresh(self) -> None:
        assert self.index is not None and self.since is not None
        raw, dbapi = self._transaction()
        try:
            db_now = dbapi.execute("SELECT now()").fetchone()[0]
            rows = dbapi.execute("SELECT id, updated_at FROM feature WHERE updated_at >= %s",
                                 (self.since,)).fetchall()
            fresh = [(i, u) for i, u in rows if self.seen.get(i) != u]
            if fresh:
                oldest = min(u for _, u in fresh)
                vocabs = (self.index.audience_vocab, self.index.access_vocab)
                added = read_filter_index(dbapi, self.options, changed_since=oldest,
                                          vocabs=vocabs)
                if added.points.categories != self.index.points.categories:
                    self._close(raw, dbapi)
                    raw = None
                    self._load()
                    return
                gone = [i for i, u in rows if u >= oldest]
                self.index = self.index.replace(np.asarray(gone, dtype=np.int64), added)
        finally:
            if raw is not None:
                self._close(raw, dbapi)
        self.seen = {i: u for i, u in {**self.seen, **dict(rows)}.items()
                     if u >= db_now - MARGIN}
        self.since = db_now - MARGIN
        self.checked = time.monotonic()


_LOCK = threading.Lock()


def index_for(max_zoom: int, app: Flask | None = None) -> FilterIndex:
    """The filter index of this app (one per process and app) at the archive's zoom."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get("filter_index")
    if cache is None or cache.options.max_zoom != max_zoom:
        with _LOCK:
            cache = app.extensions.get("filter_index")
            if cache is None or cache.options.max_zoom != max_zoom:
                options = replace(app.config["SETTINGS"].tiles, max_zoom=max_zoom)
                cache = IndexCache(get_engine(app.config["DATABASE_URL"]), options)
                app.extensions["filter_index"] = cache
    return cache.get()
