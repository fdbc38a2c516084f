"""Place-level words come from the configured city, never from the code.

Paris calls its areas arrondissements and quartiers; the synthetic second city of the
tests (``tests/data/cities/lyonnaise/``) has one level, "district" in English and
"secteur" in French. A moderator of that city reads its words in the queue's heading and
filter, on the item and feature pages and for an item outside every district; a resident
reads them on the subscription form and in the Atom feed; never "arrondissement" nor
"quartier". With Paris the same pages read as they did (its levels' words, configured in
``data/cities/paris/city.json``), in French and in English.
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.areas import load_areas
from geo.city import City, check_city, load_city
from tests.city_fixtures import TEST_DATA, city_database, city_environment
from tests.moderation_fixtures import (  # noqa: F401
    PASSWORD,
    login,
    mdb,
    mod_app,
    moderator,
    pending,
    published,
)

LYONNAISE = TEST_DATA / "cities" / "lyonnaise"
PARIS_LEVEL_WORDS = re.compile(r"arrondissement|quartier|\barr\.", re.IGNORECASE)
IN_LY2 = (4.83, 45.76)  # district LY2, "Rive gauche"
OUTSIDE = (4.95, 45.76)  # east of every district (an import row, a far pin)
MOD_EMAIL = "mod@lyonnaise.example"


def _shown(response) -> str:
    """A page's visible text (tags dropped, entities read)."""
    assert response.status_code == 200, response.status_code
    body = response.get_data(as_text=True)
    body = body.split("<body>", 1)[1] if "<body>" in body else body
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def _no_paris_levels(shown: str, where: str) -> None:
    found = PARIS_LEVEL_WORDS.findall(shown)
    assert found == [], f"{where} says {found}"


# --- the configuration -----------------------------------------------------------------

def test_levels_carry_their_words_in_both_numbers_and_languages():
    paris = load_city("paris", environ={})
    arrondissement, quartier = paris.levels
    assert paris.level_labels("fr") == ("arrondissement", "quartier")
    assert paris.level_labels("en") == ("arrondissement", "quarter")
    assert arrondissement.label("fr", plural=True) == "arrondissements"
    assert quartier.label("en", plural=True) == "quarters"
    # The short form of the word, for tight labels (the search's twin titles).
    assert arrondissement.shorten("11e arrondissement", "fr") == "11e arr."
    assert arrondissement.shorten("Paris Centre", "en") == "Paris Centre"
    assert quartier.shorten("Folie-Méricourt", "fr") == "Folie-Méricourt"
    city = load_city(folder=LYONNAISE)
    (district,) = city.levels
    assert city.level_labels("en") == ("district",) and city.level_labels("fr") == ("secteur",)
    assert district.label("fr", plural=True) == "secteurs"
    assert district.label("de") == "district"  # a language it lacks: its first one


def test_a_level_without_plural_still_loads_and_a_partial_plural_is_refused(tmp_path):
    folder = tmp_path / "lyonnaise"
    shutil.copytree(LYONNAISE, folder)
    doc = json.loads((folder / "city.json").read_text(encoding="utf-8"))
    del doc["areas"]["levels"][0]["plural_names"]  # an older city.json
    (folder / "city.json").write_text(json.dumps(doc), encoding="utf-8")
    city, problems = check_city(folder)
    assert problems == [] and city is not None
    assert city.levels[0].label("en", plural=True) is None
    doc["areas"]["levels"][0]["plural_names"] = {"en": "districts"}
    doc["areas"]["levels"][0]["short_names"] = {"de": "Bz."}
    (folder / "city.json").write_text(json.dumps(doc), encoding="utf-8")
    city, problems = check_city(folder)
    assert city is None
    assert {p.field for p in problems} == {"areas.levels[0].plural_names.fr",
                                           "areas.levels[0].short_names"}


# --- Paris reads as before (first: the second city's fixtures set CARTE_CITY until the
# module ends) ----------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "heading", "outside"), [
    ("fr", "Arrondissement / quartier", "hors des arrondissements"),
    ("en", "Arrondissement / quarter", "outside the arrondissements"),
])
def test_paris_queue_and_item_use_its_arrondissements_and_quartiers(moderator, mdb, lang,
                                                                     heading, outside):
    inside = pending(mdb, title="Jardin des Rosiers", lon=2.3580, lat=48.8570)
    far = pending(mdb, title="Jardin lointain", lon=2.60, lat=48.70)  # outside Paris
    queue = _shown(moderator.get(f"/moderation/?lang={lang}"))
    assert queue.count(heading) >= 2 and outside in queue
    assert "4e arrondissement" in queue  # the pin's arrondissement, its quartier under it
    quartier = _shown(moderator.get(f"/moderation/submissions/{inside}?lang={lang}"))
    assert re.search(rf"{re.escape(heading)} 4e arrondissement — \S", quartier), quartier
    assert f"{heading} {outside}" in _shown(
        moderator.get(f"/moderation/submissions/{far}?lang={lang}"))


@pytest.mark.parametrize(("lang", "label"), [("fr", "Arrondissement ou quartier"),
                                             ("en", "Arrondissement or quarter")])
def test_paris_subscription_form_names_arrondissements_and_quartiers(client, lang, label):
    shown = _shown(client.get(f"/subscriptions?lang={lang}"))
    assert label in shown and "4e arrondissement" in shown


@pytest.mark.parametrize(("lang", "search", "home", "group"), [
    ("fr", "Lieu, quartier, adresse…", "Chez moi (quartier)", "Quartiers et arrondissements"),
    ("en", "Place, quarter, address…", "Home quarter", "Quarters and arrondissements"),
])
def test_paris_map_page_names_its_quartiers(client, lang, search, home, group):
    body = html.unescape(client.get(f"/?lang={lang}").get_data(as_text=True))
    assert f'placeholder="{search}"' in body and f">{home}</label>" in body
    assert f'"searchAreas": "{group}"' in body


def test_paris_panel_reads_the_quartier_then_the_arrondissement(client):
    body = client.get("/").get_data(as_text=True)
    data = json.loads(body.split('id="carte-data"', 1)[1].split(">", 1)[1].split("</script>")[0])
    assert data["levels"] == ["arrondissement", "quartier"]
    assert data["areaNames"] == ["quartier_name", "arrondissement_name"]
    app_js = Path(__file__).resolve().parents[2] / "webmap" / "static" / "map" / "app.js"
    assert "p.arrondissement_name" not in app_js.read_text(encoding="utf-8")


def test_paris_feed_names_the_quartier_then_the_arrondissement(client, mdb):
    published(mdb, title="Jardin Saint-Merri", lon=2.3522, lat=48.8566, category="jardin-test")
    body = client.get("/feeds/features.atom").get_data(as_text=True)
    summary = re.search(r"<summary[^>]*>([^<]*)</summary>", body).group(1)
    assert re.search(r"Jardin — [^,—]+, 4e arrondissement", summary), summary


def test_paris_twin_titles_are_told_apart_by_the_short_arrondissement(app, mdb):
    from webmap.views.search import search_features

    for lon, lat in ((2.3522, 48.8566), (2.3790, 48.8640)):  # the 4th, the 11th
        published(mdb, title="Jardin des Jumeaux", lon=lon, lat=lat, category="jardin-test")
    with app.app_context(), Session(mdb) as session:
        labels = sorted(r["label"] for r in search_features(session, "jumeaux", lang="fr",
                                                            limit=5))
    assert labels == ["Jardin des Jumeaux — 11e arr., Jardin",
                      "Jardin des Jumeaux — 4e arr., Jardin"]


# --- the second city -------------------------------------------------------------------

@pytest.fixture(scope="module")
def city_env() -> Iterator[City]:
    """``CARTE_CITY=lyonnaise`` with the tests' data folder, for this module's city tests."""
    with city_environment("lyonnaise") as city:
        yield city


@pytest.fixture(scope="module")
def city_db(cluster, city_env: City) -> Iterator[Engine]:
    """A database of the second city: its areas, categories and seed, one moderator."""
    from ingestion.seed import load_seed
    from moderation.accounts import hash_password

    with city_database(cluster, "carte_wording") as eng:
        with Session(eng) as session, session.begin():
            load_areas(session, city_env)
            load_seed(session, city_env)
            session.execute(text("INSERT INTO app_user (email, role, password_hash) "
                                 "VALUES (:e, 'moderator', :h)"),
                            {"e": MOD_EMAIL, "h": hash_password(PASSWORD)})
        yield eng


@pytest.fixture(scope="module")
def city_app(city_db: Engine, city_env: City, tmp_path_factory):
    from webmap import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": city_db.url.render_as_string(
        hide_password=False), "VAR_DIR": tmp_path_factory.mktemp("wording-var"),
        "SECRET_KEY": "test-secret-key"})
    assert app.config["CITY"].slug == "lyonnaise"
    return app


@pytest.fixture(scope="module")
def items(city_db: Engine) -> dict[str, int]:
    """A pending pin in a district, one outside every district, a published garden."""
    return {"inside": pending(city_db, title="Herb spiral", lon=IN_LY2[0], lat=IN_LY2[1],
                              category="community-garden", description="Herbs."),
            "outside": pending(city_db, title="Far orchard", lon=OUTSIDE[0], lat=OUTSIDE[1],
                               category="community-garden", description="Trees."),
            "feature": published(city_db, title="Riverbank garden", lon=IN_LY2[0],
                                 lat=IN_LY2[1], category="community-garden")}


@pytest.fixture(scope="module")
def city_moderator(city_app, items):
    client = city_app.test_client()
    assert login(client, MOD_EMAIL).status_code == 303
    return client


@pytest.mark.parametrize(("lang", "heading", "outside"), [
    ("en", "District", "outside the districts"),
    ("fr", "Secteur", "hors des secteurs"),
])
def test_the_queue_speaks_the_city_s_levels(city_moderator, items, lang, heading, outside):
    shown = _shown(city_moderator.get(f"/moderation/?lang={lang}"))
    assert f"{heading} Tous" in shown or f"{heading} All" in shown  # the filter's label
    assert shown.count(heading) >= 2  # the filter and the column
    assert "Rive gauche" in shown  # the pin's district
    assert outside in shown  # the far pin
    _no_paris_levels(shown, f"the queue ({lang})")


@pytest.mark.parametrize(("lang", "heading", "outside"), [
    ("en", "District", "outside the districts"),
    ("fr", "Secteur", "hors des secteurs"),
])
def test_item_and_feature_pages_speak_the_city_s_levels(city_moderator, items, lang, heading,
                                                         outside):
    inside = _shown(city_moderator.get(f"/moderation/submissions/{items['inside']}?lang={lang}"))
    assert f"{heading} Rive gauche" in inside
    _no_paris_levels(inside, f"the item page ({lang})")
    far = _shown(city_moderator.get(f"/moderation/submissions/{items['outside']}?lang={lang}"))
    assert f"{heading} {outside}" in far
    _no_paris_levels(far, f"the far item's page ({lang})")
    feature = _shown(city_moderator.get(f"/moderation/features/{items['feature']}?lang={lang}"))
    assert f"{heading} Rive gauche" in feature
    _no_paris_levels(feature, f"the feature page ({lang})")


@pytest.mark.parametrize(("lang", "label", "intro"), [
    ("en", "District", "category or part of the city you choose"),
    ("fr", "Secteur", "catégorie ou la partie de la ville de votre choix"),
])
def test_the_subscription_form_names_the_city_s_level(city_app, lang, label, intro):
    shown = _shown(city_app.test_client().get(f"/subscriptions?lang={lang}"))
    assert f"{label} " in shown and intro in shown
    assert "Rive gauche" in shown and "Colline" in shown  # its areas to choose from
    _no_paris_levels(shown, f"the subscription form ({lang})")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_atom_feed_names_the_city_s_areas(city_app, items, lang):
    client = city_app.test_client()
    for query in (f"?lang={lang}", f"?lang={lang}&area=LY2"):
        response = client.get("/feeds/features.atom" + query)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        summary = re.search(r"<summary[^>]*>([^<]*)</summary>", body)
        assert summary and "Rive gauche" in summary.group(1), body
        _no_paris_levels(body, f"the feed {query}")
    assert "— Rive gauche</title>" in client.get(
        f"/feeds/features.atom?lang={lang}&area=LY2").get_data(as_text=True)


def test_the_api_description_of_area_names_no_city_s_levels(city_app):
    doc = city_app.test_client().get("/api/v1/openapi.json").get_json()
    params = doc["paths"]["/api/v1/events.ics"]["get"]["parameters"]
    (area,) = [p for p in params if p["name"] == "area"]
    _no_paris_levels(area["description"], "the area parameter")


@pytest.mark.parametrize(("lang", "search", "home", "group"), [
    ("en", "Place, district, address…", "My home district", "Districts"),
    ("fr", "Lieu, secteur, adresse…", "Chez moi (secteur)", "Secteurs"),
])
def test_the_map_page_names_the_city_s_home_areas(city_app, lang, search, home, group):
    body = html.unescape(city_app.test_client().get(f"/?lang={lang}").get_data(as_text=True))
    assert f'placeholder="{search}"' in body and f">{home}</option>" in body
    assert f'"searchAreas": "{group}"' in body  # the heading of areas among search results
    visible = re.sub(r"<script.*?</script>", " ", body, flags=re.DOTALL)  # data, not words
    # French says "quartier" for any neighbourhood (the charter's "ouverts au quartier").
    words = re.compile(r"arrondissement" if lang == "fr" else r"arrondissement|quartier",
                       re.IGNORECASE)
    assert words.findall(re.sub(r"<[^>]+>", " ", visible)) == [], lang


def test_the_map_draws_levels_by_depth_from_the_city_s_slugs(city_app):
    body = city_app.test_client().get("/?lang=en").get_data(as_text=True)
    data = json.loads(body.split('id="carte-data"', 1)[1].split(">", 1)[1].split("</script>")[0])
    assert data["levels"] == ["district"]
    assert data["areaNames"] == ["district_name"]  # the panel's "where" of a place
    # The renderer draws a city's boundaries and area names by depth (DATA.levels): no
    # level is compared with Paris's names, so another city's basemap draws its own.
    script = (Path(__file__).resolve().parents[2] / "webmap" / "static" / "map" / "layers.js")
    code = re.sub(r"/\*.*?\*/", "", script.read_text(encoding="utf-8"), flags=re.DOTALL)
    code = re.sub(r"^\s*//.*$", "", code, flags=re.MULTILINE)  # comments may cite Paris
    assert "atDepth(f, 1)" in code
    assert not re.search(r"arrondissement|quartier", code, re.IGNORECASE)
