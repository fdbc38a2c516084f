"""Search (features, areas, Paris addresses) and "Ma balade" over a real PostGIS."""

from __future__ import annotations

import pytest

from geo.city import load_city
from geo.geocode import address_file, load_index
from tests.map_fixtures import drop_map_data, seed_map_features


@pytest.fixture
def ids(clean_db):
    yield seed_map_features(clean_db)
    drop_map_data(clean_db)


def test_search_finds_our_features_areas_and_addresses(client, ids):
    load_index(address_file(load_city("paris")))  # built after the first page view
    body = client.get("/api/v1/search?q=merri").get_json()
    assert [f["title"] for f in body["features"]] == ["Jardin Saint-Merri"]
    assert body["features"][0]["id"] == ids["merri"]
    assert body["areas"][0]["name"] == "Saint-Merri"  # the quartier of the 4th
    assert len(body["areas"][0]["bbox"]) == 4
    body = client.get("/api/v1/search?q=12 rue de rivoli").get_json()
    assert body["addresses"][0]["label"] == "12 Rue de Rivoli, 75004 Paris"
    assert body["addresses"][0]["lon"] == pytest.approx(2.35995)


def test_search_never_returns_unpublished_features_nor_personal_data(client, clean_db, ids):
    from sqlalchemy import text

    with clean_db.begin() as conn:
        conn.execute(text("UPDATE feature SET status = 'unpublished' WHERE id = :i"),
                     {"i": ids["merri"]})
    body = client.get("/api/v1/search?q=merri").get_json()
    assert body["features"] == []
    assert set(client.get("/api/v1/search?q=soupe").get_json()["features"][0]) == {
        "id", "title", "category", "lon", "lat", "arrondissement", "arrondissement_name",
        "quartier_name", "category_label", "label", "areas"}


def test_search_treats_like_wildcards_as_text_and_refuses_long_queries(client, ids):
    assert client.get("/api/v1/search?q=%25%25").get_json()["features"] == []
    assert client.get("/api/v1/search?q=a").get_json() == {
        "features": [], "areas": [], "addresses": []}
    response = client.get("/api/v1/search?q=" + "x" * 101)
    assert response.status_code == 400
    assert response.get_json()["invalid_params"][0]["name"] == "q"


def test_walk_orders_nearby_places_and_leaves_out_past_events_and_far_places(client, ids):
    response = client.get("/api/v1/walk?lon=2.3522&lat=48.8566&minutes=60"
                          "&category=jardin-map,soupe-map")
    assert response.status_code == 200
    walk = response.get_json()
    got = [s["id"] for s in walk["stops"]]
    assert ids["past"] not in got  # yesterday's soup is over
    assert ids["far"] not in got  # Belleville is beyond a 60-minute walk with stops
    assert set(got) == {ids["merri"], ids["nasty"], ids["soupe"]}
    assert walk["minutes"] <= 60
    assert walk["line"]["coordinates"][0] == [2.3522, 48.8566]
    assert len(walk["line"]["coordinates"]) == len(got) + 1
    assert [s["arrive_min"] for s in walk["stops"]] == sorted(s["arrive_min"]
                                                              for s in walk["stops"])


def test_walk_keeps_to_the_asked_categories(client, ids):
    walk = client.get("/api/v1/walk?lon=2.3522&lat=48.8566&minutes=60&category=soupe-map")
    assert [s["id"] for s in walk.get_json()["stops"]] == [ids["soupe"]]


@pytest.mark.parametrize(("query", "field"), [
    ("lat=48.85&minutes=60", "lon"),
    ("lon=2.35&lat=nan&minutes=60", "lat"),
    ("lon=2.35&lat=48.85&minutes=100000", "minutes"),
    ("lon=2.35&lat=48.85&minutes=60&at=tomorrow", "at"),
])
def test_walk_names_the_bad_parameter(client, engine, query, field):
    response = client.get("/api/v1/walk?" + query)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["invalid_params"][0]["name"] == field
