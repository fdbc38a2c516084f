"""On a phone, a resident's tracking page lists each photo they sent with its fate in
words (published with its thumbnail, hidden by the moderators with their reason,
refused at upload with why); the map's photo picker takes the server's limit, not a
number written in the script, and names a HEIC file with what to do."""

# ruff: noqa: F811 (pytest fixtures are imported by name)

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingestion.intake import hash_token
from moderation import actions
from moderation.photos import decide_photo
from tests.browser.conftest import axe_violations, screenshot
from tests.map_fixtures import drop_map_data, seed_map_features
from tests.moderation_fixtures import MOD, mdb, pending  # noqa: F401 - mdb is a fixture
from tests.photos_fixtures import add_photo, camera_jpeg

PHONE = {"width": 375, "height": 740}


def _tracked_submission(engine, var_dir) -> str:
    """A submission with three photos: published, hidden by a moderator, refused."""
    sid = pending(engine, title="Jardin partagé des Rosiers")
    token = secrets.token_urlsafe(24)
    shown = add_photo(engine, var_dir, submission_id=sid, position=1)
    hidden = add_photo(engine, var_dir, submission_id=sid, position=2, colour=(20, 90, 200))
    refused = add_photo(engine, var_dir, submission_id=sid, position=3, status="quarantined")
    with engine.begin() as conn:
        conn.execute(text("UPDATE submission SET tracking_token_hash = :h WHERE id = :s"),
                     {"h": hash_token(token), "s": sid})
        conn.execute(text("UPDATE photo SET status = 'refused', refusal_reason = 'polyglot', "
                          "original_name = 'scan_facture.jpg' WHERE id = :i"),
                     {"i": refused["id"]})
        conn.execute(text("UPDATE photo SET original_name = 'IMG_2043.JPG' WHERE id = :i"),
                     {"i": hidden["id"]})
        moderator = conn.execute(text("SELECT id FROM app_user WHERE email = :e"),
                                 {"e": MOD}).scalar_one()
        version = conn.execute(text("SELECT version FROM submission WHERE id = :s"),
                               {"s": sid}).scalar_one()
    with Session(engine) as s, s.begin():
        decide_photo(s, hidden["id"], "hide", actor_id=moderator,
                     reason="on reconnaît le visage d'un enfant")
    with Session(engine) as s, s.begin():
        actions.approve(s, sid, version, actor_id=moderator)
    assert shown["id"]
    return token


def test_the_tracking_page_on_a_phone_tells_each_photos_fate(page_factory, live_server, mdb,
                                                             var_dir):
    token = _tracked_submission(mdb, var_dir)
    page, rec = page_factory(**PHONE)
    page.goto(live_server + f"/track/{token}")
    items = page.locator("#photos li")
    expect(items).to_have_count(3)
    expect(items.nth(0).locator(".photo-label")).to_have_text("publiée")
    expect(items.nth(1).locator(".photo-label")).to_have_text(
        "masquée par la modération : on reconnaît le visage d'un enfant")
    expect(items.nth(2).locator(".photo-label")).to_have_text(
        "refusée : ce fichier contient autre chose qu'une image")
    expect(items.nth(2).locator(".photo-name")).to_have_text("Photo 3 « scan_facture.jpg »")
    thumb = items.nth(0).locator("img")
    thumb.scroll_into_view_if_needed()
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("i => i.naturalWidth") == 400  # our thumbnail, served
    assert items.nth(1).locator("img").count() == 0  # a hidden photo is not shown
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert axe_violations(page) == []
    page.locator("#photos").evaluate("e => e.previousElementSibling.scrollIntoView()")
    screenshot(page, "photos-tracking-phone")
    page.goto(live_server + f"/track/{token}?lang=en")
    expect(page.locator("#photos li").nth(1).locator(".photo-label")).to_have_text(
        "hidden by the moderators: on reconnaît le visage d'un enfant")
    expect(page.locator("#photos li").nth(2).locator(".photo-label")).to_have_text(
        "refused: this file holds something other than an image")
    assert rec.page_errors == [] and rec.foreign(live_server) == []


@pytest.fixture
def seeded(clean_db):
    yield seed_map_features(clean_db)
    drop_map_data(clean_db)


def test_the_picker_takes_the_servers_limit_and_names_a_heic_file(page_factory, live_server,
                                                                  app, seeded):
    app.config["PHOTO_MAX_PER_ITEM"] = 2
    page, rec = page_factory(**PHONE)
    page.goto(live_server + "/#map=16/48.85700/2.35400")
    page.get_by_role("button", name="Ajouter un lieu").click()
    expect(page.locator("#f-photos legend").first).to_have_text(
        "Photos (facultatif, 2 au plus)")
    jpeg = camera_jpeg(size=(640, 480))
    page.locator("#pin-photo-input").set_input_files([
        {"name": "IMG_1.JPG", "mimeType": "image/jpeg", "buffer": jpeg},
        {"name": "IMG_2.HEIC", "mimeType": "image/heic", "buffer": b"\0\0\0\x18ftypheic"},
        {"name": "IMG_3.JPG", "mimeType": "image/jpeg", "buffer": jpeg}])
    items = page.locator("#f-photos .photo-item")
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_contain_text("IMG_2.HEIC : photo au format HEIC")
    expect(items.nth(1)).to_contain_text("« Le plus compatible »")
    expect(page.locator("#err-photo_ids")).to_have_text(
        "2 photos au plus : IMG_3.JPG n'est pas ajoutée.")
    expect(page.locator("#pin-photo-input")).to_be_disabled()
    # JPEG first, and no image/* nor image/heic: an iPhone hands the page a JPEG.
    expect(page.locator("#pin-photo-input")).to_have_attribute(
        "accept", "image/jpeg,image/png,image/webp")
    assert rec.page_errors == []
