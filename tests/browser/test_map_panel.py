"""The resident's side of the map in a real Chromium: list and map showing the same set,
filters (profile, dates), a place's panel, the permalink, copy-link, the chooser, the
keyboard path, axe in both languages on a desktop and on a phone.

Screenshots of the phone layout (sheet collapsed and open, French and English) go to
``tests/browser/artifacts/``.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from tests.basemap_fixtures import basemap_var  # noqa: F401  (a pytest fixture)
from tests.browser.conftest import axe_violations, click_lonlat, screenshot
from tests.map_fixtures import PARIS, drop_map_data, seed_panel_features, this_weekend
from tiles.build import build_full
from tiles.options import TileOptions

HOTEL_DE_VILLE = "#map=16/48.85700/2.35400"
PHONE = {"width": 390, "height": 844}
# In view at the Hôtel de Ville: every fixture but yesterday's soup and the far garden.
IN_VIEW = {"merri", "nasty", "soupe", "weekend", "nextweek", "access_known", "access_lacks",
           "hours", "twin_a", "twin_b"}


@pytest.fixture
def ids(clean_db):
    yield seed_panel_features(clean_db)
    drop_map_data(clean_db)


@pytest.fixture
def tiles(ids, clean_db, var_dir):
    """The point tiles of the fixtures, as ``carte tiles build`` writes them."""
    build_full(clean_db, var_dir, TileOptions(processes=1), density=False)
    return ids


@pytest.fixture
def city(tiles, var_dir, basemap_var):  # noqa: F811
    """The point tiles and a basemap of the streets around: the map as residents see it."""
    for name in ("basemap.mbtiles", "basemap.pmtiles"):
        shutil.copy2(basemap_var / "tiles" / name, var_dir / "tiles" / name)
    return tiles


def open_map(page, base: str, view: str = HOTEL_DE_VILLE) -> None:
    page.goto(base + "/" + view)
    page.wait_for_function("() => window.CarteLayers && CarteLayers.ready")


def list_ids(page) -> set[int]:
    return {int(i) for i in page.locator("#list li button").evaluate_all(
        "bs => bs.map(b => b.dataset.id)")}


def wait_list(page, expected: set[int]) -> None:
    """Wait until the list shows exactly ``expected`` (ids)."""
    page.wait_for_function(
        "(want) => { const got = Array.from(document.querySelectorAll('#list li button'))"
        ".map(b => +b.dataset.id).sort((a, b) => a - b);"
        " return JSON.stringify(got) === JSON.stringify(want); }", arg=sorted(expected))


def drawn_ids(page) -> set[int]:
    return {int(p["id"]) for p in page.evaluate("CarteLayers.drawnPoints()")}


def places_queries(rec) -> list[str]:
    """Query strings of the point tiles the map asked for, in order."""
    return [u.split("?", 1)[1] if "?" in u else "" for u in rec.urls
            if "/tiles/features/" in u and ".mvt" in u]


def save_profile(page, *, access: tuple[str, ...] = (), match: str = "known",
                 days: tuple[str, ...] = (), hours: tuple[str, str] | None = None) -> None:
    page.locator("#btn-profile").evaluate("b => b.click()")  # in the menu on a phone
    page.locator("#profile-form input[name=access], #profile-form input[name=days]") \
        .evaluate_all("bs => bs.forEach(b => { b.checked = false; })")
    for slug in access:
        page.locator(f"#profile-form input[name=access][value={slug}]").check()
    page.locator(f"#profile-form input[name=access_match][value={match}]").check()
    for day in days:
        page.locator(f"#profile-form input[name=days][value={day}]").check()
    if hours:
        page.locator("#p-from").fill(hours[0])
        page.locator("#p-to").fill(hours[1])
    page.locator("#profile-form button[type=submit]").click()


def test_list_and_map_show_the_same_set_nearest_first_without_past_events(
        page_factory, live_server, tiles):
    ids = tiles
    page, rec = page_factory()
    open_map(page, live_server)
    wait_list(page, {ids[k] for k in IN_VIEW})
    expect(page.locator("#list-status")).to_have_text("10 lieux dans la vue")
    # Nearest the centre first, categories mixed; yesterday's soup is gone from both.
    assert page.locator("#list li button").first.get_attribute("data-id") == str(ids["nasty"])
    assert "Soupe d'hier" not in " ".join(page.locator("#list li").all_inner_texts())
    page.wait_for_function("() => CarteLayers.drawnPoints().length >= 10")
    bounds = page.evaluate("(() => { const b = map_carte.getBounds();"
                           " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()")
    in_view = {int(p["id"]) for p in page.evaluate("CarteLayers.drawnPoints()")
               if bounds[0] <= p["lon"] <= bounds[2] and bounds[1] <= p["lat"] <= bounds[3]}
    assert in_view == list_ids(page)
    assert ids["past"] not in drawn_ids(page)
    # Several places at one spot: a chooser, each with its swatch, title and category.
    page.evaluate("map_carte.setView([48.8565, 2.3570], 18, {animate: false})")
    page.wait_for_function(
        "() => CarteLayers.drawnPoints().some(p => p.title === 'Jardin jumeau A')")
    click_lonlat(page, 2.3570, 48.8565)
    expect(page.locator("#chooser-section")).to_be_visible()
    choices = page.locator("#chooser button")
    expect(choices).to_have_count(2)
    expect(choices.filter(has_text="Jardin jumeau B")).to_contain_text("Jardin partagé (test)")
    assert choices.first.locator(".swatch").count() == 1
    choices.filter(has_text="Jardin jumeau B").click()
    expect(page.locator("#detail-title")).to_have_text("Jardin jumeau B")
    expect(page.locator("#detail-title")).to_be_focused()
    screenshot(page, "panel-desktop-place")
    page.locator("#detail-section [data-close]").click()
    expect(page.locator(f"#chooser button[data-id='{ids['twin_b']}']")).to_be_focused()
    assert rec.foreign(live_server) == [] and rec.page_errors == []


def test_a_crowded_view_lists_the_hundred_nearest_and_says_how_many_are_in_view(
        page_factory, live_server, ids, clean_db):
    with Session(clean_db) as s, s.begin():
        for i in range(110):
            publish_feature(s, FeatureDraft(
                category="jardin-map", title=f"Bac {i}", lon=2.3500 + (i % 11) * 0.0008,
                lat=48.8550 + (i // 11) * 0.0004), max_zoom=2)
    page, _ = page_factory(locale="en-GB")
    open_map(page, live_server, "?lang=en" + HOTEL_DE_VILLE)
    expect(page.locator("#list-status")).to_have_text(
        "120 places in view — the 100 nearest are listed")
    expect(page.locator("#list li")).to_have_count(100)
    centre = page.evaluate("[map_carte.getCenter().lat, map_carte.getCenter().lng]")
    distances = page.evaluate("""(c) => Array.from(document.querySelectorAll('#list button'))
        .map(b => b.querySelector('.dist').textContent)""", centre)
    metres = [float(d.replace(" km", "").replace(",", ".")) * 1000 if "km" in d
              else float(d.replace(" m", "").replace(",", "")) for d in distances]
    assert metres == sorted(metres)  # nearest first


def test_profile_filters_change_map_and_list_alike(page_factory, live_server, ids):
    page, rec = page_factory()
    open_map(page, live_server)
    wait_list(page, {ids[k] for k in IN_VIEW})
    # "Only what suits my profile" without a profile yet opens the form to make one.
    page.locator("#use-profile").check()
    expect(page.locator("#profile-title")).to_be_focused()
    save_profile(page, access=("step_free_access",), match="known")
    wait_list(page, {ids["access_known"]})
    expect(page.locator("#list-status")).to_have_text("1 lieu dans la vue")
    page.wait_for_function("() => CarteLayers.drawnPoints().length === 1")
    assert drawn_ids(page) == {ids["access_known"]}
    assert "accessible=step_free_access&accessible_match=known" in places_queries(rec)[-1]
    # "Hide only places known not to suit me": unknown places come back, not the butte.
    save_profile(page, access=("step_free_access",), match="not_unsuitable")
    wait_list(page, {ids[k] for k in IN_VIEW - {"access_lacks"}})
    page.wait_for_function(
        f"() => !CarteLayers.drawnPoints().some(p => p.id == {ids['access_lacks']})"
        " && CarteLayers.drawnPoints().length >= 9")
    # Days and hours: the Monday-morning garden does not fit Saturday afternoons.
    save_profile(page, days=("sat",), hours=("14:00", "18:00"))
    page.wait_for_function(f"() => !Array.from(document.querySelectorAll('#list button'))"
                           f".some(b => b.dataset.id == '{ids['hours']}')")
    assert "days=sat&hours=14%3A00-18%3A00" in places_queries(rec)[-1]
    page.wait_for_function(f"() => !CarteLayers.drawnPoints().some(p => p.id == {ids['hours']})")
    # The profile is off: everything is back, on the map as in the list.
    page.locator("#use-profile").uncheck()
    wait_list(page, {ids[k] for k in IN_VIEW})
    assert rec.foreign(live_server) == [] and rec.page_errors == []


def test_my_walk_follows_the_profile_and_starts_now(page_factory, live_server, ids):
    page, rec = page_factory()
    open_map(page, live_server)
    save_profile(page, access=("step_free_access",), match="known")
    wait_list(page, {ids["access_known"]})
    page.locator("#btn-walk").click()
    start = datetime.strptime(page.locator("#w-at").input_value(), "%Y-%m-%dT%H:%M")
    assert abs((datetime.now() - start).total_seconds()) < 180  # the browser's clock: now
    page.locator("#walk-form button[type=submit]").click()
    expect(page.locator("#walk-list li")).to_have_count(1)
    expect(page.locator("#walk-list")).to_contain_text("Jardin de plain-pied")
    walk = [u for u in rec.urls if "/api/v1/walk?" in u][-1]
    assert "accessible=step_free_access" in walk and "accessible_match=known" in walk
    # Drawn on the map, over the basemap, under the places, letting clicks through.
    assert page.evaluate("Carte.walk.getLayers().length") == 4
    assert page.evaluate("map_carte.getPane('carteWalk').style.pointerEvents") == "none"


def test_this_weekend_shows_the_weekend_event_only_among_events(page_factory, live_server, ids):
    page, rec = page_factory()
    open_map(page, live_server)
    wait_list(page, {ids[k] for k in IN_VIEW})
    page.locator("#date-filter").select_option("weekend")
    events = {ids["weekend"]}
    if datetime.now(UTC).astimezone(PARIS).date() in this_weekend(datetime.now(UTC)):
        events.add(ids["soupe"])  # today is in the weekend: the soup happening now too
    places = {ids[k] for k in IN_VIEW if k not in ("soupe", "weekend", "nextweek")}
    wait_list(page, places | events)
    # The map draws the same events (filtered tiles of the same query).
    page.wait_for_function(
        "(want) => JSON.stringify(CarteLayers.drawnPoints().filter(p => p.category === 'soupe-map')"
        ".map(p => +p.id).sort((a, b) => a - b)) === JSON.stringify(want)", arg=sorted(events))
    query = places_queries(rec)[-1]
    assert "from=" in query and "to=" + this_weekend(datetime.now(UTC))[-1].isoformat() in query
    page.wait_for_function("() => location.hash.includes('when=weekend')")
    # A chosen range far ahead: no event at all, places stay.
    page.locator("#date-filter").select_option("range")
    page.locator("#date-from").fill("2031-01-01")
    page.locator("#date-to").fill("2031-01-02")
    page.locator("#date-to").dispatch_event("change")
    wait_list(page, places)
    # The permalink keeps the choice.
    other, _ = page_factory()
    open_map(other, live_server, "#" + page.url.split("#", 1)[1])
    expect(other.locator("#date-filter")).to_have_value("range")
    expect(other.locator("#date-from")).to_have_value("2031-01-01")
    wait_list(other, places)
    # One button brings every category and date back.
    other.locator("#filters-reset").click()
    wait_list(other, {ids[k] for k in IN_VIEW})
    expect(other.locator("#filters-count")).to_be_empty()
    assert rec.page_errors == []


def test_a_place_panel_shows_labels_links_hours_and_accessibility(page_factory, live_server,
                                                                  ids):
    page, rec = page_factory()
    # A permalink opens its place wherever the map is centred, and leaves the centre.
    open_map(page, live_server, f"#map=15/48.86500/2.34000&f={ids['access_known']}")
    expect(page.locator("#detail-title")).to_have_text("Jardin de plain-pied")
    expect(page.locator("#detail-title")).to_be_focused()
    assert page.evaluate("map_carte.getCenter().lat.toFixed(3)") == "48.865"
    attributes = page.locator("#detail-attributes")
    expect(attributes).to_contain_text("Bacs comestibles")  # the label, never "edible"
    assert "edible" not in attributes.inner_text()
    expect(attributes).to_contain_text("oui")
    link = attributes.get_by_role("link", name="https://example.org/jardin")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(page.locator("#detail-access")).to_contain_text("Accès de plain-pied")
    expect(page.locator("#detail-access")).to_contain_text("Places assises")
    expect(page.locator("#detail-ics")).to_be_hidden()  # a place, not an event
    # A permalink without a view centres the map on its place.
    open_map(page, live_server, f"#f={ids['access_lacks']}")
    expect(page.locator("#detail-title")).to_have_text("Jardin sur la butte")
    page.wait_for_function("() => Math.abs(map_carte.getCenter().lng - 2.3545) < 1e-4")
    expect(page.locator("#detail-access")).to_contain_text("Pas d'accès de plain-pied")
    assert page.locator("#detail-attributes a").count() == 0  # javascript: is no link
    expect(page.locator("#detail-attributes")).to_contain_text("javascript:alert(1)")
    # Unknown accessibility says so; opening hours read as a week.
    open_map(page, live_server, f"{HOTEL_DE_VILLE}&f={ids['hours']}")
    expect(page.locator("#detail-access")).to_have_text("Accessibilité : inconnue")
    week = page.locator("#detail-hours .week li")
    expect(week).to_have_count(7)
    local = datetime.now(UTC).astimezone(PARIS)
    hm = local.strftime("%H:%M")
    until = {0: ("09:00", "12:00"), 2: ("14:00", "18:00")}.get(local.weekday())
    open_now = until and until[0] <= hm < until[1]
    # The exact sentence ("ferme à 12 h", "ouvre à 14 h (mercredi)") is services.js's,
    # tested in test_services_browser.py; here: open or closed, right for the hour.
    expect(page.locator("#detail-hours .open-now")).to_have_text(
        re.compile(r"^Ouvert maintenant" if open_now else r"^Fermé"))
    expect(week.nth(0)).to_have_text(re.compile(r"Lundi\s*09:00–12:00"))
    expect(week.nth(1)).to_have_text(re.compile(r"Mardi\s*fermé"))
    # An event: its dates in Paris time and its calendar file.
    open_map(page, live_server, f"{HOTEL_DE_VILLE}&f={ids['weekend']}")
    expect(page.locator("#detail-when")).to_contain_text("Quand")
    expect(page.locator("#detail-ics")).to_have_attribute(
        "href", f"/api/v1/features/{ids['weekend']}.ics")
    ics = page.request.get(live_server + f"/api/v1/features/{ids['weekend']}.ics")
    assert ics.ok and ics.headers["content-type"].startswith("text/calendar")
    assert "Disco Soupe du week-end" in ics.text()
    # An unknown id says so, in the panel.
    open_map(page, live_server, f"{HOTEL_DE_VILLE}&f=987654321")
    expect(page.locator("#detail-title")).to_have_text(
        "Ce lieu n'existe pas ou a été retiré de la carte.")
    expect(page.locator("#copy-link")).to_be_hidden()
    assert rec.foreign(live_server) == [] and rec.page_errors == []


def test_copy_link_and_report_once(page_factory, live_server, ids, browser):
    page, rec = page_factory()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    open_map(page, live_server)
    page.locator(f"#list button[data-id='{ids['merri']}']").click()
    expect(page.locator("#detail-title")).to_have_text("Jardin Saint-Merri")
    page.get_by_role("button", name="Copier le lien").click()
    expect(page.locator("#copy-status")).to_have_text("Lien copié.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{live_server}/#map=16/48.85900/2.35090&f={ids['merri']}"
    # The link opens the place in another browser.
    other, _ = page_factory()
    open_map(other, live_server, copied.split("/", 3)[3])
    expect(other.locator("#detail-title")).to_have_text("Jardin Saint-Merri")
    # The clipboard refused: the link is shown, selected, to copy by hand.
    page.evaluate("() => { navigator.clipboard.writeText ="
                  " () => Promise.reject(new Error('denied')); }")
    page.get_by_role("button", name="Copier le lien").click()
    expect(page.locator("#copy-url")).to_be_visible()
    expect(page.locator("#copy-url")).to_have_value(copied)
    expect(page.locator("#copy-url")).to_be_focused()
    # Reporting: one thank-you, and the form is not offered again for this place.
    page.get_by_text("Signaler ce lieu aux modérateurs").click()
    page.locator("#flag-reason").fill("Le jardin est fermé depuis un an")
    page.get_by_role("button", name="Signaler", exact=True).click()
    expect(page.locator("#flag-done")).to_have_text("Merci : un modérateur va examiner ce lieu.")
    expect(page.locator("#flag-form")).to_be_hidden()
    page.locator("#detail-section [data-close]").click()
    page.locator(f"#list button[data-id='{ids['merri']}']").click()
    expect(page.locator("#flag-form")).to_be_hidden()
    assert page.get_by_text("Merci : un modérateur").count() == 1
    assert rec.page_errors == []


def test_keyboard_alone_reaches_and_opens_a_place_from_the_list(page_factory, live_server, ids):
    page, _ = page_factory()
    open_map(page, live_server)
    wait_list(page, {ids[k] for k in IN_VIEW})
    page.keyboard.press("Tab")
    expect(page.locator("#skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#list-title")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    second = page.locator("#list li button").nth(1)
    expect(second).to_be_focused()
    title = second.locator(".title").evaluate("t => t.firstChild.textContent")
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_have_text(title)
    expect(page.locator("#detail-title")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#detail-section [data-close]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#list li button").nth(1)).to_be_focused()
    # A phone's "back" closes a place opened from the list, and only that.
    page.locator("#list li button").nth(2).click()
    expect(page.locator("#detail-section")).to_be_visible()
    assert "&f=" in page.url
    page.go_back()
    expect(page.locator("#list-section")).to_be_visible()
    expect(page.locator("#list li button").nth(2)).to_be_focused()
    assert "&f=" not in page.url and page.url.startswith(live_server)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_axe_clean_with_the_list_and_a_place_open_on_desktop_and_phone(
        page_factory, live_server, ids, lang):
    for size in ({"width": 1280, "height": 800}, PHONE):
        page, rec = page_factory(locale="en-GB" if lang == "en" else "fr-FR", **size)
        open_map(page, live_server, f"?lang={lang}" + HOTEL_DE_VILLE)
        wait_list(page, {ids[k] for k in IN_VIEW})
        if size is PHONE:
            page.locator("#sheet-handle").click()
            expect(page.locator("#list-title")).to_be_in_viewport()
        assert axe_violations(page) == [], (lang, size)
        page.locator(f"#list button[data-id='{ids['access_known']}']").click()
        expect(page.locator("#detail-access")).not_to_be_empty()
        assert axe_violations(page) == [], (lang, size)
        assert rec.page_errors == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_phone_layout_map_fills_the_screen_and_the_sheet_slides_up(
        page_factory, live_server, city, lang):
    ids = city
    page, rec = page_factory(locale="en-GB" if lang == "en" else "fr-FR", **PHONE)
    open_map(page, live_server, f"?lang={lang}" + HOTEL_DE_VILLE)
    wait_list(page, {ids[k] for k in IN_VIEW})
    page.wait_for_function("() => CarteLayers.drawnPoints().length >= 10")
    count = "10 places in view" if lang == "en" else "10 lieux dans la vue"
    handle = page.locator("#sheet-handle")
    expect(handle).to_contain_text(count)
    expect(handle).to_have_attribute("aria-expanded", "false")
    box = page.locator("#map_carte").bounding_box()
    assert box["width"] == 390 and box["height"] > 844 * 0.8
    fab = page.get_by_role("button", name="Add a place" if lang == "en" else "Ajouter un lieu")
    expect(fab).to_be_visible()
    expect(page.locator("#list-title")).not_to_be_in_viewport()
    # The attribution does not cover the scale bar.
    scale = page.locator(".leaflet-control-scale").bounding_box()
    credit = page.locator(".leaflet-control-attribution").bounding_box()
    assert scale["x"] + scale["width"] <= credit["x"] or \
        scale["y"] + scale["height"] <= credit["y"], (scale, credit)
    screenshot(page, f"panel-phone-collapsed-{lang}")
    handle.click()
    expect(handle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#list li").first).to_be_in_viewport()
    # Every control the resident can reach is at least 44 px tall.
    small = page.evaluate("""() => Array.from(document.querySelectorAll(
        'button, select, input:not([type=checkbox]):not([type=radio]), summary, .lang'))
        .filter(e => e.offsetParent !== null && !e.closest('[inert]'))
        .map(e => [e.id || e.textContent.trim().slice(0, 30), e.getBoundingClientRect().height])
        .filter(([, h]) => h > 0 && h < 44)""")
    assert small == []
    screenshot(page, f"panel-phone-half-{lang}")
    page.locator("#filters-box summary").click()
    page.locator("#date-filter").select_option("range")
    screenshot(page, f"panel-phone-filters-{lang}")
    page.locator("#date-filter").select_option("")
    page.locator("#filters-box summary").click()
    page.locator("#sheet-size").click()
    page.locator(f"#list button[data-id='{ids['access_known']}']").click()
    expect(page.locator("#detail-title")).to_be_in_viewport()
    screenshot(page, f"panel-phone-place-{lang}")
    # The sheet by keyboard (arrows on its handle) and by dragging its handle.
    page.locator("#detail-section [data-close]").click()
    handle.focus()
    handle.press("ArrowDown")
    handle.press("ArrowDown")
    expect(handle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#panel-body")).to_have_attribute("inert", "")
    handle.press("ArrowUp")
    expect(page.locator("body")).to_have_class(re.compile("sheet-half"))
    handle.press("Enter")
    expect(page.locator("body")).to_have_class(re.compile("sheet-collapsed"))
    page.wait_for_timeout(300)  # the sheet's slide
    grip = handle.bounding_box()
    page.mouse.move(grip["x"] + 195, grip["y"] + 20)
    page.mouse.down()
    page.mouse.move(grip["x"] + 195, grip["y"] - 200, steps=8)
    page.mouse.move(grip["x"] + 195, grip["y"] - 400, steps=8)
    page.mouse.up()
    expect(page.locator("body")).to_have_class(re.compile("sheet-half"))
    expect(page.locator("#list li").first).to_be_in_viewport()
    # The menu holds the other actions; the language link keeps the view.
    page.locator("#btn-menu").click()
    expect(page.locator("#btn-locate")).to_be_visible()
    expect(page.locator("#btn-locate")).to_be_focused()
    screenshot(page, f"panel-phone-menu-{lang}")
    page.keyboard.press("Escape")
    expect(page.locator("#btn-menu")).to_be_focused()
    assert rec.foreign(live_server) == [] and rec.page_errors == []
