"""Answering an offer in a real Chromium, in French: a resident opens a lending offer,
signs in by the magic link read from the in-process SMTP server, comes back to the
place and writes to its organiser through the site (issue 20).

The ledger engineer extends this file with the time exchange in French and English.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.browser.conftest import axe_violations, screenshot
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import links, text_part
from tests.resident_fixtures import *  # noqa: F403 - cdb
from tests.resident_fixtures import deliver, make_resident, organised


@pytest.fixture
def app(mail_env, engine, database_url, var_dir):
    """The app with links rooted at http://carte.test (rewritten to the live server)."""
    from webmap import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "VAR_DIR": var_dir,
                       "SECRET_KEY": "test-secret-key", "PUBLIC_URL": "http://carte.test"})


def test_a_resident_signs_in_and_answers_an_offer_in_french(app, page_factory, live_server,
                                                           cdb, mail_env):
    ana = make_resident(app, "ana.preteuse@example.org", display_name="Ana")
    fid = organised(cdb, ana.id, title="Perceuse-visseuse à prêter")
    page, rec = page_factory(locale="fr-FR")
    page.goto(f"{live_server}/#f={fid}")
    section = page.locator("#detail-extensions [data-section=answer]")
    section.get_by_role("heading", name="Répondre").wait_for()
    # Signed out: the answer starts with signing in, and comes back to this place.
    section.get_by_role("link", name="Répondre (connexion par e-mail)").click()
    page.wait_for_url(re.compile(r"/auth/magic\?next="))
    assert page.locator("h1").inner_text() == "Se connecter"
    assert axe_violations(page, exclude=()) == []
    page.get_by_label("Votre adresse e-mail").fill("bob.voisin@example.org")
    page.get_by_role("button", name="M'envoyer un lien de connexion").press("Enter")
    page.get_by_role("heading", name="Vérifiez votre boîte mail").wait_for()
    assert axe_violations(page, exclude=()) == []
    (mail,) = deliver(cdb, mail_env, 1)
    assert "Se connecter" in text_part(mail)
    (url,) = [u for u in links(mail) if "/auth/magic/" in u]
    page.goto(url.replace("http://carte.test", live_server))
    assert axe_violations(page, exclude=()) == []
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(rf"/#f={fid}$"))
    # Back on the place, signed in: a message form to the organiser.
    box = page.locator("#detail-extensions [data-section=answer]")
    box.get_by_label("Votre message").wait_for()
    box.get_by_role("button", name="Envoyer").click()
    assert box.locator(".exchange-error").inner_text() == "Écrivez un message."
    box.get_by_label("Votre message").fill("Bonjour Ana, je pourrais l'emprunter samedi ?")
    box.get_by_role("button", name="Envoyer").click()
    box.get_by_text("Message envoyé.", exact=False).wait_for()
    screenshot(page, "exchange-answer-fr")
    box.get_by_role("link", name="Voir la conversation").click()
    page.get_by_role("heading", name="Conversation avec Ana").wait_for()
    assert "je pourrais l'emprunter samedi" in page.locator("main").inner_text()
    assert axe_violations(page, exclude=()) == []
    with cdb.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM message")).scalar_one() == 1
    # Their page lists the conversation; an address as a name is said next to its field.
    page.goto(f"{live_server}/me")
    assert "Perceuse-visseuse à prêter" in page.locator("main").inner_text()
    page.get_by_label("Nom affiché").fill("bob@exemple.fr")
    page.get_by_role("button", name="Enregistrer mon profil").click()
    page.locator("#display_name-error").wait_for()
    assert page.locator("#display_name").get_attribute("aria-invalid") == "true"
    assert axe_violations(page, exclude=()) == []
    assert rec.page_errors == []
    assert rec.foreign(live_server) == []


def test_the_same_answer_in_english(app, page_factory, live_server, cdb, mail_env):
    ana = make_resident(app, "ana.lends@example.org", display_name="Ana")
    fid = organised(cdb, ana.id, title="Ladder to lend")
    page, rec = page_factory(locale="en-GB")
    page.goto(f"{live_server}/#f={fid}")
    section = page.locator("#detail-extensions [data-section=answer]")
    section.get_by_role("heading", name="Answer").wait_for()
    section.get_by_role("link", name="Answer (sign in by e-mail)").click()
    page.get_by_label("Your e-mail address").fill("bob.neighbour@example.org")
    page.get_by_role("button", name="Send me a sign-in link").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    (mail,) = deliver(cdb, mail_env, 1)
    assert mail["Subject"] == "Your Carte citoyenne sign-in link"
    (url,) = [u for u in links(mail) if "/auth/magic/" in u]
    page.goto(url.replace("http://carte.test", live_server))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"/#f={fid}$"))
    box = page.locator("#detail-extensions [data-section=answer]")
    box.get_by_label("Your message").fill("Hello Ana, could I borrow it on Saturday?")
    box.get_by_role("button", name="Send").click()
    box.get_by_text("Message sent.", exact=False).wait_for()
    assert axe_violations(page, exclude=("#map_carte",)) == []
    (to_ana,) = deliver(cdb, mail_env, 2)[1:]
    assert to_ana["To"] == "ana.lends@example.org"
    assert "bob.neighbour" not in to_ana.as_string()
    assert rec.page_errors == [] and rec.foreign(live_server) == []
