"""A resident drops a pin on a phone; a moderator approves it; it is on the map."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.orm import Session

from moderation.accounts import create_user
from tests.browser.conftest import axe_violations, build_tiles, click_lonlat, screenshot
from tests.map_fixtures import drop_map_data, seed_map_features
from tiles.build import build_incremental
from tiles.options import TileOptions

PHONE = {"width": 375, "height": 740}
HOTEL_DE_VILLE = "#map=16/48.85700/2.35400"
PASSWORD = "correct horse battery staple"
TITLE = "Bac « Incroyables Comestibles » rue du Temple ${x} <b>"


@pytest.fixture
def ids(clean_db):
    ids = seed_map_features(clean_db)
    with Session(clean_db) as s, s.begin():
        create_user(s, "mod-map@example.org", "moderator", PASSWORD)
    yield ids
    drop_map_data(clean_db)


def drop_pin(page) -> str:
    """Drop a pin through the form, as a resident would; returns the tracking URL."""
    page.get_by_role("button", name="Ajouter un lieu").click()
    expect(page.locator("#pin-where")).to_contain_text("Cliquez")
    box = page.locator("#map_carte").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    expect(page.locator("#pin-where")).to_contain_text("Épingle posée")
    page.locator("#f-category").select_option("jardin-map")
    page.locator("#f-title").fill(TITLE)
    page.locator("#f-description").fill("Des herbes aromatiques à partager.")
    page.locator("#attr-opening_hours").fill("tous les jours")
    # Opening hours as days and hours (slots), not as text the filters could not read.
    page.get_by_role("button", name="Ajouter un créneau").click()
    slot = page.locator("#attr-hours [data-slot]").first
    slot.locator("[data-slot-day]").select_option("sat")
    slot.locator("[data-slot-time=to]").fill("18:00")
    slot.get_by_role("button", name="Copier au jour suivant").click()  # Sunday, same hours
    # The charter must be accepted first: the form says so and sends nothing.
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#err-charter")).not_to_be_empty()
    page.locator("#f-charter").check()
    page.get_by_role("button", name="Envoyer").click()
    link = page.locator("#pin-tracking")
    expect(link).to_be_visible()
    return link.get_attribute("href")


def test_pin_dropped_on_a_phone_reaches_postgis_with_a_tracking_link(
        page_factory, live_server, ids, clean_db):
    page, rec = page_factory(**PHONE)
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    expect(page.locator("#list li")).to_have_count(3)  # yesterday's soup is over
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    href = drop_pin(page)
    assert re.fullmatch(r"/track/[A-Za-z0-9_\-]+", href)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "pin-phone-done")
    with clean_db.connect() as conn:
        row = conn.execute(text(
            "SELECT status, category, title, attributes, ST_X(geom), ST_Y(geom) "
            "FROM submission ORDER BY id DESC LIMIT 1")).one()
    assert row.status == "pending" and row.category == "jardin-map" and row.title == TITLE
    assert row.attributes == {"opening_hours": "tous les jours",
                              "hours": [{"day": "sat", "from": "09:00", "to": "18:00"},
                                        {"day": "sun", "from": "09:00", "to": "18:00"}]}
    assert 2.34 < row[4] < 2.36 and 48.85 < row[5] < 48.87
    tracking = page_factory(**PHONE)[0]
    tracking.goto(live_server + href)
    expect(tracking.locator("body")).to_contain_text(TITLE)
    assert rec.foreign(live_server) == [] and rec.dialogs == []


def test_pin_form_is_accessible_on_a_phone_and_usable_without_a_pointer(
        page_factory, live_server, ids):
    page, _ = page_factory(**PHONE)
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    page.get_by_role("button", name="Ajouter un lieu").click()
    expect(page.locator("#attr-opening_hours")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "pin-phone-form")
    page.get_by_role("button", name="Au centre de la carte").press("Enter")
    expect(page.locator("#pin-where")).to_contain_text("(48.85700, 2.35400)")


def test_a_moderator_approves_the_pin_in_the_browser_and_it_is_on_the_map(
        page_factory, live_server, ids, clean_db, var_dir, base_tiles):
    build_tiles(clean_db, var_dir, base_tiles)
    resident, _ = page_factory(**PHONE)
    resident.goto(live_server + "/" + HOTEL_DE_VILLE)
    drop_pin(resident)
    with clean_db.connect() as conn:
        sub_id = conn.execute(text("SELECT max(id) FROM submission")).scalar_one()

    moderator, _ = page_factory()
    moderator.goto(live_server + "/auth/login")
    moderator.locator("#email").fill("mod-map@example.org")
    moderator.locator("#password").fill(PASSWORD)
    moderator.get_by_role("button", name=re.compile("Se connecter")).click()
    moderator.goto(live_server + f"/moderation/submissions/{sub_id}")
    moderator.get_by_role("button", name="Approuver tel quel").click()
    with clean_db.connect() as conn:
        feature_id = conn.execute(text(
            "SELECT feature_id FROM submission WHERE id = :i"), {"i": sub_id}).scalar_one()
        lon, lat = conn.execute(text(
            "SELECT ST_X(geom), ST_Y(geom) FROM feature WHERE id = :i"), {"i": feature_id}).one()
    assert feature_id is not None
    # What `carte tiles watch` does after every decision: rebuild the dirty tiles.
    build_incremental(clean_db, var_dir, TileOptions(processes=1))

    viewer, rec = page_factory()
    viewer.goto(live_server + f"/#map=16/{lat:.5f}/{lon:.5f}")
    viewer.wait_for_timeout(500)
    click_lonlat(viewer, lon, lat)  # the new dot, drawn from the rebuilt vector tile
    expect(viewer.locator("#detail-title")).to_have_text(TITLE)
    viewer.get_by_role("button", name="Retour à la liste").click()
    item = viewer.locator("#list li button", has_text="Incroyables Comestibles")
    expect(item).to_have_count(1)
    item.click()
    expect(viewer.locator("#detail-title")).to_have_text(TITLE)
    expect(viewer.locator("#detail-attributes")).to_contain_text("tous les jours")
    expect(viewer.locator("#detail-hours .week li").nth(5)).to_contain_text("09:00–18:00")
    screenshot(viewer, "approved-pin-on-map")
    assert rec.dialogs == [] and rec.page_errors == []
