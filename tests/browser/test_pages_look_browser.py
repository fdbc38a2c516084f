"""The resident's pages look like the map's sibling pages, on a phone and on a desktop.

A resident who leaves the map for sign-in, "My page", the time bank (a confirmed
exchange), a loan, "Missions for me", the availability form, a mission and the
subscriptions finds on each the map's green top bar (the product name back to the map,
My page / Missions / Sign out, the language switch) and one stylesheet of our own, in a
column that never scrolls sideways on a 390 px phone. Every button and main link is a
44 px target, axe-core finds no WCAG 2.1 AA violation (contrast included), the console
stays quiet and nothing is fetched from another host; in French and in English (the
``?lang=en`` choice kept by its cookie). Screenshots: ``pages-<page>-<lang>-<device>.png``
in tests/browser/artifacts/ (``-full`` for the whole page).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from community import ledger, loans, signups
from community.messages import send_message
from community.profiles import save_profile
from tests.browser.conftest import ARTIFACTS, axe_violations, screenshot, small_targets
from tests.browser.test_missions_browser import _publish
from tests.ledger_fixtures import make_offer
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.moderation_fixtures import mdb, real_categories  # noqa: F401 - fixtures
from tests.resident_fixtures import make_resident, sign_in

DEVICES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
GREEN = "rgb(20, 83, 45)"  # the map's top bar, #14532d
WORDS = {
    "fr": {"brand": "Carte citoyenne", "me": "Ma page", "missions": "Missions",
           "out": "Se déconnecter", "in": "Se connecter", "switch": "English",
           "confirmed": "confirmé et inscrit", "lent": "prêté", "full": "Complet",
           "email": "Votre adresse e-mail", "send": "M'envoyer un lien de connexion",
           "wednesday": "Mercredi"},
    "en": {"brand": "Citizen map", "me": "My page", "missions": "Missions",
           "out": "Sign out", "in": "Sign in", "switch": "Français",
           "confirmed": "confirmed and booked", "lent": "out on loan", "full": "Full",
           "email": "Your e-mail address", "send": "Send me a sign-in link",
           "wednesday": "Wednesday"},
}



@pytest.fixture
def app(mail_env, engine, database_url, var_dir):
    """The app with links rooted at http://carte.test and mail to the in-process server."""
    from webmap import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "VAR_DIR": var_dir,
                       "SECRET_KEY": "test-secret-key", "PUBLIC_URL": "http://carte.test"})


def _next_tuesday_evening() -> datetime:
    paris = ZoneInfo("Europe/Paris")
    today = datetime.now(paris).date()
    days = (1 - today.weekday()) % 7 or 7
    day = today + timedelta(days=days)
    return datetime(day.year, day.month, day.day, 19, 0, tzinfo=paris)


def _seed(app, db) -> dict[str, int]:
    """Bea's world: a confirmed and a recorded exchange, a loan, missions, an event."""
    ana = make_resident(app, "ana@example.org", display_name="Ana")
    bea = make_resident(app, "bea@example.org", display_name="Béa")
    today = date.today()
    with db.begin() as conn:
        sewing = make_offer(conn, ana.id, title="Cours de couture")
        computer = make_offer(conn, ana.id, title="Aide informatique")
        drill = make_offer(conn, ana.id, category="pret-troc", title="Perceuse à prêter")
    with Session(db) as s, s.begin():
        done = ledger.propose_exchange(s, feature_id=sewing, resident_id=bea.id)
        ledger.record_exchange(s, resident_id=ana.id, units=6, happened_on=today, today=today,
                               note="Ourlets et boutonnières", exchange_id=done)
        ledger.confirm_exchange(s, done, resident_id=bea.id)
        waiting = ledger.propose_exchange(s, feature_id=computer, resident_id=bea.id)
        ledger.record_exchange(s, resident_id=ana.id, units=3, happened_on=today, today=today,
                               exchange_id=waiting)
        loan = loans.request_loan(s, feature_id=drill, resident_id=bea.id)
        loans.agree_loan(s, loan, resident_id=ana.id, starts_on=today,
                         due_on=today + timedelta(days=5), today=today)
        loans.mark_lent(s, loan, resident_id=ana.id)
        thread = send_message(s, ana.id, bea.id, "Bonjour Béa, mardi 18 h chez moi ?",
                              feature_id=sewing)
        send_message(s, bea.id, None, "Parfait, j'apporte le tissu.", thread_id=thread)
    evening = [{"day": "tue", "from": "18:00", "to": "22:00"}]
    meals = _publish(db, title="Distribution de repas aux Halles", category="mission-benevole",
                     attributes={"availability": evening, "organisation": "Restos du cœur",
                                 "volunteers_needed": 3,
                                 "questions": "Avez-vous déjà servi des repas ?"},
                     organiser=ana.id)
    clothes = _publish(db, title="Collecte de vêtements", category="mission-benevole",
                       attributes={"availability": [{"day": "tue", "from": "19:00",
                                                     "to": "21:00"}],
                                   "organisation": "Secours populaire", "skills": "tri, accueil",
                                   "volunteers_needed": 4}, lon=2.3600, lat=48.8600)
    start = _next_tuesday_evening()
    soup = _publish(db, title="Disco Soupe au marché", category="disco-soupe",
                    attributes={"capacity": 1}, starts_at=start,
                    ends_at=start + timedelta(hours=2), lon=2.3490, lat=48.8530)
    with Session(db) as s, s.begin():
        save_profile(s, bea.id, availability=evening, skills="cuisine, tri")
        signups.sign_up(s, meals, bea.id, ["Oui, aux Restos"])
        signups.sign_up(s, soup, ana.id)
    return {"bea": bea.id, "exchange": done, "thread": thread, "loan": loan, "meals": meals,
            "clothes": clothes, "soup": soup}


def _check_page(page, rec, live_server, lang: str, device: str, name: str, *,
                signed_in: bool = True, refused_form: bool = False) -> None:
    """The shared layout is there, fits, has big targets, passes axe; then screenshots."""
    w = WORDS[lang]
    assert page.locator("html").get_attribute("lang") == lang
    # the shared top bar, the map's green, the name back to the map
    bar = page.locator("header#topbar")
    assert bar.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    brand = bar.locator("a.brand")
    assert brand.inner_text() == w["brand"]
    assert brand.get_attribute("href") == f"/?lang={lang}"
    nav = bar.get_by_role("navigation")
    if signed_in:
        assert nav.get_by_role("link", name=w["me"], exact=True).is_visible()
        assert nav.get_by_role("link", name=w["missions"], exact=True).is_visible()
        assert nav.get_by_role("button", name=w["out"]).is_visible()
    switch = bar.locator("#lang-switch")
    assert switch.inner_text() == w["switch"]
    # one stylesheet of our own (the CSP allows no inline style and no other host)
    sheets = page.evaluate("[...document.styleSheets].map(s => s.href)")
    assert sheets == [f"{live_server}/static/pages/pages.css"]
    assert page.locator("style, [style]").count() == 0
    # one column: on a phone nothing scrolls sideways; on a desktop it stays readable
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
    column = page.locator("main#main").evaluate("e => e.getBoundingClientRect().width")
    assert column <= (640 if device == "desktop" else DEVICES["phone"]["width"])
    # targets: every button, field and main link at least 44 px
    small = small_targets(page)
    assert small == [], (name, small)
    assert axe_violations(page, exclude=()) == [], name
    # the one console line a refused form leaves is the browser noting its 4xx answer
    noise = [e for e in rec.console_errors
             if not (refused_form and "the server responded with a status of 4" in e)]
    assert noise == [] and rec.page_errors == [], name
    assert rec.foreign(live_server) == []
    shot = f"pages-{name}-{lang}-{device}"
    screenshot(page, shot)
    page.screenshot(path=str(ARTIFACTS / f"{shot}-full.png"), full_page=True)


@pytest.mark.parametrize("device", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_residents_pages_share_the_maps_look(app, page_factory, live_server, mdb,  # noqa: F811
        real_categories, mail_env, lang, device):  # noqa: F811
    w = WORDS[lang]
    ids = _seed(app, mdb)
    page, rec = page_factory(locale="fr-FR", **DEVICES[device])
    suffix = "?lang=en" if lang == "en" else ""

    # Signed out, the sign-in page: the bar, and an error said next to its field.
    page.goto(f"{live_server}/auth/magic{suffix}")
    _check_page(page, rec, live_server, lang, device, "signin", signed_in=False)
    page.get_by_role("button", name=w["send"]).click()
    field = page.get_by_label(w["email"])
    page.locator("#email-error").wait_for()
    assert field.get_attribute("aria-describedby") == "email-error"
    assert field.get_attribute("aria-invalid") == "true"
    # drawn after a POST, the switch still points at the sign-in page (it answers a GET)
    other = "en" if lang == "fr" else "fr"
    assert page.locator("#lang-switch").get_attribute("href") == f"/auth/magic?lang={other}"
    _check_page(page, rec, live_server, lang, device, "signin-error", signed_in=False,
                refused_form=True)
    rec.console_errors.clear()

    # Signed in (the session a magic link leaves), the language kept by its cookie.
    client = app.test_client()
    sign_in(client, "bea@example.org")
    page.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value,
                               "url": live_server}])
    page.goto(f"{live_server}/me")
    assert page.locator("h1").inner_text() == w["me"]
    _check_page(page, rec, live_server, lang, device, "me")
    # a visible focus ring on the first control reached from the keyboard
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    ring = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                         " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()")
    assert ring[0] != "none" and ring[1] >= 2

    page.goto(f"{live_server}/me/threads/{ids['thread']}")
    assert page.locator(".msg.mine").inner_text().endswith("Parfait, j'apporte le tissu.")
    _check_page(page, rec, live_server, lang, device, "conversation")

    page.goto(f"{live_server}/exchange/")
    assert page.locator("#balance").get_attribute("data-units") == "-6"
    _check_page(page, rec, live_server, lang, device, "timebank")

    page.goto(f"{live_server}/exchange/{ids['exchange']}")
    assert page.locator("#exchange-status").inner_text() == w["confirmed"]
    # label/value rows, not an indented definition list
    assert page.locator("dl.rows > div > dt").count() >= 5
    assert page.locator("#exchange-status .badge.ok").count() == 1
    _check_page(page, rec, live_server, lang, device, "exchange-confirmed")

    page.goto(f"{live_server}/loans/{ids['loan']}")
    assert page.locator("#loan-status").inner_text() == w["lent"]
    _check_page(page, rec, live_server, lang, device, "loan")

    page.goto(f"{live_server}/missions")
    assert page.locator(".missions .mission h2").all_inner_texts() == ["Collecte de vêtements"]
    assert page.locator(".mission .badge.full").first.inner_text() == w["full"]
    _check_page(page, rec, live_server, lang, device, "missions")

    page.goto(f"{live_server}/missions/profile")
    _check_page(page, rec, live_server, lang, device, "availability")
    # a wrong time is said next to its field, in the page's language
    page.locator("#wed_extra").fill("19h")
    page.locator("main form button[type=submit]").click()
    page.locator("#wed_extra-error").wait_for()
    assert page.locator("#wed_extra").get_attribute("aria-describedby") == "wed_extra-error"
    assert page.locator("#wed_extra").get_attribute("aria-invalid") == "true"
    assert w["wednesday"] in page.locator("#wed_extra-error").inner_text()
    assert page.locator("#wed_extra").input_value() == "19h"  # what they typed stays
    _check_page(page, rec, live_server, lang, device, "availability-error", refused_form=True)
    rec.console_errors.clear()

    page.goto(f"{live_server}/missions/{ids['meals']}/join")
    _check_page(page, rec, live_server, lang, device, "join")

    page.goto(f"{live_server}/subscriptions")
    _check_page(page, rec, live_server, lang, device, "subscriptions")

    # Ana, who organises the meals, sees Béa's sign-up as a card on a phone, a row on a desktop
    ana_client = app.test_client()
    sign_in(ana_client, "ana@example.org")
    ana, ana_rec = page_factory(locale="fr-FR", **DEVICES[device])
    ana.context.add_cookies([{"name": "session", "value": ana_client.get_cookie("session").value,
                              "url": live_server}])
    ana.goto(f"{live_server}/missions/{ids['meals']}/organiser{suffix}")
    assert "Oui, aux Restos" in ana.locator("table.signups").inner_text()
    _check_page(ana, ana_rec, live_server, lang, device, "organiser")

    # the language switch keeps the page and what it shows (here: which conversation)
    page.goto(f"{live_server}/exchange/new?thread={ids['thread']}")
    _check_page(page, rec, live_server, lang, device, "record-time")
    page.locator("#lang-switch").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == other
    assert page.url == f"{live_server}/exchange/new?thread={ids['thread']}&lang={other}"
    assert page.locator("#lang-switch").inner_text() == WORDS[other]["switch"]
