"""Services are findable: by name, and by what they are, in French or in English.

A resident types "piscine", "swimming pool", "toilettes", "bibliothèque", "wifi" or
"mairie du 11e" in the map's search box; the page sends the map's centre, and the
nearest services of that kind come first.
"""

from __future__ import annotations

import pytest

from tests.services_fixtures import features
from tests.services_fixtures import seeded as seeded  # the fixture
from webmap.walk import great_circle_metres

HOTEL_DE_VILLE = (2.3522, 48.8566)


def search(client, q, *, lang="fr", near=HOTEL_DE_VILLE):
    url = f"/api/v1/search?q={q}" + (f"&near={near[0]},{near[1]}" if near else "")
    r = client.get(url, headers={"Accept-Language": lang})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["features"]


@pytest.mark.parametrize(("typed", "lang", "category"), [
    ("piscine", "fr", "piscine"), ("piscines", "fr", "piscine"),
    ("swimming pool", "en", "piscine"), ("pool", "en", "piscine"),
    ("bibliothèque", "fr", "bibliotheque"), ("bibliotheque", "fr", "bibliotheque"),
    ("médiathèque", "fr", "bibliotheque"), ("library", "en", "bibliotheque"),
    ("toilettes", "fr", "toilettes"), ("wc", "fr", "toilettes"),
    ("toilets", "en", "toilettes"), ("mairie", "fr", "mairie"), ("town hall", "en", "mairie"),
    ("bains douches", "fr", "bains-douches"), ("shower", "en", "bains-douches"),
    ("wifi", "fr", "wifi"),
])
def test_a_kind_of_service_finds_the_nearest_of_that_kind(seeded, client, engine, typed,
                                                          lang, category):
    hits = search(client, typed, lang=lang)
    assert len(hits) >= 5, typed
    assert {h["category"] for h in hits} == {category}, typed  # the kind before the words
    d = [great_circle_metres(HOTEL_DE_VILLE, (h["lon"], h["lat"])) for h in hits]
    assert d == sorted(d), "nearest first"
    (n,) = features(engine, "SELECT count(*) FROM feature WHERE category = :c AND "
                    "status = 'published'", c=category)[0]
    assert n >= len(hits)


def test_the_nearest_toilets_are_around_the_resident(seeded, client):
    hits = search(client, "toilettes", near=(2.3770, 48.8530))  # Bastille
    assert great_circle_metres((2.3770, 48.8530), (hits[0]["lon"], hits[0]["lat"])) < 400


def test_a_town_hall_by_its_arrondissement(seeded, client):
    for typed in ("mairie du 11e", "mairie 11e", "Mairie du 11e arrondissement", "mairie 75011"):
        hits = search(client, typed)
        assert hits[0]["title"] == "Mairie du 11e arrondissement", typed
    en = search(client, "town hall 11e", lang="en", near=None)
    assert en[0]["title"] == "Mairie du 11e arrondissement"
    assert en[0]["category_label"] == "Town hall"


def test_a_service_by_its_name_without_the_map_centre(seeded, client):
    hits = search(client, "piscine pontoise", near=None)
    assert [h["title"] for h in hits] == ["Piscine Pontoise"]
    hits = search(client, "benjamin rabier", near=None)
    assert [(h["title"], h["category"]) for h in hits] == [
        ("Bibliothèque Benjamin Rabier", "bibliotheque")]  # one place, one result
    # The whole name typed comes first even when the map's centre is elsewhere.
    hits = search(client, "bibliotheque forney", near=(2.29, 48.88))
    assert hits[0]["title"] == "Bibliothèque Forney"


def test_a_name_word_is_not_taken_for_a_kind(seeded, client):
    # "Valeyre" names a library and a pool; "piscine valeyre" finds the pool only.
    hits = search(client, "piscine valeyre")
    assert [h["category"] for h in hits] == ["piscine"]


def test_a_wrong_centre_is_a_400_naming_it(seeded, client):
    for bad in ("x,y", "2.3", "200,48", "nan,48"):
        r = client.get(f"/api/v1/search?q=piscine&near={bad}")
        assert r.status_code == 400
        assert r.get_json()["invalid_params"][0]["name"] == "near"
