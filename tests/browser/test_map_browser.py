"""The residents' map in a real Chromium: what people see and do, end to end."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.city import load_city
from geo.geocode import address_file, load_index
from geo.publish import FeatureDraft, publish_feature
from tests.browser.conftest import axe_violations, build_tiles, click_lonlat, screenshot
from tests.map_fixtures import NASTY_TITLE, drop_map_data, seed_map_features
from tiles.raster import BASE_ZOOMS

HOTEL_DE_VILLE = "#map=16/48.85700/2.35400"


@pytest.fixture
def ids(clean_db):
    yield seed_map_features(clean_db)
    drop_map_data(clean_db)


def list_titles(page) -> list[str]:
    return page.locator("#list li button").all_inner_texts()


def test_page_loads_from_our_origin_only_and_passes_axe(page_factory, live_server, ids,
                                                        clean_db, var_dir, base_tiles):
    build_tiles(clean_db, var_dir, base_tiles)
    page, rec = page_factory()
    failed = []
    page.on("response", lambda r: r.status >= 400 and failed.append(r.url))
    with page.expect_response(lambda r: r.url.endswith(".mvt") and r.status == 200):
        page.goto(live_server + "/" + HOTEL_DE_VILLE)
    # The far garden is out of view, yesterday's soup is over: neither is listed.
    expect(page.locator("#list li")).to_have_count(3)
    expect(page.locator(".leaflet-control-scale")).to_be_visible()
    expect(page.locator(".leaflet-control-layers")).to_be_visible()
    assert rec.foreign(live_server) == []
    assert any("/static/vendor/leaflet/leaflet.js" in u for u in rec.urls)
    assert any(re.search(r"/map/carte\.fr\.[0-9a-f]+\.js$", u) for u in rec.urls)
    assert any("/tiles/features/" in u and u.endswith(".mvt") for u in rec.urls)
    # A permalink loads its own view's tiles, not the default view's first; at z16 the
    # raster base layer (the fallback without a basemap) is past its zooms: not shown.
    base_z = {int(m) for m in re.findall(r"/tiles/base/(\d+)/", " ".join(rec.urls))}
    assert base_z == set() and BASE_ZOOMS[-1] < 16
    feature_z = {int(m) for m in re.findall(r"/tiles/features/(\d+)/", " ".join(rec.urls))}
    assert feature_z == {16}
    # The vector tiles are drawn and clickable: the garden's dot opens its panel.
    page.wait_for_timeout(300)
    click_lonlat(page, 2.3509, 48.8590)
    expect(page.locator("#detail-title")).to_have_text("Jardin Saint-Merri")
    expect(page.locator("#detail-description")).to_have_text("about merri")
    page.mouse.move(10, 400)  # hovering features and leaving them must not throw either
    # No 404 tile; this city has no basemap built, which /tiles/basemap.json says (404).
    assert [u for u in failed if not u.endswith("/tiles/basemap.json")] == []
    assert len(rec.console_errors) == len(failed)
    assert rec.page_errors == []
    page.get_by_role("button", name="Retour à la liste").click()
    assert axe_violations(page) == []
    screenshot(page, "map-desktop")
    # The density raster is an overlay of the layer control, off until asked for.
    assert not any("/tiles/density/" in u for u in rec.urls)
    page.locator(".leaflet-control-layers").hover()
    with page.expect_response(lambda r: "/tiles/density/" in r.url and r.status == 200):
        page.get_by_label("Densité").check()
    screenshot(page, "map-density")
    assert rec.foreign(live_server) == []


def test_hostile_titles_show_as_plain_text_and_run_nothing(page_factory, live_server, ids,
                                                          clean_db):
    page, rec = page_factory()
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    item = page.locator("#list li button", has_text="onerror")
    expect(item).to_have_count(1)
    assert NASTY_TITLE in item.inner_text()
    item.click()
    expect(page.locator("#detail-title")).to_have_text(NASTY_TITLE)
    # A resident reports it to the moderators from the panel.
    page.get_by_text("Signaler ce lieu aux modérateurs").click()
    page.locator("#flag-reason").fill("Ce titre ressemble à une attaque")
    page.get_by_role("button", name="Signaler", exact=True).click()
    expect(page.locator("#flag-done")).to_have_text("Merci : un modérateur va examiner ce lieu.")
    with clean_db.connect() as conn:
        flags = conn.execute(text("SELECT feature_id, reason FROM flag")).all()
    assert flags == [(ids["nasty"], "Ce titre ressemble à une attaque")]
    page.locator("#search").fill("onerror")
    expect(page.locator("#search-results [role=option]").first).to_contain_text(NASTY_TITLE)
    assert page.locator("img[src=x]").count() == 0
    assert rec.dialogs == [] and rec.page_errors == []
    screenshot(page, "detail-hostile-title")


def test_filters_change_the_list_and_live_in_the_permalink(page_factory, live_server, ids):
    page, _ = page_factory()
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    expect(page.locator("#list li")).to_have_count(3)
    page.locator("#filters input[value=soupe-map]").uncheck()
    expect(page.locator("#list li")).to_have_count(2)
    assert not any("Soupe" in t for t in list_titles(page))
    page.wait_for_function("() => location.hash.includes('cat=')")
    permalink = page.url
    assert "soupe-map" not in permalink.split("cat=")[1]
    other, _ = page_factory()
    other.goto(permalink)
    expect(other.locator("#filters input[value=soupe-map]")).not_to_be_checked()
    expect(other.locator("#filters input[value=jardin-map]")).to_be_checked()
    expect(other.locator("#list li")).to_have_count(2)


def test_profile_filters_the_map_and_is_kept_in_the_browser(page_factory, live_server, ids):
    page, _ = page_factory()
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    expect(page.locator("#list li")).to_have_count(3)
    page.get_by_role("button", name="Mon profil").click()
    page.locator("#profile-form input[name=interests][value=soupe-map]").check()
    page.locator("#p-budget").fill("60")
    assert axe_violations(page) == []
    screenshot(page, "profile")
    page.get_by_role("button", name="Enregistrer mon profil").click()
    expect(page.locator("#use-profile")).to_be_checked()
    expect(page.locator("#list li")).to_have_count(1)  # the soup on now, not yesterday's
    assert all("Soupe" in t for t in list_titles(page))
    page.reload()
    stored = page.evaluate("JSON.parse(localStorage.getItem('carte.profile'))")
    assert stored["interests"] == ["soupe-map"] and stored["budget"] == "60"
    expect(page.locator("#use-profile")).to_be_checked()  # from the permalink
    expect(page.locator("#list li")).to_have_count(1)


def test_walk_is_planned_drawn_and_listed(page_factory, live_server, ids):
    page, _ = page_factory()
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    page.get_by_role("button", name="Ma balade").click()
    page.locator("#w-budget").fill("60")
    page.get_by_role("button", name="Préparer ma balade").click()
    expect(page.locator("#walk-list li")).to_have_count(3)  # not yesterday's, not the far one
    expect(page.locator("#walk-summary")).to_contain_text("3 étapes")
    # On the map: the line (and its white casing), the start and the three stops.
    assert page.evaluate("Carte.walk.getLayers().length") == 6
    assert axe_violations(page) == []
    screenshot(page, "walk")


def test_search_finds_an_address_and_moves_the_map(page_factory, live_server, ids):
    load_index(address_file(load_city("paris")))  # as after the first page view of a worker
    page, rec = page_factory()
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    page.locator("#search").fill("12 rue de rivoli")
    option = page.locator("#search-results [role=option]", has_text="12 Rue de Rivoli")
    expect(option).to_have_count(1)
    page.locator("#search").press("ArrowDown")
    page.locator("#search").press("Enter")
    page.wait_for_function("() => location.hash.startsWith('#map=18/48.8556')")
    assert rec.foreign(live_server) == []


def test_locate_me_centres_the_map_on_the_position(page_factory, live_server, ids):
    page, _ = page_factory(geolocation={"latitude": 48.8606, "longitude": 2.3376})
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    page.get_by_role("button", name="Me localiser").click()
    page.wait_for_function("() => location.hash.includes('/48.86060/2.33760')")
    expect(page.locator("#status")).to_have_text("Vous êtes ici")


def test_english_page_and_script_strings(page_factory, live_server, ids):
    page, _ = page_factory(locale="en-GB")
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#list-status")).to_have_text("3 places in view")
    expect(page.get_by_role("button", name="Add a place")).to_be_visible()
    expect(page.locator(".leaflet-control-layers")).to_be_attached()
    assert axe_violations(page) == []
    screenshot(page, "map-english")


def test_search_tells_two_places_of_one_title_apart_by_their_area(page_factory,
                                                                  live_server, ids,
                                                                  clean_db):
    with Session(clean_db) as s, s.begin():
        publish_feature(s, FeatureDraft(category="jardin-map", title="Jardin Saint-Merri",
                                        lon=2.3950, lat=48.8720), max_zoom=2)
    page, rec = page_factory()
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    page.locator("#search").fill("Jardin Saint-Merri")
    options = page.locator("#search-results [role=option]", has_text="Jardin Saint-Merri")
    expect(options).to_have_count(2)
    texts = options.all_inner_texts()
    # Each names its own arrondissement, so a resident knows which one to open.
    assert len(set(texts)) == 2, texts
    assert any("4e" in t for t in texts) and any("20e" in t for t in texts), texts
    assert rec.page_errors == []
