"""The search answer names any city's areas: generic ``areas``, the old keys kept.

``GET /api/v1/search`` gives each feature its ``areas``, first level first, each
``{level, level_label, code, name}`` with the level's slug and word from the city's
``city.json``. The keys ``arrondissement``, ``arrondissement_name`` and
``quartier_name`` stay for the consumers that read them (deprecated in the OpenAPI
document, which describes the whole answer). Paris (two levels) first; then the tests'
synthetic one-level city (``tests/data/cities/lyonnaise/``: "district"/"secteur"),
whose answer carries no Paris key value and no second level.
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

from collections.abc import Iterator

import jsonschema
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from geo.areas import load_areas, locate
from geo.city import City
from tests.city_fixtures import city_database, city_environment
from tests.moderation_fixtures import mdb, published  # noqa: F401

IN_4E = (2.3522, 48.8566)  # Saint-Merri, 4e arrondissement
IN_LY2 = (4.83, 45.76)  # district LY2, "Rive gauche"


def _search(client, q: str, lang: str = "fr") -> dict:
    response = client.get("/api/v1/search", query_string={"q": q, "lang": lang},
                          headers={"Accept-Language": lang})
    assert response.status_code == 200
    return response.get_json()


def _only(body: dict) -> dict:
    (feature,) = body["features"]
    return feature


@pytest.fixture
def paris_quartier(mdb) -> tuple[str, str]:
    """The code and name of the quartier of :data:`IN_4E`, as the areas table has it."""
    with Session(mdb) as session:
        placement = locate(session, *IN_4E)
    quartier = placement.at(2)
    assert quartier is not None
    return quartier.code, quartier.name


# --- Paris: two levels -----------------------------------------------------------------

def test_a_paris_result_lists_its_arrondissement_then_its_quartier(client, mdb,
                                                                   paris_quartier):
    published(mdb, title="Jardin des Aires", lon=IN_4E[0], lat=IN_4E[1])
    code, name = paris_quartier
    assert _only(_search(client, "jardin des aires"))["areas"] == [
        {"level": "arrondissement", "level_label": "arrondissement", "code": "75104",
         "name": "4e arrondissement"},
        {"level": "quartier", "level_label": "quartier", "code": code, "name": name}]


def test_the_level_words_follow_the_answer_s_language(client, mdb):
    published(mdb, title="Jardin des Aires", lon=IN_4E[0], lat=IN_4E[1])
    areas = _only(_search(client, "jardin des aires", lang="en"))["areas"]
    assert [(a["level"], a["level_label"]) for a in areas] == [
        ("arrondissement", "arrondissement"), ("quartier", "quarter")]


def test_the_old_keys_stay_for_existing_consumers(client, mdb, paris_quartier):
    published(mdb, title="Jardin des Aires", lon=IN_4E[0], lat=IN_4E[1])
    feature = _only(_search(client, "jardin des aires"))
    assert (feature["arrondissement"], feature["arrondissement_name"],
            feature["quartier_name"]) == ("75104", "4e arrondissement", paris_quartier[1])


def test_a_feature_outside_every_area_has_no_areas(client, mdb):
    published(mdb, title="Jardin lointain", lon=2.60, lat=48.70)  # outside Paris
    feature = _only(_search(client, "jardin lointain"))
    assert feature["areas"] == []
    assert (feature["arrondissement"], feature["arrondissement_name"],
            feature["quartier_name"]) == (None, None, None)


def test_area_results_carry_their_level_and_its_word(client, mdb):
    body = _search(client, "19e", lang="en")
    assert [(a["name"], a["level"], a["kind"], a["level_label"]) for a in body["areas"]] \
        == [("19e arrondissement", "arrondissement", "arrondissement", "arrondissement")]
    body = _search(client, "folie mericourt", lang="en")
    assert [(a["level"], a["level_label"]) for a in body["areas"]] == [("quartier",
                                                                        "quarter")]


def test_the_openapi_document_describes_the_answer_and_deprecates_the_old_keys(client,
                                                                                mdb):
    published(mdb, title="Jardin des Aires", lon=IN_4E[0], lat=IN_4E[1])
    published(mdb, title="Jardin des Aires lointain", lon=2.60, lat=48.70)
    doc = client.get("/api/v1/openapi.json").get_json()
    operation = doc["paths"]["/api/v1/search"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    feature = schema["properties"]["features"]["items"]
    for old in ("arrondissement", "arrondissement_name", "quartier_name"):
        assert feature["properties"][old]["deprecated"] is True, old
        assert old not in feature["required"]
    assert "areas" in feature["required"]
    assert not feature["properties"]["areas"].get("deprecated")
    assert {p["name"] for p in operation["parameters"]} >= {"q", "near", "lang"}
    body = _search(client, "jardin des aires")
    assert len(body["features"]) == 2
    jsonschema.Draft202012Validator(schema).validate(body)  # what the server really says
    jsonschema.Draft202012Validator(schema).validate(_search(client, "19e"))


# --- a city of one level (the module's last tests: the fixtures set CARTE_CITY) ---------

@pytest.fixture(scope="module")
def city_env() -> Iterator[City]:
    """``CARTE_CITY=lyonnaise`` with the tests' data folder, until this module ends."""
    with city_environment("lyonnaise") as city:
        yield city


@pytest.fixture(scope="module")
def city_db(cluster, city_env: City) -> Iterator[Engine]:
    """A database of the one-level city: its areas, categories and one published garden."""
    from ingestion.seed import load_seed

    with city_database(cluster, "carte_search_areas") as eng:
        with Session(eng) as session, session.begin():
            load_areas(session, city_env)
            load_seed(session, city_env)
        published(eng, title="Riverbank garden", lon=IN_LY2[0], lat=IN_LY2[1],
                  category="community-garden")
        yield eng


@pytest.fixture(scope="module")
def city_client(city_db: Engine, city_env: City, tmp_path_factory):
    from webmap import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": city_db.url.render_as_string(
        hide_password=False), "VAR_DIR": tmp_path_factory.mktemp("search-areas-var"),
        "SECRET_KEY": "test-secret-key"})
    assert app.config["CITY"].slug == "lyonnaise"
    return app.test_client()


@pytest.mark.parametrize(("lang", "word"), [("en", "district"), ("fr", "secteur")])
def test_a_one_level_city_lists_its_one_level_in_its_words(city_client, lang, word):
    feature = _only(_search(city_client, "riverbank", lang=lang))
    assert feature["areas"] == [{"level": "district", "level_label": word, "code": "LY2",
                                 "name": "Rive gauche"}]


def test_a_one_level_city_keeps_the_old_keys_with_its_first_level(city_client):
    feature = _only(_search(city_client, "riverbank", lang="en"))
    assert (feature["arrondissement"], feature["arrondissement_name"],
            feature["quartier_name"]) == ("LY2", "Rive gauche", None)


def test_a_one_level_city_s_area_results_name_its_level(city_client):
    body = _search(city_client, "rive gauche", lang="fr")
    assert [(a["code"], a["level"], a["level_label"]) for a in body["areas"]] == [
        ("LY2", "district", "secteur")]


def test_a_one_level_city_s_answer_matches_the_document(city_client):
    doc = city_client.get("/api/v1/openapi.json").get_json()
    schema = doc["paths"]["/api/v1/search"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    jsonschema.Draft202012Validator(schema).validate(_search(city_client, "riverbank"))


def test_moderation_outlines_are_of_the_city_s_own_level(city_db):
    """The moderators' mini-maps draw the first level by its own slug, never Paris's."""
    from moderation import svg

    with Session(city_db) as session:
        found = svg.outlines(session, "search-areas-test", svg.Frame(4.835, 45.76))
    assert {o.kind for o in found.values()} == {"district", "city"}
    assert svg.city_outline(found) is not None and svg.city_outline(found).code == "LY"
