"""Search that forgives, on the real BAN file of Paris and real PostGIS.

What people type: addresses with or without "de", with abbreviated street types,
commas, postcodes, "paris"; places with or without hyphens and accents, with their
arrondissement; results of the same name told apart by arrondissement and category.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from geo.city import load_city
from geo.geocode import address_file, load_index, parse_query, shortcuts_of
from geo.publish import FeatureDraft, publish_feature
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures

PARIS = shortcuts_of(load_city("paris"))


@pytest.fixture(scope="module")
def index():
    return load_index(address_file(load_city("paris")))


def labels(hits):
    return [h.label for h in hits]


@pytest.mark.parametrize("typed", [
    "10 rue de rivoli paris", "10 r de rivoli", "10, rue de Rivoli 75004", "10 rue rivoli",
    "10 RUE DE RIVOLI", "10 rue de rivoli 4e", "10 r. de Rivoli, 75004 Paris",
    "10 rue de rivoli paris 4",
])
def test_free_form_addresses_find_the_door(index, typed):
    assert labels(index.search(typed, locality="Paris", shortcuts=PARIS))[0] == \
        "10 Rue de Rivoli, 75004 Paris"


@pytest.mark.parametrize(("typed", "expected"), [
    ("12 bd st michel", "12 Boulevard Saint-Michel, 75006 Paris"),
    ("11 bd st michel paris 5e", "11 Boulevard Saint-Michel, 75005 Paris"),
    ("10 av de l'opera", "10 Avenue de l'Opéra, 75001 Paris"),
    ("131 bis rue de la roquette", "131 bis Rue de la Roquette, 75011 Paris"),
    ("pl de la republique 75011", "Place de la République, 75011 Paris"),
    ("qu de valmy", "Quai de Valmy, 75010 Paris"),
    ("fbg saint antoine 75012", "Rue du Faubourg Saint-Antoine, 75012 Paris"),
])
def test_abbreviations_and_arrondissements(index, typed, expected):
    assert expected in labels(index.search(typed, locality="Paris", shortcuts=PARIS))[:3]


def test_streets_that_start_with_what_was_typed_come_first(index):
    # "rue de la paix" is a street of its own; longer names holding those words follow.
    assert labels(index.search("rue de la paix", locality="Paris", shortcuts=PARIS))[0] == \
        "Rue de la Paix, 75002 Paris"
    got = labels(index.search("avenue de la republ", locality="Paris", shortcuts=PARIS))
    assert got[0].startswith("Avenue de la République")
    got = labels(index.search("rivoli", locality="Paris", shortcuts=PARIS))
    assert got[:2] == ["Rue de Rivoli, 75001 Paris", "Rue de Rivoli, 75004 Paris"]


def test_what_is_not_an_address_stays_empty(index):
    assert index.search("999 rue de rivoli", locality="Paris", shortcuts=PARIS) == []
    assert index.search("paris", locality="Paris", shortcuts=PARIS) == []
    assert index.search("r", locality="Paris", shortcuts=PARIS) == []


def test_a_query_is_taken_apart_as_a_resident_means_it():
    # The shortcuts ("4e", "75004", "paris 19") are Paris's aliases in its city.json.
    q = parse_query("10, r de Rivoli 75004 Paris", PARIS)
    assert (q.number, q.words, q.area) == ("10", ("rue", "rivoli"), "75104")
    assert parse_query("buttes chaumont paris 19", PARIS).area == "75119"
    assert parse_query("square du 8 mai 1945", PARIS).area is None  # a name's number
    assert parse_query("jardin 16e", PARIS).postcodes == {"75016", "75116"}
    # Without the city's aliases nothing is Paris's: "4e" is a word, 75004 a postcode.
    q = parse_query("rivoli 4e 75004")
    assert (q.words, q.postcodes, q.area) == (("rivoli", "4e"), {"75004"}, None)


@pytest.fixture
def places(categories_loaded, clean_db):
    now = datetime.now(UTC)
    drafts = {
        "buttes": FeatureDraft("espace-vert", "Parc des Buttes-Chaumont", 2.3828, 48.8809),
        "garden11": FeatureDraft("jardin-partage", "Jardin partagé", 2.3790, 48.8610),
        "garden20": FeatureDraft("jardin-partage", "Jardin partagé", 2.3990, 48.8640),
        "green11": FeatureDraft("espace-vert", "Jardin partagé", 2.3800, 48.8600),
        "cafe": FeatureDraft("initiative-citoyenne", "Café des Écoliers", 2.3500, 48.8450),
        "butte": FeatureDraft("espace-vert", "Square de la Butte du Chapeau Rouge", 2.3930,
                              48.8810),
        "ended": FeatureDraft("disco-soupe", "Disco Soupe des Buttes", 2.3820, 48.8800, "",
                              now - timedelta(days=3), now - timedelta(days=2)),
    }
    with Session(clean_db) as s, s.begin():
        return {k: publish_feature(s, d, max_zoom=2).id for k, d in drafts.items()}


@pytest.mark.parametrize("typed", [
    "Buttes-Chaumont", "buttes chaumont", "BUTTES CHAUMONT", "buttes chaumont paris 19",
    "parc des buttes", "buttes-chau", "Parc des Buttes Chaumont 75019", "chaumont",
])
def test_places_are_found_with_or_without_hyphens_accents_and_city(client, places, typed):
    body = client.get("/api/v1/search", query_string={"q": typed}).get_json()
    assert body["features"][0]["id"] == places["buttes"], typed
    assert places["ended"] not in [f["id"] for f in body["features"]]


def test_a_wrong_arrondissement_narrows_to_nothing(client, places):
    body = client.get("/api/v1/search", query_string={"q": "buttes chaumont 75011"}).get_json()
    assert body["features"] == []


def test_accents_typed_or_not_match_accented_titles(client, places):
    for typed in ("cafe des ecoliers", "CAFÉ DES ÉCOLIERS", "ecoliers"):
        body = client.get("/api/v1/search", query_string={"q": typed}).get_json()
        assert [f["id"] for f in body["features"]] == [places["cafe"]]


def test_same_titles_are_told_apart_by_arrondissement_and_category(client, places):
    body = client.get("/api/v1/search", query_string={"q": "jardin partage"}).get_json()
    got = {f["id"]: f for f in body["features"]}
    assert set(got) == {places["garden11"], places["garden20"], places["green11"]}
    assert got[places["garden11"]]["label"] == \
        "Jardin partagé — 11e arr., Jardin partagé ou comestible"
    assert got[places["garden20"]]["label"] == \
        "Jardin partagé — 20e arr., Jardin partagé ou comestible"
    assert got[places["green11"]]["label"] == "Jardin partagé — 11e arr., Espace vert"
    assert got[places["garden11"]]["arrondissement_name"] == "11e arrondissement"
    assert got[places["garden11"]]["title"] == "Jardin partagé"  # the title is untouched
    english = client.get("/api/v1/search?q=jardin+partage&lang=en",
                         headers={"Accept-Language": "en"}).get_json()["features"]
    assert {f["category_label"] for f in english} == {"Shared or edible garden",
                                                      "Green space"}
    # a title alone in the results keeps its plain label
    body = client.get("/api/v1/search", query_string={"q": "buttes"}).get_json()
    assert body["features"][0]["label"] == "Parc des Buttes-Chaumont"


def test_titles_that_start_with_the_words_come_first(client, places):
    body = client.get("/api/v1/search", query_string={"q": "butte"}).get_json()
    assert {places["buttes"], places["butte"]} <= {f["id"] for f in body["features"]}
    body = client.get("/api/v1/search", query_string={"q": "square de la butte"}).get_json()
    assert body["features"][0]["id"] == places["butte"]


def test_areas_by_name_number_or_postcode(client, engine):
    def areas(q):
        return [a["name"] for a in client.get("/api/v1/search", query_string={"q": q})
                .get_json()["areas"]]

    assert areas("folie mericourt") == ["Folie-Méricourt"]
    assert areas("Folie-Méricourt") == ["Folie-Méricourt"]
    assert areas("19e") == ["19e arrondissement"]
    assert areas("paris 19") == ["19e arrondissement"]
    assert areas("75019") == ["19e arrondissement"]
    assert areas("7511101") == ["Folie-Méricourt"]


def test_the_page_gets_addresses_from_the_same_answer(client, places):
    load_index(address_file(load_city("paris")))
    body = client.get("/api/v1/search", query_string={"q": "10 r de rivoli"}).get_json()
    assert set(body) == {"features", "areas", "addresses"}
    assert body["addresses"][0]["label"] == "10 Rue de Rivoli, 75004 Paris"
