"""The time exchange walked in a real Chromium, in French and in English (issue 20).

A resident sees a neighbour's time-exchange offer on the map, signs in by the magic
link read from the in-process SMTP server, answers it; the neighbour, signed in the
same way in another browser, records the hour and a half they gave; the first confirms
it; both balances move by the same amount in opposite directions, on their pages and
in the API. axe-core finds no WCAG 2.1 AA violation on any of these pages.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.browser.conftest import axe_violations, screenshot
from tests.ingestion_fixtures import categories_loaded  # noqa: F401 - a fixture
from tests.ledger_fixtures import make_offer
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import links
from tests.resident_fixtures import deliver

WORDS = {
    "fr": {"locale": "fr-FR", "signInLink": "Se connecter pour proposer un échange",
           "email": "Votre adresse e-mail", "send": "M'envoyer un lien de connexion",
           "signIn": "Se connecter", "interested": "Ça m'intéresse",
           "answered": "répondu, pas encore enregistré", "toRecord": "à enregistrer",
           "hours": "Heures", "minutes": "Minutes", "record": "Enregistrer",
           "recorded": "enregistré, en attente de confirmation",
           "confirm": "Confirmer : 1 h 30 reçu", "confirmed": "confirmé et inscrit",
           "bank": "Ma banque de temps et mes prêts", "name": "Nom affiché",
           "save": "Enregistrer mon profil", "start": "Proposer un échange de temps"},
    "en": {"locale": "en-GB", "signInLink": "Sign in to start an exchange",
           "email": "Your e-mail address", "send": "Send me a sign-in link",
           "signIn": "Sign in", "interested": "I'm interested",
           "answered": "answered, not recorded yet", "toRecord": "to record",
           "hours": "Hours", "minutes": "Minutes", "record": "Record",
           "recorded": "recorded, waiting for confirmation",
           "confirm": "Confirm: 1 h 30 received", "confirmed": "confirmed and booked",
           "bank": "My time bank and loans", "name": "Display name",
           "save": "Save my profile", "start": "Start a time exchange"},
}


@pytest.fixture
def app(mail_env, engine, database_url, var_dir):
    """The app with links rooted at http://carte.test (rewritten to the live server)."""
    from webmap import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "VAR_DIR": var_dir,
                       "SECRET_KEY": "test-secret-key", "PUBLIC_URL": "http://carte.test"})


@pytest.fixture
def tdb(categories_loaded, clean_db):  # noqa: F811 - the fixture
    # the real categories, taken away afterwards (they are reference data clean_db keeps)
    return clean_db


def sign_in(page, live_server, w, db, smtp, email: str) -> None:
    """Ask for a link on the page we are on, read the mail, use the link."""
    page.get_by_label(w["email"]).fill(email)
    page.get_by_role("button", name=w["send"]).click()
    before = len(smtp.messages)
    mail = deliver(db, smtp, before + 1)[before]
    (url,) = [u for u in links(mail) if "/auth/magic/" in u]
    page.goto(url.replace("http://carte.test", live_server))
    page.get_by_role("button", name=w["signIn"]).click()


def name_myself(page, live_server, w, name: str) -> None:
    page.goto(f"{live_server}/me")
    page.get_by_label(w["name"]).fill(name)
    page.get_by_role("button", name=w["save"]).click()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_time_exchange_walked_in_chromium(app, page_factory, live_server, tdb, mail_env,
                                              lang):
    w = WORDS[lang]
    # Ana signs in and offers sewing lessons (her offer is on the map)
    ana_page, ana_rec = page_factory(locale=w["locale"])
    ana_page.goto(f"{live_server}/auth/magic?next=/me")
    sign_in(ana_page, live_server, w, tdb, mail_env, f"ana.{lang}@example.org")
    name_myself(ana_page, live_server, w, "Ana")
    with tdb.begin() as conn:
        ana = conn.execute(text("SELECT id FROM resident WHERE email = :e"),
                           {"e": f"ana.{lang}@example.org"}).scalar_one()
        offer = make_offer(conn, ana, title="Cours de couture")
    # Bob finds it on the map; signed out, the panel asks him to sign in first
    bob_page, bob_rec = page_factory(locale=w["locale"])
    bob_page.goto(f"{live_server}/#f={offer}")
    box = bob_page.locator("#detail-extensions [data-section=timebank]")
    box.get_by_role("link", name=w["signInLink"]).click()
    bob_page.wait_for_url(re.compile(r"/auth/magic\?next="))
    sign_in(bob_page, live_server, w, tdb, mail_env, f"bob.{lang}@example.org")
    bob_page.wait_for_url(re.compile(rf"/exchange/offers/{offer}$"))
    assert axe_violations(bob_page, exclude=()) == []
    bob_page.get_by_role("button", name=w["interested"]).click()
    bob_page.wait_for_url(re.compile(r"/exchange/\d+$"))
    exchange_url = bob_page.url.split("?")[0]
    assert bob_page.locator("#exchange-status").inner_text() == w["answered"]
    assert axe_violations(bob_page, exclude=()) == []
    # Ana sees it waiting on her page and records one hour and a half
    ana_page.goto(f"{live_server}/me")
    ana_page.get_by_text(w["toRecord"]).wait_for()
    ana_page.get_by_role("link", name="Cours de couture").first.click()
    ana_page.get_by_label(w["hours"]).fill("1")
    ana_page.get_by_label(w["minutes"]).select_option("30")
    ana_page.get_by_role("button", name=w["record"], exact=True).click()
    ana_page.wait_for_url(re.compile(r"done=record"))
    assert ana_page.locator("#exchange-status").inner_text() == w["recorded"]
    assert axe_violations(ana_page, exclude=()) == []
    # Bob confirms it
    bob_page.goto(exchange_url)
    bob_page.get_by_role("button", name=w["confirm"]).click()
    bob_page.wait_for_url(re.compile(r"done=confirm"))
    assert bob_page.locator("#exchange-status").inner_text() == w["confirmed"]
    screenshot(bob_page, f"timebank-confirmed-{lang}")
    # both balances moved by the same amount, opposite ways
    bob_page.goto(f"{live_server}/exchange/")
    assert bob_page.locator("#balance").get_attribute("data-units") == "-6"
    assert bob_page.locator("#balance").inner_text() == "-1 h 30"
    assert axe_violations(bob_page, exclude=()) == []
    ana_page.goto(f"{live_server}/exchange/")
    assert ana_page.locator("#balance").inner_text() == "1 h 30"
    assert ana_page.get_by_role("heading", name=w["bank"]).is_visible()
    assert ana_page.evaluate("fetch('/api/v1/me/balance').then(r => r.json())") == {
        "units": 6, "hours": 1.5, "min_units": -40, "min_hours": -10.0}
    # back on the map, Bob's next step is a new exchange (the last one is booked)
    bob_page.goto(f"{live_server}/#f={offer}")
    box = bob_page.locator("#detail-extensions [data-section=timebank]")
    box.get_by_role("link", name=w["start"]).wait_for()
    for rec in (ana_rec, bob_rec):
        assert rec.page_errors == []
        assert rec.foreign(live_server) == []


def test_the_panel_shows_an_object_on_loan_until_it_is_back(app, page_factory, live_server,
                                                           tdb):
    from datetime import date, timedelta

    from sqlalchemy.orm import Session

    from community import loans
    from tests.ledger_fixtures import add_resident

    with tdb.begin() as conn:
        ana = add_resident(conn, "Ana")
        bob = add_resident(conn, "Bob")
        drill = make_offer(conn, ana, category="pret-troc", title="Perceuse à prêter")
    today = date.today()
    due = today + timedelta(days=5)
    with Session(tdb) as s, s.begin():
        lid = loans.request_loan(s, feature_id=drill, resident_id=bob)
        loans.agree_loan(s, lid, resident_id=ana, starts_on=today, due_on=due, today=today)
        loans.mark_lent(s, lid, resident_id=ana)
    page, rec = page_factory(locale="fr-FR")
    page.goto(f"{live_server}/#f={drill}")
    status = page.locator("#detail-extensions [data-section=timebank] .timebank-loan strong")
    status.wait_for()
    assert status.get_attribute("data-on-loan-until") == due.isoformat()
    assert status.inner_text().startswith("En prêt jusqu'au ")
    assert str(due.day) in status.inner_text()
    listed = page.locator(f'#list button[data-id="{drill}"] .timebank-list-loan')
    listed.wait_for(state="attached")
    assert listed.text_content().startswith(" · En prêt jusqu'au ")
    # past its due date the panel says when it was expected back
    with tdb.begin() as conn:
        conn.execute(text("UPDATE feature SET attributes = attributes || "
                          "'{\"on_loan_until\": \"2026-12-01\"}' WHERE id = :f"), {"f": drill})
    late, _late_rec = page_factory(locale="en-GB")
    late.goto(f"{live_server}/#f={drill}")
    late_status = late.locator("#detail-extensions [data-section=timebank] .timebank-loan strong")
    late_status.wait_for()
    assert late_status.inner_text() == "On loan (due back on 1 December 2026)"
    with Session(tdb) as s, s.begin():
        loans.mark_returned(s, lid, resident_id=ana)
    english, _rec = page_factory(locale="en-GB")
    english.goto(f"{live_server}/#f={drill}")
    back = english.locator("#detail-extensions [data-section=timebank] .timebank-loan strong")
    back.wait_for()
    assert back.inner_text() == "Available"
    assert rec.page_errors == [] and rec.foreign(live_server) == []
