"""The no-JavaScript form (/submit) places a pin from an address a resident types.

Nobody in the street knows a longitude: the form's "where" card asks for the address
first ("12 rue de Rivoli"), the coordinates after, "or coordinates". With no coordinates
the server places the address with the city's address file (the real Paris BAN extract in
data/cities/paris/, the one ``carte import`` uses), stores the raw body as typed and the
submission at the door's point; an address it cannot find re-renders the form with the
error on the address field (what was typed kept) and publishes nothing, the raw row kept
as the intake keeps any invalid one; a street without that number is placed on the street
and the thank-you page says so. Coordinates typed still win. French and English.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
from sqlalchemy import text

from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures

RIVOLI_12 = (2.35995, 48.855602)  # 12 Rue de Rivoli, 75004 (adresses-75.csv.gz)


def _form(api, lang: str = "fr", **over: str) -> dict[str, str]:
    html = api.get(f"/submit?lang={lang}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return {"csrf_token": token, "category": "jardin-partage", "title": "Jardin du Marais",
            "address": "12 rue de Rivoli", "lon": "", "lat": "", "charter": "1", **over}


def _rows(engine):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT id, status::text AS status, title, raw, ST_X(geom) AS lon, "
            "ST_Y(geom) AS lat FROM submission ORDER BY id")).mappings().all()


def _published(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM feature")).scalar()


def test_the_where_card_asks_for_the_address_first(api):
    for lang, words in (("fr", ("Adresse", "ou coordonnées")),
                        ("en", ("Address", "or coordinates"))):
        html = api.get(f"/submit?lang={lang}").get_data(as_text=True)
        where = html[html.index('id="h-where"'):html.index('id="h-when"')]
        assert f'<label for="address">{words[0]} ' in where
        assert where.index('id="address"') < where.index(words[1]) < where.index('id="lon"')
        # the coordinates are optional in the page: the address may stand for them
        assert not re.search(r'id="(lon|lat)"[^>]*required', where)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_address_is_placed_at_its_door_and_the_raw_body_kept(api, engine, lang):
    form = _form(api, lang, address="12, rue de Rivoli")
    r = api.post(f"/submit?lang={lang}", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 201, html
    placed = {"fr": "Placé au : 12 Rue de Rivoli, 75004 Paris",
              "en": "Placed at: 12 Rue de Rivoli, 75004 Paris"}[lang]
    assert placed in html and 'id="tracking-url"' in html
    assert 'id="placed-street"' not in html  # at the door, not on the street
    (row,) = _rows(engine)
    assert row["status"] == "pending" and row["title"] == "Jardin du Marais"
    assert (row["lon"], row["lat"]) == pytest.approx(RIVOLI_12, abs=1e-7)
    typed = parse_qs(bytes(row["raw"]).decode(), keep_blank_values=True)
    assert typed["address"] == ["12, rue de Rivoli"]  # what the resident typed
    assert typed["lon"] == typed["lat"] == [""]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_address_not_found_names_the_field_and_keeps_what_was_typed(api, engine, lang):
    form = _form(api, lang, address="12 rue des Licornes Bleues",
                 description="Un jardin au bout de la rue")
    r = api.post(f"/submit?lang={lang}", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    said = {"fr": "Adresse : introuvable dans Paris — vérifiez le numéro et la rue, ou "
                  "donnez les coordonnées",
            "en": "Address: not found in Paris — check the number and the street, or give "
                  "the coordinates"}[lang]
    # listed at the top with a link to the field, and said again beside it
    assert f'<a href="#address">{said}</a>' in html
    assert f'<span class="error" id="address-error">{said}</span>' in html
    assert re.search(r'id="address"[^>]*value="12 rue des Licornes Bleues"[^>]*'
                     r'aria-describedby="address-error" aria-invalid="true" autofocus', html)
    assert "Un jardin au bout de la rue" in html and 'value="Jardin du Marais"' in html
    assert 'id="lon-error"' not in html  # the coordinates left empty are not the fault
    # nothing published; the raw row is kept as received, refused as invalid
    assert _published(engine) == 0
    (row,) = _rows(engine)
    assert row["status"] == "invalid" and row["lon"] is None
    typed = parse_qs(bytes(row["raw"]).decode(), keep_blank_values=True)
    assert typed["address"] == ["12 rue des Licornes Bleues"]


@pytest.mark.parametrize("line", ["12 rue de Rivoli Paris", "12 R. de Rivoli, 75004 PARIS",
                                  "12 rue de Rivoli Paris 75004 France"])
def test_the_town_written_after_the_street_is_read_as_on_a_letter(api, engine, line):
    r = api.post("/submit?lang=fr", data=_form(api, "fr", address=line))
    assert r.status_code == 201, r.get_data(as_text=True)
    assert "Placé au : 12 Rue de Rivoli, 75004 Paris" in r.get_data(as_text=True)
    (row,) = _rows(engine)
    assert (row["lon"], row["lat"]) == pytest.approx(RIVOLI_12, abs=1e-7)


@pytest.mark.parametrize("line", ["Paris", "paris, France", "rue de Paris"])
def test_a_line_naming_no_street_of_the_city_is_not_found(api, engine, line):
    r = api.post("/submit?lang=en", data=_form(api, "en", address=line))
    assert r.status_code == 422 and 'id="address-error"' in r.get_data(as_text=True)
    assert _published(engine) == 0 and [x["status"] for x in _rows(engine)] == ["invalid"]


def test_a_street_without_that_number_is_placed_on_the_street_and_says_so(api, engine):
    r = api.post("/submit?lang=fr", data=_form(api, "fr", address="999 rue de la Paix"))
    html = r.get_data(as_text=True)
    assert r.status_code == 201, html
    assert "Placé au : Rue de la Paix, 75002 Paris" in html
    assert "Le point a été placé sur la rue, pas à la porte" in html
    (row,) = _rows(engine)
    assert row["status"] == "pending" and 2.32 < row["lon"] < 2.34


def test_a_placed_address_is_shown_when_another_field_must_be_fixed(api, engine):
    r = api.post("/submit?lang=en", data=_form(api, "en", title="", address="999 rue de la Paix"))
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="title-error"' in html
    assert "Placed at: Rue de la Paix, 75002 Paris (on the street, not at the door)" in html
    assert 'value="999 rue de la Paix"' in html and 'id="address-error"' not in html


def test_coordinates_still_work_and_win_over_the_address(api, engine):
    form = _form(api, "en", address="12 rue de Rivoli", lon="2,3700", lat="48,8650")
    r = api.post("/submit?lang=en", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 201, html
    assert "Placed at" not in html  # nothing was geocoded
    (row,) = _rows(engine)
    assert (row["lon"], row["lat"]) == pytest.approx((2.37, 48.865))
    # neither an address nor coordinates: the coordinates are what is missing
    none = api.post("/submit?lang=en", data=_form(api, "en", address="", title="Sans lieu"))
    assert none.status_code == 422 and 'id="lon-error"' in none.get_data(as_text=True)


def test_the_duplicate_step_shows_where_the_address_was_placed(api, engine):
    from tests.integration.test_duplicates_pending import _publish

    _publish(engine, "Jardin du Marais", *RIVOLI_12)
    r = api.post("/submit?lang=fr", data=_form(api, "fr"))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="duplicates"' in html
    assert "Placé au : 12 Rue de Rivoli, 75004 Paris" in html
    assert 'value="12 rue de Rivoli"' in html  # kept for the final send
    assert _rows(engine) == []
    ok = api.post("/submit?lang=fr", data={**_form(api, "fr"), "different": "1"})
    assert ok.status_code == 201
    (row,) = _rows(engine)
    assert (row["lon"], row["lat"]) == pytest.approx(RIVOLI_12, abs=1e-7)


def test_the_address_index_is_read_once_per_process(api):
    from geo.geocode import _cache

    api.post("/submit?lang=fr", data=_form(api, "fr"))
    (entry,) = [v for k, v in _cache.items() if k.name == "adresses-75.csv.gz"]
    api.post("/submit?lang=fr", data=_form(api, "fr", title="Autre jardin"))
    (again,) = [v for k, v in _cache.items() if k.name == "adresses-75.csv.gz"]
    assert again[1] is entry[1]
