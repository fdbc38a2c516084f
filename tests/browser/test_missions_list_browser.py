"""Full missions say so where a resident chooses one: the map's list, on a phone.

The list (drawn by app.js) gets "Complet · liste d'attente" or "N places restantes" on
each mission and event with a capacity, from ``GET /api/v1/missions/places``; the
filters' "Seulement les missions avec des places" hides the full ones and says how
many; opening a full mission from the list offers its waiting list, and joining it
from the panel puts the resident on it. Screenshots at a phone's size in
tests/browser/artifacts/ (``missions-list-full-fr-phone``, ...).
"""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.orm import Session

from community import signups
from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_missions_browser import PHONE, _publish, app  # noqa: F401 - fixture
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.moderation_fixtures import mdb, real_categories  # noqa: F401 - fixtures
from tests.resident_fixtures import make_resident, sign_in

EVENINGS = [{"day": d, "from": "18:00", "to": "21:00"} for d in ("mon", "wed", "fri")]


def _item(page, fid: int):
    return page.locator(f"#list li:has(button[data-id='{fid}'])")


def test_the_list_says_full_and_hides_full_missions_on_a_phone_in_french(
        app, page_factory, live_server, mdb, real_categories, mail_env):  # noqa: F811
    db = mdb
    full = _publish(db, title="Maraude du soir", category="mission-benevole",
                    attributes={"availability": EVENINGS, "volunteers_needed": 1,
                                "organisation": "Restos du cœur"})
    open_ = _publish(db, title="Aide aux devoirs", category="mission-benevole",
                     attributes={"availability": EVENINGS, "volunteers_needed": 3},
                     lon=2.3530, lat=48.8570)
    garden = _publish(db, title="Jardin partagé des Halles", category="jardin-partage",
                      attributes={}, lon=2.3510, lat=48.8560)
    ana = make_resident(app, "ana@example.org", display_name="Ana")
    with Session(db) as s, s.begin():
        signups.sign_up(s, full, ana.id)

    page, rec = page_factory(locale="fr-FR", **PHONE)
    page.goto(f"{live_server}/#map=17/48.85660/2.35220")
    expect(_item(page, full).locator(".places-badge")).to_have_text(
        "Complet · liste d'attente")
    expect(_item(page, open_).locator(".places-badge")).to_have_text("3 places restantes")
    expect(_item(page, garden).locator(".places-badge")).to_have_count(0)  # not joinable
    # The badge is part of the button's name: a screen reader hears "complet" too.
    assert "Complet" in _item(page, full).locator("button").inner_text()
    page.locator("#sheet-handle").click()
    expect(page.locator("#sheet-handle")).to_have_attribute("aria-expanded", "true")
    _item(page, full).scroll_into_view_if_needed()
    screenshot(page, "missions-list-full-fr-phone")
    assert axe_violations(page) == []

    # The filter: only missions with places left.
    page.locator("#filters-box summary").click()
    only = page.get_by_label("Seulement les missions avec des places")
    only.check()
    expect(_item(page, full)).to_be_hidden()
    expect(_item(page, open_)).to_be_visible()
    expect(_item(page, garden)).to_be_visible()  # places are never hidden
    expect(page.locator("#places-hidden")).to_have_text("1 mission complète masquée")
    page.locator("#list").scroll_into_view_if_needed()
    screenshot(page, "missions-list-only-places-fr-phone")
    assert axe_violations(page) == []
    # Kept in this browser: after a reload the full one stays hidden, even when the list
    # is drawn before missions.js runs (held back here until the list is there).
    held = []
    page.route("**/static/map/missions.js", lambda route: held.append(route))
    page.reload(wait_until="commit")
    expect(page.locator("#list li")).to_have_count(3)
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/static/map/missions.js")
    page.locator("#sheet-handle").click()
    expect(page.get_by_label("Seulement les missions avec des places")).to_be_checked()
    expect(_item(page, open_).locator(".places-badge")).to_have_text("3 places restantes")
    expect(_item(page, full)).to_be_hidden()
    page.locator("#filters-box summary").click()
    page.get_by_role("button", name="Tout réafficher").click()
    expect(_item(page, full)).to_be_visible()
    expect(page.locator("#places-hidden")).to_have_text("")

    # Opening the full mission from the list: "Complet", and its waiting list.
    page.locator("#filters-box summary").click()
    _item(page, full).locator("button").click()
    box = page.locator("#detail-extensions [data-section=signup]")
    expect(box.locator(".signup-places")).to_have_text("Complet")
    expect(box.get_by_role("link", name="Liste d'attente (connexion par e-mail)")).to_be_visible()
    assert rec.page_errors == []
    assert rec.foreign(live_server) == []

    # Signed in, the panel puts Bea on the mission's waiting list.
    client = app.test_client()
    sign_in(client, "bea@example.org", display_name="Béa")
    signed, rec2 = page_factory(locale="fr-FR", **PHONE)
    signed.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value,
                                 "url": live_server}])
    signed.goto(f"{live_server}/#f={full}")
    box = signed.locator("#detail-extensions [data-section=signup]")
    box.get_by_role("button", name="M'inscrire en liste d'attente").click()
    box.get_by_text("Vous êtes en liste d'attente (position 1).").wait_for()
    expect(box.locator(".signup-places")).to_have_text("Complet — liste d'attente : 1")
    box.scroll_into_view_if_needed()
    screenshot(signed, "missions-panel-mission-waiting-fr-phone")
    with db.connect() as conn:
        assert conn.execute(text("SELECT s.status FROM signup s JOIN resident r "
                                 "ON r.id = s.resident_id WHERE r.display_name = 'Béa'")
                            ).scalar_one() == "waiting"
    assert rec2.page_errors == []


def test_the_list_says_full_in_english_and_the_filter_is_named_so(
        app, page_factory, live_server, mdb, real_categories, mail_env):  # noqa: F811
    db = mdb
    full = _publish(db, title="Evening food round", category="mission-benevole",
                    attributes={"availability": EVENINGS, "volunteers_needed": 1})
    one_left = _publish(db, title="Homework help", category="mission-benevole",
                        attributes={"availability": EVENINGS, "volunteers_needed": 2},
                        lon=2.3530, lat=48.8570)
    ana, bob = (make_resident(app, f"{n}@example.org") for n in ("ana", "bob"))
    with Session(db) as s, s.begin():
        signups.sign_up(s, full, ana.id)
        signups.sign_up(s, one_left, bob.id)
    page, rec = page_factory(locale="en-GB", **PHONE)
    page.goto(f"{live_server}/?lang=en#map=17/48.85660/2.35220")
    expect(_item(page, full).locator(".places-badge")).to_have_text("Full · waiting list")
    expect(_item(page, one_left).locator(".places-badge")).to_have_text("1 place left")
    page.locator("#sheet-handle").click()
    _item(page, full).scroll_into_view_if_needed()
    screenshot(page, "missions-list-full-en-phone")
    page.locator("#filters-box summary").click()
    page.get_by_label("Only missions with places left").check()
    expect(_item(page, full)).to_be_hidden()
    expect(page.locator("#places-hidden")).to_have_text("1 full mission hidden")
    assert axe_violations(page) == []
    assert rec.page_errors == []
