"""Events leave the live map when they are over, by themselves: API, archive tiles, walk.

Nobody edits, unpublishes or marks anything: the clock passes an event's end, and the
next incremental tile build (as ``carte tiles watch`` runs it) re-renders its tiles.
The OGC API and its history keep the event with its dates.
"""

from __future__ import annotations

import gzip
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mapbox_vector_tile
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from geo.tilemath import lonlat_to_tile
from tests.dbclean import empty_mutable_tables
from tests.tiles_fixtures import CATEGORIES, ensure_categories, insert_features
from tiles.build import PointCache, build_full, build_incremental
from tiles.options import TileOptions

SPOT = (2.3522, 48.8566)  # Hôtel de Ville
NEAR = (2.3530, 48.8570)
OPTIONS = TileOptions(max_zoom=14, processes=1)


@pytest.fixture(autouse=True)
def _leave_no_categories(engine):
    """Categories are reference data shared by the session: remove the tile tests' own."""
    yield
    with engine.begin() as conn:
        empty_mutable_tables(conn)
        conn.execute(text("DELETE FROM category WHERE slug = ANY(:slugs)"),
                     {"slugs": list(CATEGORIES)})


def _publish(engine, title: str, lonlat=SPOT, **dates) -> int:
    ensure_categories(engine)
    with Session(engine) as session, session.begin():
        return publish_feature(session, FeatureDraft(
            category=CATEGORIES[1], title=title, lon=lonlat[0], lat=lonlat[1],
            **dates)).id


def _ids_in_tile(var_dir: Path, z: int, lonlat=SPOT) -> set[int]:
    x, y = (int(v) for v in lonlat_to_tile(*lonlat, z))
    with sqlite3.connect(var_dir / "tiles" / "features.mbtiles") as db:
        row = db.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ?"
                         " AND tile_row = ?", (z, x, (1 << z) - 1 - y)).fetchone()
    if row is None:
        return set()
    layer = mapbox_vector_tile.decode(gzip.decompress(row[0]))["features"]
    return {f["properties"]["id"] for f in layer["features"]
            if "cluster" not in f["properties"]}


def _wait_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.05)


def test_an_event_that_ends_leaves_the_tiles_at_the_next_incremental_build(clean_db, var_dir):
    insert_features(clean_db, 200)
    soon = datetime.now(UTC) + timedelta(seconds=2)
    ending = _publish(clean_db, "Disco Soupe qui finit", starts_at=soon - timedelta(hours=2),
                      ends_at=soon)
    future = _publish(clean_db, "Fête de demain", NEAR,
                      starts_at=datetime.now(UTC) + timedelta(days=1))
    over = _publish(clean_db, "Fête d'hier", NEAR, starts_at=datetime.now(UTC) - timedelta(days=3),
                    ends_at=datetime.now(UTC) - timedelta(days=2))
    build_full(clean_db, var_dir, OPTIONS, density=False)
    shown = _ids_in_tile(var_dir, 14)
    assert {ending, future} <= shown
    assert over not in shown  # a full build leaves out what is already over
    _wait_until(soon)
    with clean_db.connect() as conn:  # nothing queued by anybody
        assert conn.execute(text("SELECT count(*) FROM tile_dirty")).scalar_one() == 0
    report = build_incremental(clean_db, var_dir, OPTIONS)
    assert report.kind == "incremental" and report.ended == 1
    assert report.dirty == OPTIONS.max_zoom + 1  # its column, z0..z14
    for z in (14, 12):
        ids = _ids_in_tile(var_dir, z)
        assert ending not in ids and future in ids
    # Nothing else ended: the next build has nothing to do.
    assert build_incremental(clean_db, var_dir, OPTIONS).dirty == 0


def test_the_watchers_point_cache_drops_events_that_end(clean_db, var_dir):
    """``carte tiles watch`` keeps the points in memory and refreshes only what changed:
    an event that ends was not updated, and must still leave the cache and the tiles."""
    insert_features(clean_db, 100)
    t0 = datetime.now(UTC)
    event = _publish(clean_db, "Atelier vélo", starts_at=t0 - timedelta(hours=1),
                     ends_at=t0 + timedelta(minutes=30))
    build_full(clean_db, var_dir, OPTIONS, density=False, now=t0)
    cache = PointCache(OPTIONS, expire_every=30)
    # A resident's approval elsewhere warms the cache, as in a running watcher.
    other = _publish(clean_db, "Jardin neuf", (2.30, 48.87))
    build_incremental(clean_db, var_dir, OPTIONS, cache=cache, now=t0 + timedelta(minutes=1))
    assert cache.points is not None and event in set(cache.points.ids.tolist())
    assert other in _ids_in_tile(var_dir, 14, (2.30, 48.87))
    # Within the rate limit, the watcher does not look for ended events...
    later = t0 + timedelta(hours=1)
    assert build_incremental(clean_db, var_dir, OPTIONS, cache=cache, now=later).ended == 0
    assert event in _ids_in_tile(var_dir, 14)
    # ...and once it is due, it finds the event and re-renders its column.
    cache.checked = time.monotonic() - 31
    report = build_incremental(clean_db, var_dir, OPTIONS, cache=cache, now=later)
    assert report.ended == 1
    assert event not in set(cache.points.ids.tolist())
    assert event not in _ids_in_tile(var_dir, 14) and event not in _ids_in_tile(var_dir, 10)


def test_an_event_without_end_lasts_until_local_midnight(clean_db, var_dir):
    # 22:30 UTC on 12 June is 00:30 on the 13th in Paris: an event that started at
    # 10:00 Paris time on the 12th is over; at 21:30 UTC (23:30 Paris) it was not.
    start = datetime(2026, 6, 12, 8, tzinfo=UTC)
    event = _publish(clean_db, "Disco Soupe du samedi", starts_at=start)
    build_full(clean_db, var_dir, OPTIONS, density=False, now=datetime(2026, 6, 12, 21, 30,
                                                                      tzinfo=UTC))
    assert event in _ids_in_tile(var_dir, 14)
    report = build_incremental(clean_db, var_dir, OPTIONS,
                               now=datetime(2026, 6, 12, 22, 30, tzinfo=UTC))
    assert report.ended == 1 and event not in _ids_in_tile(var_dir, 14)


@pytest.fixture
def events(clean_db):
    now = datetime.now(UTC)
    ids = {
        "past": _publish(clean_db, "Disco Soupe passée", starts_at=now - timedelta(days=20),
                         ends_at=now - timedelta(days=20) + timedelta(hours=4)),
        "future": _publish(clean_db, "Disco Soupe à venir", NEAR,
                           starts_at=now + timedelta(days=2)),
        "running": _publish(clean_db, "Disco Soupe en cours", NEAR,
                            starts_at=now - timedelta(hours=1),
                            ends_at=now + timedelta(hours=1)),
    }
    return ids


def test_the_live_api_and_the_walk_leave_out_ended_events_and_ogc_keeps_them(client, events):
    body = client.get("/api/v1/features").get_json(force=True)
    ids = {f["id"] for f in body["features"]}
    assert events["past"] not in ids and {events["future"], events["running"]} <= ids
    body = client.get("/ogc/collections/features/items?limit=100").get_json(force=True)
    ogc = {f["id"]: f for f in body["features"]}
    assert events["past"] in ogc and ogc[events["past"]]["properties"]["ends_at"]
    walk = client.get(f"/api/v1/walk?lon={SPOT[0]}&lat={SPOT[1]}&minutes=60").get_json()
    stops = {s["id"] for s in walk["stops"]}
    assert events["past"] not in stops and events["running"] in stops
    # A walk two days from now finds the future event, not the one running today.
    at = (datetime.now(UTC) + timedelta(days=2, minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    walk = client.get(f"/api/v1/walk?lon={SPOT[0]}&lat={SPOT[1]}&minutes=60&at={at}")
    stops = {s["id"] for s in walk.get_json()["stops"]}
    assert events["future"] in stops and events["running"] not in stops
