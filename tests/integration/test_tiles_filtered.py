"""Filtered point tiles: ``/tiles/features/{z}/{x}/{y}.mvt?<filters>``, built from PostGIS.

A map client draws them exactly as the archive's tiles (same layer, same properties,
same cluster grid), and what they hold is exactly the filtered set.
"""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from geo.tilemath import lonlat_to_tile
from tests.dbclean import empty_mutable_tables
from tests.tiles_fixtures import CATEGORIES, insert_features
from tiles.build import build_full
from tiles.options import TileOptions

SPOT = (2.3488, 48.8534)  # Hôtel de Ville
MAX_ZOOM = 14


@pytest.fixture(autouse=True)
def _leave_no_categories(engine):
    """Categories are reference data shared by the session: remove the tile tests' own."""
    yield
    with engine.begin() as conn:
        empty_mutable_tables(conn)
        conn.execute(text("DELETE FROM category WHERE slug = ANY(:slugs)"),
                     {"slugs": list(CATEGORIES)})


@pytest.fixture
def built(clean_db, var_dir):
    insert_features(clean_db, 3000)
    with clean_db.begin() as conn:
        # A third of the places say they have step-free access, a sixth that they have
        # not; the rest say nothing.
        conn.execute(text("""UPDATE feature SET attributes = CASE
            WHEN id % 3 = 0 THEN '{"accessibility": ["step_free_access", "seating"]}'::jsonb
            WHEN id % 6 = 1 THEN '{"accessibility_lacks": ["step_free_access"]}'::jsonb
            ELSE '{}'::jsonb END || CASE
            WHEN id % 5 = 0 THEN '{"audiences": ["families"]}'::jsonb
            WHEN id % 5 = 1 THEN '{"audiences": ["seniors"]}'::jsonb
            WHEN id % 5 = 2 THEN '{"availability": [{"day": "sat", "from": "10:00",
                                  "to": "12:00"}]}'::jsonb
            WHEN id % 5 = 3 THEN '{"hours": [{"day": "mon", "from": "09:00", "to": "17:00"},
                                  {"day": "sat", "from": "22:00", "to": "02:00"}]}'::jsonb
            ELSE '{}'::jsonb END,
            starts_at = CASE WHEN id % 7 = 0 THEN now() + (id % 11 - 5) * interval '1 day'
                             END,
            ends_at = CASE WHEN id % 14 = 0 THEN now() + (id % 11 - 5) * interval '1 day'
                                                 + interval '2 hours' END"""))
    build_full(clean_db, var_dir, TileOptions(max_zoom=MAX_ZOOM), density=False)
    return clean_db


def _address(z, lonlat=SPOT):
    x, y = lonlat_to_tile(*lonlat, z)
    return z, int(x), int(y)


def _get(client, z, query="", lonlat=SPOT, **headers):
    z, x, y = _address(z, lonlat)
    sep = "?" if query else ""
    return client.get(f"/tiles/features/{z}/{x}/{y}.mvt{sep}{query}",
                      headers={"Accept-Encoding": "gzip", **headers})


def _features(response) -> list[dict]:
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.data
    tile = mapbox_vector_tile.decode(gzip.decompress(response.data))
    assert set(tile) == {"features"} and tile["features"]["extent"] == 4096
    return tile["features"]["features"]


def _canon(features: list[dict]) -> list[tuple]:
    return sorted((f["geometry"]["coordinates"][0], f["geometry"]["coordinates"][1],
                   tuple(sorted(f["properties"].items()))) for f in features)


def _count(features: list[dict]) -> int:
    return sum(f["properties"].get("point_count", 1) for f in features)


@pytest.mark.parametrize("z", [8, 11, 12, 13, MAX_ZOOM])
def test_a_filter_that_keeps_everything_gives_the_archives_tile(client, built, z):
    archive = _features(_get(client, z))
    # Every slot is on some day of the week, and the window is the live one.
    filtered = _features(_get(client, z, "days=mon,tue,wed,thu,fri,sat,sun"))
    assert archive and _canon(filtered) == _canon(archive)


@pytest.mark.parametrize("z", [11, 13, MAX_ZOOM])
def test_the_tile_holds_exactly_the_filtered_set(client, built, z):
    with built.connect() as conn:
        known = set(conn.execute(text(
            "SELECT id FROM feature WHERE attributes -> 'accessibility' ? 'step_free_access'"
        )).scalars())
        unsuitable = set(conn.execute(text(
            "SELECT id FROM feature WHERE attributes -> 'accessibility_lacks' ? "
            "'step_free_access'")).scalars())
    everything = _features(_get(client, z))
    only_known = _features(_get(client, z, "accessible=step_free_access"))
    not_unsuitable = _features(_get(
        client, z, "accessible=step_free_access&accessible_match=not_unsuitable"))
    assert 0 < _count(only_known) < _count(not_unsuitable) < _count(everything)
    for f in only_known:
        if "cluster" not in f["properties"]:
            assert f["properties"]["id"] in known
    for f in not_unsuitable:
        if "cluster" not in f["properties"]:
            assert f["properties"]["id"] not in unsuitable
        else:  # the schema of the archive: counts per category that add up
            props = f["properties"]
            per_cat = sum(v for k, v in props.items() if k.startswith("count_"))
            assert per_cat == props["point_count"] > 1
            assert isinstance(props["point_count_abbreviated"], str)


@pytest.fixture
def soups(built):
    """An event category of this test's own, removed after it (categories are shared)."""
    with built.begin() as conn:
        conn.execute(text(
            "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon, position) "
            "VALUES ('soupe-filtre', 'event', 'Soupe', 'Soup', '#ef6c00', 'pot', 200)"))
    yield built
    with built.begin() as conn:
        conn.execute(text("DELETE FROM feature WHERE category = 'soupe-filtre'"))
        conn.execute(text("DELETE FROM category WHERE slug = 'soupe-filtre'"))


def test_ended_events_are_left_out_unless_the_window_asks_for_the_past(client, soups):
    now = datetime.now(UTC)
    with soups.begin() as conn:
        conn.execute(text(
            "INSERT INTO feature (category, title, geom, starts_at, ends_at) VALUES "
            "('soupe-filtre', 'Soupe passée', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :s, :e),"
            "('soupe-filtre', 'Soupe à venir', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :f, NULL)"
        ), {"x": SPOT[0], "y": SPOT[1], "s": now - timedelta(days=9),
            "e": now - timedelta(days=8), "f": now + timedelta(days=3)})
    titles = {f["properties"].get("title") for f in _features(
        _get(client, MAX_ZOOM, "category=soupe-filtre"))}
    assert titles == {"Soupe à venir"}
    past = (now - timedelta(days=10)).date().isoformat()
    titles = {f["properties"].get("title") for f in _features(
        _get(client, MAX_ZOOM, f"category=soupe-filtre&from={past}"))}
    assert titles == {"Soupe passée", "Soupe à venir"}
    week = (now + timedelta(days=1)).date().isoformat()
    titles = {f["properties"].get("title") for f in _features(
        _get(client, MAX_ZOOM, f"category=soupe-filtre&to={week}"))}
    assert titles == set()  # the coming soup is in three days


def test_answers_are_gzipped_cached_briefly_and_revalidated(client, built):
    response = _get(client, 12, "accessible=step_free_access")
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["Cache-Control"] == "public, max-age=30"
    etag = response.headers["ETag"]
    again = _get(client, 12, "accessible=step_free_access", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    plain = _get(client, 12, "accessible=step_free_access", **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert mapbox_vector_tile.decode(plain.data)["features"]["features"]
    # Nothing matches far from the features: an empty tile.
    assert _get(client, 12, "accessible=step_free_access", lonlat=(-70.0, -40.0)
                ).status_code == 204
    # Without a query string, the archive's own tile (its ETag is the stored tile's).
    assert _get(client, 12).headers["ETag"] != etag


@pytest.mark.parametrize(("query", "param"), [
    ("from=nan", "from"),
    ("from=9999-12-31T23:59:59-14:00", "from"),
    ("to=0001-01-01T00:00:00%2B14:00", "to"),
    ("from=2026-06-14&to=2026-06-13", "to"),
    ("hours=18:00-09:00", "hours"),
    ("hours=25:00-26:00", "hours"),
    ("days=mon,someday", "days"),
    ("category=jardin%00", "category"),
    ("accessible_match=maybe", "accessible_match"),
    ("near=2.35,48.85", "near"),  # the list's ordering, not a tile filter
    ("at=2026-06-13&from=2026-06-13", "at"),
])
def test_bad_filters_are_400_naming_the_parameter(client, built, query, param):
    response = _get(client, 12, query)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["invalid_params"][0]["name"] == param


def test_beyond_the_archives_zooms_is_404(client, built):
    assert _get(client, MAX_ZOOM + 1, "category=jardin-partage").status_code == 404


PARITY = [
    "audience=families",
    "audience=seniors,children",
    "accessible=step_free_access",
    "accessible=true",
    "accessible=step_free_access&accessible_match=not_unsuitable",
    "accessible=true&accessible_match=not_unsuitable",
    "days=sat",
    "hours=10:30-11:00",
    "days=sat&hours=23:00-23:30",
    "days=mon,tue&hours=08:00-09:30",
    "from=2000-01-01",
    "to=2000-01-01",
    "category=jardin-partage,fete-voisins&audience=families&days=sat",
]


@pytest.mark.parametrize("query", PARITY)
def test_the_tile_and_the_list_agree_on_every_filter(client, built, query):
    """The list (SQL) and the tiles (the in-memory index) are two engines of one
    meaning: inside a deepest-zoom tile they must hold exactly the same features."""
    z, x, y = _address(MAX_ZOOM, (2.33, 48.86))
    from geo.tilemath import tile_bounds_lonlat

    w, s, e, n = tile_bounds_lonlat(z, x, y)
    body = client.get(f"/api/v1/features?bbox={w},{s},{e},{n}&limit=10000&{query}"
                      ).get_json(force=True)
    listed = {f["id"] for f in body["features"]}
    response = client.get(f"/tiles/features/{z}/{x}/{y}.mvt?{query}",
                          headers={"Accept-Encoding": "gzip"})
    features = _features(response)
    tiled = {f["properties"]["id"] for f in features
             if 0 <= f["geometry"]["coordinates"][0] < 4096
             and 0 < f["geometry"]["coordinates"][1] <= 4096}
    assert tiled == listed


def test_an_approval_reaches_the_filtered_tiles_within_a_second(client, built):
    query = "accessible=hearing_loop"
    assert _get(client, MAX_ZOOM, query).status_code == 204  # nobody has one yet
    from sqlalchemy.orm import Session

    from geo.publish import FeatureDraft, publish_feature
    with Session(built) as session, session.begin():
        fid = publish_feature(session, FeatureDraft(
            category="jardin-partage", title="Jardin avec boucle magnétique",
            lon=SPOT[0], lat=SPOT[1], attributes={"accessibility": ["hearing_loop"]})).id
    deadline = time.monotonic() + 3
    while True:
        ids = {f["properties"].get("id") for f in _features(_get(client, MAX_ZOOM, query))}
        if fid in ids or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ids == {fid}


def test_the_periodic_full_reload_never_stops_the_answers(client, built, monkeypatch):
    import webmap.filtered_tiles as ft

    first = _get(client, 12, "accessible=step_free_access")
    monkeypatch.setattr(ft, "FULL_RELOAD_S", 0.0)  # every request wants a reload
    for _ in range(5):
        again = _get(client, 12, "accessible=step_free_access")
        assert again.status_code == 200 and again.headers["ETag"] == first.headers["ETag"]
    cache = client.application.extensions["filter_index"]
    assert cache.lock.acquire(timeout=10)  # the last reload finished and let go
    cache.lock.release()
