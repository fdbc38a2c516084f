"""On a phone, a resident reports a message, blocks its sender from the conversation,
finds them on "My page" and unblocks them there; in French and in English.

Real server, real Chromium (390 × 844), real PostGIS. Every step is checked as a
resident sees it (the notice in words, the list by display name, never an address),
with axe-core (WCAG 2.1 AA) on each screen, 44 px targets, nothing sideways, a quiet
console and nothing fetched from another host. Screenshots:
``me-blocks-<step>-<lang>-phone.png`` in tests/browser/artifacts/.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.conftest import axe_violations, screenshot, small_targets
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.moderation_fixtures import mdb, real_categories  # noqa: F401 - fixtures
from tests.resident_fixtures import *  # noqa: F403 - cdb
from tests.resident_fixtures import organised, sign_in

PHONE = {"width": 390, "height": 844}
ANA, BOB = "ana.telephone@example.org", "bob.insistant@example.org"
WORDS = {
    "fr": {"report": "Signaler ce message", "why": "Quel est le problème ? (facultatif)",
           "send": "Envoyer le signalement", "thanks": "Merci : les modérateurs vont lire",
           "reported": "signalé aux modérateurs", "block": "Bloquer",
           "blocked": "Vous avez bloqué Bob", "me": "Ma page",
           "list": "Personnes que j'ai bloquées", "unblock": "Débloquer",
           "unblocked": "Débloqué : vous pouvez de nouveau vous écrire.",
           "nobody": "Vous n'avez bloqué personne"},
    "en": {"report": "Report this message", "why": "What is wrong? (optional)",
           "send": "Send the report", "thanks": "Thank you: the moderators will read",
           "reported": "reported to the moderators", "block": "Block",
           "blocked": "You blocked Bob", "me": "My page",
           "list": "People I blocked", "unblock": "Unblock",
           "unblocked": "Unblocked: you can write to each other again.",
           "nobody": "You have not blocked anyone"},
}


@pytest.fixture
def app(mail_env, engine, database_url, var_dir):
    from webmap import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "VAR_DIR": var_dir,
                       "SECRET_KEY": "test-secret-key", "PUBLIC_URL": "http://carte.test"})


def _check(page, rec, live_server, name: str, lang: str) -> None:
    """Fits the phone, big targets, axe-clean, quiet, local; then a screenshot."""
    assert page.locator("html").get_attribute("lang") == lang
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
    small = small_targets(page)
    assert small == [], (name, small)
    assert axe_violations(page, exclude=()) == [], name
    assert rec.console_errors == [] and rec.page_errors == [], name
    assert rec.foreign(live_server) == []
    screenshot(page, f"me-blocks-{name}-{lang}-phone")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_report_block_and_unblock_on_a_phone(app, cdb, page_factory, live_server,
                                             mail_env, lang):
    w = WORDS[lang]
    client, bob_client = app.test_client(), app.test_client()
    ana = sign_in(client, ANA, display_name="Ana")
    sign_in(bob_client, BOB, display_name="Bob")
    fid = organised(cdb, ana.id, title="Perceuse à prêter")
    r = bob_client.post(f"/api/v1/features/{fid}/messages",
                        data=json.dumps({"body": "Donnez-moi votre numéro, tout de suite."}),
                        content_type="application/json")
    assert r.status_code == 201
    thread_url = r.get_json()["thread_url"]

    page, rec = page_factory(locale="fr-FR" if lang == "fr" else "en-GB", **PHONE)
    page.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value,
                               "url": live_server}])
    page.goto(f"{live_server}{thread_url}?lang={lang}")
    expect(page.locator(".msg").first).to_contain_text("Donnez-moi votre numéro")
    _check(page, rec, live_server, "thread", lang)

    # Report: the disclosure opens a form with an optional reason; sent, it says thanks.
    page.get_by_text(w["report"], exact=True).click()
    reason = page.get_by_label(w["why"])
    expect(reason).to_be_visible()
    _check(page, rec, live_server, "report-form", lang)
    reason.fill("Il insiste pour avoir mon numéro.")
    page.get_by_role("button", name=w["send"]).click()
    expect(page.get_by_role("status").filter(has_text=w["thanks"])).to_be_visible()
    expect(page.locator(".msg-note")).to_have_text(w["reported"])
    expect(page.get_by_text(w["report"], exact=True)).to_have_count(0)
    _check(page, rec, live_server, "reported", lang)
    with cdb.connect() as conn:
        assert conn.execute(text("SELECT reason FROM message_report")).scalar_one() == (
            "Il insiste pour avoir mon numéro.")

    # Block from the conversation: the notice names Bob; no answer form any more.
    page.get_by_role("button", name=w["block"]).click()
    expect(page.get_by_role("status").filter(has_text=w["blocked"])).to_be_visible()
    expect(page.locator("textarea#body")).to_have_count(0)
    _check(page, rec, live_server, "blocked", lang)

    # My page lists Bob, by name only, with "Unblock".
    page.get_by_role("navigation").get_by_role("link", name=w["me"], exact=True).click()
    section = page.locator("section", has=page.get_by_role("heading", name=w["list"]))
    expect(section.locator(".item-title")).to_have_text(["Bob"])
    assert BOB not in page.content() and "bob.insistant" not in page.content()
    section.scroll_into_view_if_needed()
    _check(page, rec, live_server, "me-list", lang)

    section.get_by_role("button", name=f"{w['unblock']} Bob").click()
    expect(page.get_by_role("status").filter(has_text=w["unblocked"])).to_be_visible()
    section = page.locator("section", has=page.get_by_role("heading", name=w["list"]))
    expect(section).to_contain_text(w["nobody"])
    section.scroll_into_view_if_needed()
    _check(page, rec, live_server, "me-unblocked", lang)
    with cdb.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM resident_block")).scalar_one() == 0


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_full_mission_offers_its_waiting_list_in_missions_for_me_on_a_phone(
        app, mdb, real_categories, page_factory, live_server, mail_env, lang):  # noqa: F811
    from sqlalchemy.orm import Session

    from community import signups
    from community.profiles import save_profile
    from tests.browser.test_missions_browser import _publish
    from tests.resident_fixtures import make_resident

    evening = [{"day": "tue", "from": "18:00", "to": "22:00"}]
    taken = make_resident(app, "deja.inscrit@example.org")
    open_one = _publish(mdb, title="Distribution de repas", category="mission-benevole",
                        attributes={"availability": evening, "volunteers_needed": 3,
                                    "organisation": "Restos du cœur"}, lon=2.3600, lat=48.8600)
    full_one = _publish(mdb, title="Maraude du soir", category="mission-benevole",
                        attributes={"availability": evening, "volunteers_needed": 1,
                                    "organisation": "Secours populaire"})
    client = app.test_client()
    bea = sign_in(client, "bea@example.org", display_name="Béa")
    with Session(mdb) as s, s.begin():
        signups.sign_up(s, full_one, taken.id)
        save_profile(s, bea.id, availability=evening, lon=2.3522, lat=48.8566)
    page, rec = page_factory(locale="fr-FR" if lang == "fr" else "en-GB", **PHONE)
    page.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value,
                               "url": live_server}])
    page.goto(f"{live_server}/missions?lang={lang}")
    cards = page.locator(".missions .mission")
    # the one with places first although farther, then the full one with its waiting list
    expect(cards.locator("h2")).to_have_text(["Distribution de repas", "Maraude du soir"])
    full = cards.nth(1)
    expect(full.locator(".badge.full")).to_have_text(
        "Complet · liste d'attente" if lang == "fr" else "Full · waiting list")
    join = full.get_by_role("link", name="M'inscrire en liste d'attente" if lang == "fr"
                            else "Join the waiting list")
    full.scroll_into_view_if_needed()
    _check(page, rec, live_server, "missions-full", lang)
    join.click()
    page.wait_for_url(f"**/missions/{full_one}/join")
    page.get_by_role("button", name="M'inscrire en liste d'attente" if lang == "fr"
                     else "Join the waiting list").click()
    expect(page.get_by_role("status")).to_contain_text(
        "vous êtes sur la liste d'attente" if lang == "fr" else "waiting list")
    _check(page, rec, live_server, "missions-waiting", lang)
    assert open_one != full_one


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_moderators_see_the_reported_message_first_and_dismiss_it(
        app, mdb, page_factory, live_server, mail_env, lang):  # noqa: F811
    import re

    from sqlalchemy.orm import Session

    from community.messages import report_message, send_message
    from tests.moderation_fixtures import MOD, PASSWORD
    from tests.resident_fixtures import make_resident

    ana = make_resident(app, ANA, display_name="Ana")
    bob = make_resident(app, BOB, display_name="Bob")
    with Session(mdb) as s, s.begin():
        thread = send_message(s, bob.id, ana.id, "Donnez-moi votre numéro.")
        send_message(s, ana.id, None, "Non merci.", thread_id=thread)
        reported = s.execute(text("SELECT min(id) FROM message")).scalar_one()
        report_message(s, reported, ana.id, "Il insiste pour avoir mon numéro.")
        send_message(s, bob.id, None, "Dernier message, promis.", thread_id=thread)
    # French on a desktop, English on a phone (where each message is a card)
    size = {"width": 1280, "height": 800} if lang == "fr" else PHONE
    page, rec = page_factory(locale="fr-FR" if lang == "fr" else "en-GB", **size)
    page.goto(f"{live_server}/auth/login")
    page.locator("#email").fill(MOD)
    page.locator("#password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/$"))
    page.goto(f"{live_server}/moderation/community/messages")
    rows = page.locator("table.messages tbody tr")
    expect(rows).to_have_count(3)
    first = rows.first
    expect(first).to_have_id(f"message-{reported}")
    expect(first).to_contain_text("Signalé (1)" if lang == "fr" else "Reported (1)")
    expect(first).to_contain_text("Il insiste pour avoir mon numéro.")
    expect(page.locator(".reports-count")).to_contain_text(
        "Signalements à traiter : 1" if lang == "fr" else "Reports to decide: 1")
    assert axe_violations(page, exclude=()) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    first.scroll_into_view_if_needed()
    screenshot(page, f"me-blocks-moderation-reported-{lang}")
    reason = first.locator(f"#dismiss-reason-{reported}")
    expect(reason).to_have_accessible_name("Motif (gardé au journal)" if lang == "fr"
                                           else "Reason (kept in the log)")
    reason.fill("Demande polie")
    first.get_by_role("button", name="Classer le signalement" if lang == "fr"
                      else "Dismiss the report").click()
    expect(page.locator(".reports-count")).to_have_text(
        "Aucun signalement à traiter." if lang == "fr" else "No report to decide.")
    assert axe_violations(page, exclude=()) == []
    assert rec.page_errors == [] and rec.foreign(live_server) == []
