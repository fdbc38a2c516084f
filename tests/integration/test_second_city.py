"""A second city proves that a city is configuration: nothing of Paris leaks into it.

``tests/data/cities/lyonnaise/`` is synthetic: another CRS (EPSG:3946), another time
zone (Europe/Zurich), English first, one level of three districts, three gardens as its
seed, two addresses, no basemap. It gets its own database in the session's cluster,
loaded the way ``carte demo`` loads Paris (areas, categories, seed), and the app runs
with ``CARTE_CITY=lyonnaise``: a resident submits, a moderator approves, the tiles are
built, and the page, OGC API, exports, search and walk answer — with the city's own
names, bounds, zone and attribution, and no Paris anywhere.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mapbox_vector_tile
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.areas import load_areas
from geo.city import City, load_city
from geo.tilemath import lonlat_to_tile
from tests.city_fixtures import TEST_DATA, city_database, city_environment

LYONNAISE = TEST_DATA / "cities" / "lyonnaise"
PARIS_WORDS = ("Paris", "paris", "arrondissement", "quartier", "75056", "Europe/Paris",
               "Ville de Paris", "2.35", "48.8")
GARDEN = (4.83, 45.76)  # in district LY2, "Rive gauche"


@pytest.fixture(scope="module")
def city_env() -> Iterator[City]:
    """``CARTE_CITY=lyonnaise`` with the tests' data folder, for this module only."""
    with city_environment("lyonnaise") as city:
        yield city


@pytest.fixture(scope="module")
def city_db(cluster, city_env: City) -> Iterator[tuple[str, Engine]]:
    """A database of its own, loaded as ``carte demo`` loads a city."""
    from ingestion.seed import load_seed

    with city_database(cluster, "carte_lyonnaise") as eng:
        url = eng.url.render_as_string(hide_password=False)
        with Session(eng) as session, session.begin():
            report = load_areas(session, city_env)
            assert report.as_dict() == {"city": 1, "districts": 3}
            summaries = load_seed(session, city_env)
            assert [(s.source, s.published) for s in summaries] == [("lyonnaise-gardens", 3)]
        yield url, eng


@pytest.fixture(scope="module")
def city_var(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lyonnaise-var")


@pytest.fixture(scope="module")
def city_app(city_db, city_var: Path, city_env: City):
    from webmap import create_app

    url, _ = city_db
    app = create_app({"TESTING": True, "DATABASE_URL": url, "VAR_DIR": city_var,
                      "SECRET_KEY": "test-secret-key", "INGEST_RATE_LIMIT": "1000/60"})
    assert app.config["CITY"].slug == "lyonnaise"
    return app


@pytest.fixture(scope="module")
def published(city_app, city_db) -> int:
    """A resident's garden, submitted through the API and approved by a moderator."""
    from moderation.actions import approve

    _, eng = city_db
    client = city_app.test_client()
    response = client.post("/api/v1/submissions", json={
        "lon": GARDEN[0], "lat": GARDEN[1], "title": "Riverside herb garden",
        "description": "Herbs along the river, open to all.",
        "category": "community-garden", "email": "resident@example.org"})
    assert response.status_code in (201, 202), response.get_data(as_text=True)
    with eng.begin() as conn:
        sub_id, version, status, arr, quartier = conn.execute(text(
            "SELECT s.id, s.version, s.status::text, a.code, s.area_ids[2] FROM submission s "
            "LEFT JOIN area a ON a.id = s.area_ids[1] "
            "WHERE s.title = 'Riverside herb garden'")).one()
        assert (status, arr, quartier) == ("pending", "LY2", None)  # its district, one level
        actor = conn.execute(text(
            "INSERT INTO app_user (email, password_hash, role) VALUES "
            "('mod@lyonnaise.example', '$argon2id$v=19$m=1,t=1,p=1$x$y', 'moderator') "
            "RETURNING id")).scalar_one()
    with Session(eng) as session, session.begin():
        return approve(session, sub_id, version, actor_id=actor)


def _values(doc):
    if isinstance(doc, dict):
        return [_values(v) for v in doc.values()]
    if isinstance(doc, list):
        return [_values(v) for v in doc]
    return doc


def _no_paris(body: str, where: str) -> None:
    found = [w for w in PARIS_WORDS if w in body]
    assert found == [], f"{where} mentions {found}"


def test_the_city_loads_with_its_own_level(city_db):
    _, eng = city_db
    with eng.connect() as conn:
        rows = conn.execute(text("SELECT kind, depth, code FROM area ORDER BY code")).all()
    assert rows == [("city", 0, "LY"), ("district", 1, "LY1"), ("district", 1, "LY2"),
                    ("district", 1, "LY3")]


def test_the_page_is_the_city_s(city_app, city_env):
    client = city_app.test_client()
    page = client.get("/", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<title>Citizen map — Lyonnaise (synthetic test city)</title>" in html
    data = json.loads(html.split('id="map-data"', 1)[1].split(">", 1)[1].split("</script>")[0]) \
        if 'id="map-data"' in html else None
    if data is not None:
        assert data["timezone"] == "Europe/Zurich"
        assert {q["name"] for q in data["quartiers"]} == {"Presqu'île", "Rive gauche", "Colline"}
    script = client.get(next(p for p in html.split('"') if p.startswith("/map/carte.")))
    body = script.get_data(as_text=True)
    assert "45.76" in body and "4.835" in body  # the map opens on the city's centre
    _no_paris(body, "the map script")
    assert client.get("/tiles/basemap.json").status_code == 404  # no basemap data
    form = client.get("/submit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "(4.835)" in form and "(45.76)" in form  # the example point is the city's
    _no_paris(form, "the submission form")


def test_submit_approve_then_ogc_items_name_the_district(city_app, published):
    client = city_app.test_client()
    doc = client.get(f"/ogc/collections/features/items/{published}").get_json()
    props = doc["properties"]
    assert props["district"] == "LY2" and props["district_name"] == "Rive gauche"
    assert not {"arrondissement", "arrondissement_name", "quartier", "quartier_name"} & set(props)
    collections = client.get("/ogc/collections").get_data(as_text=True)
    assert "3 districts" in collections
    _no_paris(collections, "OGC collections")
    page = client.get("/ogc/collections/features/items?limit=10")
    assert page.status_code == 200
    assert {f["properties"]["title"] for f in page.get_json()["features"]} >= {
        "Riverside herb garden", "Hill garden"}
    _no_paris(page.get_data(as_text=True), "OGC items")
    api = client.get("/api/v1/features?bbox=4.77,45.7,4.9,45.81").get_json()
    assert any(f["properties"]["district_name"] == "Rive gauche" for f in api["features"])


def test_exports_carry_the_city_s_columns(city_db, published, tmp_path):
    from opendata.exports import run_export

    _, eng = city_db
    city = load_city()
    manifest = run_export(eng, tmp_path, formats=("csv", "geojson"), per_category=False,
                          levels=city.levels)
    assert manifest["state"]["published"] == 4
    rows = list(csv.DictReader(io.StringIO((tmp_path / "features.csv").read_text())))
    assert list(rows[0])[9:11] == ["district", "district_name"]
    assert {r["district_name"] for r in rows} == {"Presqu'île", "Rive gauche", "Colline"}
    geojson = (tmp_path / "features.geojson").read_text()
    _no_paris(geojson, "the GeoJSON export")
    _no_paris((tmp_path / "features.csv").read_text(), "the CSV export")


def test_tiles_are_built_and_hold_the_approved_garden(city_app, city_db, city_var, published):
    from tiles.build import build_full
    from tiles.options import TileOptions

    _, eng = city_db
    options = TileOptions.from_env(max_zoom=14, processes=1)
    assert options.bounds == (4.77, 45.7, 4.9, 45.81)
    assert "Paris" not in options.attribution and "Synthetic test data" in options.attribution
    build_full(eng, city_var, options, density=False)
    x, y = lonlat_to_tile(*GARDEN, 14)
    response = city_app.test_client().get(f"/tiles/features/14/{int(x)}/{int(y)}.mvt")
    assert response.status_code == 200
    raw = response.data
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    tile = mapbox_vector_tile.decode(raw)
    titles = {f["properties"].get("title") for f in tile["features"]["features"]}
    assert "Riverside herb garden" in titles
    meta = city_app.test_client().get("/tiles/features.json").get_json()
    west, south, east, north = meta["bounds"]
    assert 4.7 < west < east < 4.95 and 45.6 < south < north < 45.9
    _no_paris(json.dumps(meta), "the features TileJSON")


def test_search_reads_the_city_s_addresses_and_areas(city_app, published):
    from geo.geocode import address_file, load_index

    load_index(address_file(load_city()))  # as after the first page view
    body = city_app.test_client().get("/api/v1/search?q=hill").get_json()
    assert [a["label"] for a in body["addresses"]][:1] and \
        "Hill street" in body["addresses"][0]["label"]
    assert any(f["title"] == "Hill garden" for f in body["features"])
    assert body["addresses"][0]["label"] == "Hill street, 69998 Lyonnaise (synthetic test city)"
    # The map's own search API still names its keys after Paris's levels (read by app.js):
    # the values are checked, not the keys.
    _no_paris(json.dumps(_values(body)), "search")


def test_a_walk_stays_in_the_city(city_app, published):
    body = city_app.test_client().get(
        f"/api/v1/walk?lon={GARDEN[0]}&lat={GARDEN[1]}&minutes=30")
    assert body.status_code == 200, body.get_data(as_text=True)
    _no_paris(body.get_data(as_text=True), "the walk")


def test_dates_are_read_in_the_city_s_zone(city_app, published):
    # A bare date is a local day in Europe/Zurich (same offset as Paris in winter, so the
    # zone's name is what tells them apart).
    assert city_app.config["CITY_TIMEZONE"] == "Europe/Zurich"
    now = datetime.now(UTC) + timedelta(days=1)
    day = now.date().isoformat()
    response = city_app.test_client().get(f"/api/v1/features?from={day}&to={day}")
    assert response.status_code == 200
