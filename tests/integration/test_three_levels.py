"""A city with three levels of areas works end to end (areas referenced generically).

``tests/data/cities/troisniveaux/`` is synthetic: two sectors, each split into two
districts, each split into two blocks (``secteur`` → ``district`` → ``ilot``). Until
``0016_area_refs`` a feature could hold two levels (``arrondissement_id``,
``quartier_id``); now it holds ``area_ids`` by depth. A resident submits a garden, the
moderation queue finds it by an area of any level, a moderator approves it, and the
tiles, OGC API, exports, the Atom feed and the area filter all carry its three areas
under the city's own property names.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.areas import feature_areas, load_areas, locate
from geo.city import City
from geo.tilemath import lonlat_to_tile
from tests.city_fixtures import city_database, city_environment

GARDEN = (4.86, 45.73)  # sector S2 (east), district S2D1 (south), block S2D1I1 (west half)
LEVELS = ("S2", "S2D1", "S2D1I1")


@pytest.fixture(scope="module")
def city_env() -> Iterator[City]:
    with city_environment("troisniveaux") as city:
        yield city


@pytest.fixture(scope="module")
def city_db(cluster, city_env: City) -> Iterator[tuple[str, Engine]]:
    from ingestion.seed import load_seed

    with city_database(cluster, "carte_troisniveaux") as eng:
        url = eng.url.render_as_string(hide_password=False)
        with Session(eng) as session, session.begin():
            report = load_areas(session, city_env)
            assert report.as_dict() == {"city": 1, "secteurs": 2, "districts": 4, "ilots": 8}
            summaries = load_seed(session, city_env)
            assert [(s.source, s.published) for s in summaries] == [("troisniveaux-gardens", 2)]
        yield url, eng


@pytest.fixture(scope="module")
def city_var(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("troisniveaux-var")


@pytest.fixture(scope="module")
def city_app(city_db, city_var: Path, city_env: City):
    from webmap import create_app

    url, _ = city_db
    app = create_app({"TESTING": True, "DATABASE_URL": url, "VAR_DIR": city_var,
                      "SECRET_KEY": "test-secret-key", "INGEST_RATE_LIMIT": "1000/60"})
    assert app.config["CITY"].slug == "troisniveaux"
    return app


def _codes(conn, table: str, where: str, **params) -> list[str | None]:
    ids = conn.execute(text(f"SELECT area_ids FROM {table} WHERE {where}"),
                       params).scalar_one()
    names = dict(conn.execute(text("SELECT id, code FROM area")).all())
    return [names.get(i) for i in ids]


@pytest.fixture(scope="module")
def published(city_app, city_db) -> int:
    """A garden submitted through the API, found in the queue by its block, approved."""
    from moderation.actions import approve
    from moderation.queue import QueueFilters, pending_page

    _, eng = city_db
    response = city_app.test_client().post("/api/v1/submissions", json={
        "lon": GARDEN[0], "lat": GARDEN[1], "title": "Jardin des trois aires",
        "description": "Un jardin placé à trois niveaux.",
        "category": "community-garden", "email": "resident@example.org"})
    assert response.status_code in (201, 202), response.get_data(as_text=True)
    with eng.begin() as conn:
        assert _codes(conn, "submission", "title = 'Jardin des trois aires'") == list(LEVELS)
        actor = conn.execute(text(
            "INSERT INTO app_user (email, password_hash, role) VALUES "
            "('mod@troisniveaux.example', '$argon2id$v=19$m=1,t=1,p=1$x$y', 'moderator') "
            "RETURNING id")).scalar_one()
    with Session(eng) as session:
        for code in LEVELS:  # the queue's area filter works at every level
            rows, total = pending_page(session, QueueFilters(area=code))
            assert total == 1 and rows[0].title == "Jardin des trois aires", code
        assert pending_page(session, QueueFilters(area="S1D1I2"))[1] == 0
        row = pending_page(session, QueueFilters(area="S2D1I1"))[0][0]
    with Session(eng) as session, session.begin():
        return approve(session, row.id, row.version, actor_id=actor)


def test_areas_load_with_three_depths_and_points_get_all_three(city_db):
    _, eng = city_db
    with eng.connect() as conn:
        depths = conn.execute(text(
            "SELECT kind, depth, count(*) FROM area GROUP BY kind, depth ORDER BY depth")).all()
    assert depths == [("city", 0, 1), ("secteur", 1, 2), ("district", 2, 4), ("ilot", 3, 8)]
    with Session(eng) as session:
        where = locate(session, *GARDEN)
        assert [a.code for a in where] == list(LEVELS)
        assert feature_areas(session, where.ids).at(3).name == "Îlot 1 de Est sud"
        assert locate(session, 5.5, 45.0).ids == []  # outside the city
    with eng.connect() as conn:  # the seed (a set-based import) placed its rows too
        assert _codes(conn, "feature", "source_ref = 'g1'") == ["S2", "S2D2", "S2D2I2"]


def test_the_approved_feature_holds_its_three_areas(city_db, published):
    _, eng = city_db
    with eng.connect() as conn:
        assert _codes(conn, "feature", "id = :i", i=published) == list(LEVELS)


def test_ogc_and_api_name_every_level_with_the_city_s_names(city_app, published):
    client = city_app.test_client()
    props = client.get(f"/ogc/collections/features/items/{published}").get_json()["properties"]
    assert (props["secteur"], props["district"], props["ilot"]) == LEVELS
    assert props["ilot_name"] == "Îlot 1 de Est sud"
    assert props["secteur_name"] == "Secteur est"
    assert not {"arrondissement", "quartier"} & set(props)
    api = client.get("/api/v1/features?bbox=4.77,45.7,4.9,45.81").get_json()
    assert {f["properties"]["ilot"] for f in api["features"]} == {"S1D1I1", "S2D2I2", "S2D1I1"}


def test_exports_carry_three_level_columns(city_db, city_env, published, tmp_path):
    from opendata.exports import run_export

    _, eng = city_db
    run_export(eng, tmp_path, formats=("csv",), per_category=False, levels=city_env.levels)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "features.csv").read_text())))
    assert list(rows[0])[9:15] == ["secteur", "secteur_name", "district", "district_name",
                                   "ilot", "ilot_name"]
    mine = next(r for r in rows if r["title"] == "Jardin des trois aires")
    assert (mine["secteur"], mine["district"], mine["ilot"]) == LEVELS


def test_feeds_filter_by_an_area_of_any_level(city_app, published):
    client = city_app.test_client()
    for code, expected in (("S2", True), ("S2D1", True), ("S2D1I1", True), ("S1D2I1", False)):
        body = client.get(f"/feeds/features.atom?area={code}")
        assert body.status_code == 200, body.get_data(as_text=True)
        assert ("Jardin des trois aires" in body.get_data(as_text=True)) is expected, code
    bad = client.get("/feeds/features.atom?area=NOPE")
    assert bad.status_code == 400 and bad.get_json()["invalid_params"][0]["name"] == "area"


def test_tiles_hold_the_garden(city_app, city_db, city_var, published):
    from tiles.build import build_full
    from tiles.options import TileOptions

    _, eng = city_db
    build_full(eng, city_var, TileOptions.from_env(max_zoom=14, processes=1), density=False)
    x, y = lonlat_to_tile(*GARDEN, 14)
    response = city_app.test_client().get(f"/tiles/features/14/{int(x)}/{int(y)}.mvt")
    assert response.status_code == 200
    raw = response.data
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    titles = {f["properties"].get("title")
              for f in mapbox_vector_tile.decode(raw)["features"]["features"]}
    assert "Jardin des trois aires" in titles
