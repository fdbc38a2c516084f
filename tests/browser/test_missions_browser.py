"""Joining a mission and an event in a real Chromium on a phone (issue 20 item 4).

A resident opens a volunteer mission on the map, signs in by the magic link read from
the in-process SMTP server, says "Je participe" with the mission's question, sees the
place counted on the map, sets their availability and finds another mission in
"Missions pour moi"; in English, a full Disco Soupe puts them on its waiting list from
the panel. Screenshots at a phone's size in tests/browser/artifacts/.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from community import signups
from geo.publish import FeatureDraft, publish_feature
from tests.browser.conftest import axe_violations, screenshot
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import links, text_part
from tests.moderation_fixtures import mdb, real_categories  # noqa: F401 - fixtures
from tests.resident_fixtures import deliver, make_resident, sign_in

PHONE = {"width": 390, "height": 844}
EVENINGS = [{"day": d, "from": "18:00", "to": "21:00"} for d in ("mon", "tue", "thu")]


@pytest.fixture
def app(mail_env, engine, database_url, var_dir):
    """The app with links rooted at http://carte.test (rewritten to the live server)."""
    from webmap import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "VAR_DIR": var_dir,
                       "SECRET_KEY": "test-secret-key", "PUBLIC_URL": "http://carte.test"})


def _publish(engine, *, title, category, attributes, organiser=None, lon=2.3522,
             lat=48.8566, starts_at=None, ends_at=None) -> int:
    with Session(engine) as s, s.begin():
        fid = publish_feature(s, FeatureDraft(category=category, title=title, lon=lon,
                                              lat=lat, attributes=attributes,
                                              starts_at=starts_at, ends_at=ends_at),
                              max_zoom=14).id
        if organiser is not None:
            sid = s.execute(text("""
                INSERT INTO submission (source, raw, status, category, title, geom,
                                        resident_id, feature_id)
                VALUES ('api', 'x', 'approved', :c, :t,
                        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :r, :f)
                RETURNING id"""), {"c": category, "t": title, "lon": lon, "lat": lat,
                                   "r": organiser, "f": fid}).scalar_one()
            s.execute(text("UPDATE feature SET submission_id = :s WHERE id = :f"),
                      {"s": sid, "f": fid})
    return fid


def test_a_resident_joins_a_mission_on_a_phone_in_french(
        app, page_factory, live_server, mdb, real_categories, mail_env):  # noqa: F811
    db = mdb
    olga = make_resident(app, "olga@example.org", display_name="Olga")
    fid = _publish(db, title="Distribution de repas aux Halles", category="mission-benevole",
                   attributes={"availability": EVENINGS, "organisation": "Restos du cœur",
                               "volunteers_needed": 2,
                               "questions": "Avez-vous déjà servi des repas ?"},
                   organiser=olga.id)
    other = _publish(db, title="Collecte de vêtements", category="mission-benevole",
                     attributes={"availability": [{"day": "tue", "from": "19:00",
                                                   "to": "21:00"}],
                                 "volunteers_needed": 4}, lon=2.3600, lat=48.8600)
    page, rec = page_factory(locale="fr-FR", **PHONE)
    page.goto(f"{live_server}/#f={fid}")
    box = page.locator("#detail-extensions [data-section=signup]")
    box.get_by_role("heading", name="Participer").wait_for()
    assert box.locator(".signup-places").inner_text() == "2 places restantes"
    box.scroll_into_view_if_needed()
    screenshot(page, "missions-panel-signed-out-fr-phone")
    box.get_by_role("link", name="Je participe (connexion par e-mail)").click()
    page.wait_for_url(re.compile(r"/auth/magic\?next="))
    page.get_by_label("Votre adresse e-mail").fill("bea@example.org")
    page.get_by_role("button", name="M'envoyer un lien de connexion").click()
    page.get_by_role("heading", name="Vérifiez votre boîte mail").wait_for()
    (mail,) = deliver(db, mail_env, 1)
    (url,) = [u for u in links(mail) if "/auth/magic/" in u]
    page.goto(url.replace("http://carte.test", live_server))
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(rf"/missions/{fid}/join$"))

    # The mission's page: its question, then "Je participe".
    assert page.locator("h1").inner_text() == "Distribution de repas aux Halles"
    assert axe_violations(page, exclude=()) == []
    page.get_by_role("button", name="Je participe").click()
    page.locator("#answer_0-error").wait_for()  # the question needs an answer
    page.get_by_label("Avez-vous déjà servi des repas ?").fill("Oui, à la Croix-Rouge")
    page.get_by_role("button", name="Je participe").click()
    page.get_by_text("Vous participez ! Une confirmation arrive par e-mail.").wait_for()
    assert "1 place restante" in page.locator("main").inner_text()
    screenshot(page, "missions-joined-fr-phone")
    assert axe_violations(page, exclude=()) == []
    mails = deliver(db, mail_env, 3)
    to_olga = [m for m in mails if m["To"] == "olga@example.org"]
    assert len(to_olga) == 1 and "Croix-Rouge" in text_part(to_olga[0])

    # Back on the map: the panel counts the place and says they are in.
    page.goto(f"{live_server}/#f={fid}")
    box = page.locator("#detail-extensions [data-section=signup]")
    box.get_by_text("Vous participez.").wait_for()
    assert box.locator(".signup-places").inner_text() == "1 place restante"
    box.scroll_into_view_if_needed()
    screenshot(page, "missions-panel-joined-fr-phone")

    # Availability once; "Missions pour moi" lists the other mission, nearest first.
    page.goto(f"{live_server}/missions/profile")
    page.get_by_label("Mardi 18:00–22:00").check()
    page.get_by_label("Mes compétences (séparées par des virgules)").fill("cuisine")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_role("status").wait_for()
    assert axe_violations(page, exclude=()) == []
    screenshot(page, "missions-profile-fr-phone")
    page.goto(f"{live_server}/missions")
    page.get_by_role("heading", name="Missions pour moi").wait_for()
    listed = page.locator(".missions .mission h2").all_inner_texts()
    assert listed == ["Collecte de vêtements"]  # the joined one is under "Mes inscriptions"
    assert "4 places restantes" in page.locator(".missions").inner_text()
    assert "Distribution de repas aux Halles" in page.locator(".mine").inner_text()
    assert axe_violations(page, exclude=()) == []
    screenshot(page, "missions-for-me-fr-phone")
    page.get_by_role("link", name="Je participe").click()
    page.wait_for_url(re.compile(rf"/missions/{other}/join$"))
    assert rec.page_errors == []
    assert rec.foreign(live_server) == []

    # Olga, the organiser, sees the sign-up and its answer against the places.
    client = app.test_client()
    sign_in(client, "olga@example.org")
    orga, orga_rec = page_factory(locale="fr-FR", **PHONE)
    orga.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value,
                               "url": live_server}])
    orga.goto(f"{live_server}/missions/{fid}/organiser")
    main = orga.locator("main").inner_text()
    assert "1 sur 2 places prises" in main and "Oui, à la Croix-Rouge" in main
    assert "bea@example.org" not in orga.content()
    assert axe_violations(orga, exclude=()) == []
    screenshot(orga, "missions-organiser-fr-phone")
    assert orga_rec.page_errors == []


def test_a_full_event_takes_the_waiting_list_from_the_panel_in_english(
        app, page_factory, live_server, mdb, real_categories, mail_env):  # noqa: F811
    db = mdb
    start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=16, minute=0, second=0,
                                                            microsecond=0)
    fid = _publish(db, title="Disco Soupe at the market", category="disco-soupe",
                   attributes={"capacity": 1}, starts_at=start,
                   ends_at=start + timedelta(hours=3))
    first = make_resident(app, "first@example.org", display_name="First")
    with Session(db) as s, s.begin():
        signups.sign_up(s, fid, first.id)
    # Sign in through the app's own session cookie, as the magic link would.
    client = app.test_client()
    sign_in(client, "bob@example.org", display_name="Bob", lang="en")
    cookie = client.get_cookie("session")
    page, rec = page_factory(locale="en-GB", **PHONE)
    page.context.add_cookies([{"name": "session", "value": cookie.value,
                               "url": live_server}])
    page.goto(f"{live_server}/?lang=en#f={fid}")
    box = page.locator("#detail-extensions [data-section=signup]")
    box.get_by_role("heading", name="Take part").wait_for()
    assert box.locator(".signup-places").inner_text() == "Full"
    screenshot(page, "missions-event-full-en-phone")
    box.get_by_role("button", name="Join the waiting list").click()
    box.get_by_text("You are on the waiting list (number 1).").wait_for()
    assert box.locator(".signup-places").inner_text() == "Full — waiting list: 1"
    screenshot(page, "missions-event-waiting-en-phone")
    with db.connect() as conn:
        assert conn.execute(text("SELECT status FROM signup s JOIN resident r "
                                 "ON r.id = s.resident_id WHERE r.display_name = 'Bob'")
                            ).scalar_one() == "waiting"
    assert rec.page_errors == []
    assert rec.foreign(live_server) == []
