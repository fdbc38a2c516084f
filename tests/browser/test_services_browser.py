"""A service's panel on a phone: "Ouvert maintenant, ferme à 19 h" in the city's time.

The page's clock is fixed (Playwright) at a Tuesday 10:00 in Paris: the library open
until 19:00 says so, the pool that opens at 14:00 says when, in French and in English;
the list under the map says the same in short. Screenshots of the phone layout go to
``tests/browser/artifacts/services-*.png``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from tests.browser.conftest import axe_violations, screenshot
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures

PHONE = {"width": 390, "height": 844}
TUESDAY_10H = datetime(2026, 12, 8, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def services(categories_loaded, clean_db):
    def add(category, title, lon, lat, hours, text, period=None):
        attrs = {"opening_hours": text, "hours": [
            {"day": d, "from": a, "to": b} for d in WEEK[:6] for a, b in hours],
            "sources": ["paris-bibliotheques", "paris-wifi"], "wifi": True}
        if period:
            attrs["hours_period"] = period
        with Session(clean_db) as s, s.begin():
            return publish_feature(s, FeatureDraft(category=category, title=title, lon=lon,
                                                   lat=lat, attributes=attrs)).id
    return {
        "library": add("bibliotheque", "Bibliothèque Forney", 2.3590, 48.8540,
                       [("09:00", "19:00")], "du lundi au samedi 9h-19h"),
        "pool": add("piscine", "Piscine Saint-Merri", 2.3530, 48.8600,
                    [("14:00", "20:00")], "du lundi au samedi 14h-20h"),
        "last_season": add("piscine", "Piscine de l'été dernier", 2.3560, 48.8575,
                           [("14:00", "20:00")], "du lundi au samedi 14h-20h",
                           period="du 01/09/25 au 05/07/26"),
    }


def open_place(page_factory, live_server, place_id, locale):
    page, rec = page_factory(width=PHONE["width"], height=PHONE["height"], locale=locale)
    page.clock.set_fixed_time(TUESDAY_10H)
    page.goto(f"{live_server}/#map=16/48.85700/2.35600&f={place_id}")
    return page, rec


@pytest.mark.parametrize(("locale", "open_text", "closed_text", "list_text"), [
    ("fr-FR", "Ouvert maintenant, ferme à 19 h", "Fermé, ouvre à 14 h",
     "Ouvert · ferme à 19 h"),
    ("en-GB", "Open now, closes at 7 pm", "Closed, opens at 2 pm", "Open · closes at 7 pm"),
])
def test_the_panel_says_open_now_and_until_when(services, page_factory, live_server, locale,
                                                open_text, closed_text, list_text):
    page, rec = open_place(page_factory, live_server, services["library"], locale)
    expect(page.locator("#detail-title")).to_have_text("Bibliothèque Forney")
    expect(page.locator("#detail-hours .open-now")).to_have_text(open_text)
    # Its sources by name, never by code.
    expect(page.locator("#detail-attributes")).to_contain_text(
        "Répertoire des bibliothèques (BnF, CCFr)" if locale == "fr-FR"
        else "Directory of libraries (BnF, CCFr)")
    expect(page.locator("#detail-attributes")).not_to_contain_text("paris-bibliotheques")
    screenshot(page, f"services-open-phone-{locale[:2]}")
    page.goto(f"{live_server}/#map=16/48.85700/2.35600&f={services['pool']}")
    page.reload()
    expect(page.locator("#detail-title")).to_have_text("Piscine Saint-Merri")
    expect(page.locator("#detail-hours .open-now")).to_have_text(closed_text)
    screenshot(page, f"services-closed-phone-{locale[:2]}")
    assert axe_violations(page) == []
    # The list says it in short, under each title.
    page.goto(f"{live_server}/#map=16/48.85700/2.35600")
    page.reload()
    expect(page.locator(f"#list button[data-id='{services['library']}'] .open-state")
           ).to_have_text(list_text)
    assert rec.page_errors == [] and rec.foreign(live_server) == []


def test_ma_balade_offers_only_open_places(services, page_factory, live_server):
    page, rec = page_factory(locale="fr-FR")
    page.clock.set_fixed_time(TUESDAY_10H)
    page.goto(f"{live_server}/#map=16/48.85700/2.35600")
    page.locator("#btn-walk").click()
    box = page.locator("#w-open")
    expect(box).to_be_visible()
    expect(page.locator("label[for='w-open']")).to_have_text(
        "Seulement les lieux ouverts pendant la balade")
    box.check()
    with page.expect_request(lambda r: "/api/v1/walk?" in r.url) as walk:
        page.locator("#walk-form button[type=submit]").click()
    assert "open=1" in walk.value.url
    assert rec.page_errors == []


def test_a_season_s_hours_whose_season_is_over_say_so(services, page_factory, live_server):
    page, rec = open_place(page_factory, live_server, services["last_season"], "fr-FR")
    expect(page.locator("#detail-hours .open-now")).to_have_text(
        "Fermé, ouvre à 14 h — horaires donnés jusqu'au 05/07/26, à vérifier")
    assert rec.page_errors == []


def test_the_pin_form_asks_residents_nothing_only_imports_fill(services, page_factory,
                                                               live_server):
    page, rec = page_factory(locale="fr-FR")
    page.goto(f"{live_server}/#map=16/48.85700/2.35600")
    page.locator("#btn-pin").click()
    page.locator("#f-category").select_option("bibliotheque")
    fields = page.locator("#f-fields")
    expect(fields.locator("[data-field='opening_hours']")).to_have_count(1)
    expect(fields.locator("[data-field='wifi']")).to_have_count(1)
    for imported in ("sources", "other_names", "opening_hours_declared", "wifi_hotspots",
                     "cool_room", "hours_period"):
        expect(fields.locator(f"[data-field='{imported}']")).to_have_count(0)
    assert rec.page_errors == []
