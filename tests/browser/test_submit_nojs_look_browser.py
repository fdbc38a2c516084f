"""The form without JavaScript (/submit) and its thank-you page look like the residents' pages.

A resident whose browser runs no script, or who follows a link to /submit, finds the
map's green bar and one column of cards (what, where, when, the category's own questions,
photos, sending), labels above fields; every category's questions are in the page under
the category's name, and with JavaScript only the chosen category's show. A submission
the server refuses lists its errors at the top, each named as the resident sees the field
and linked to it, and says each one again beside its field; fixed and sent, it reaches the
database and the thank-you page gives the tracking link as a button and "see the map".
On a 390 px phone and a desktop, in French and English, with scripts on and off: nothing
scrolls sideways, every control is a 44 px target, axe-core finds no WCAG 2.1 AA
violation and nothing is fetched from another host. A signed-in resident sees their own
links in the bar of the form and of the tracking page (not "Sign in"); a place already
published there is shown first, in a card, with "it is a different place" to send anyway.
Screenshots: ``submit-<step>-<js|nojs>-<lang>-<device>.png`` in tests/browser/artifacts/.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.browser.conftest import ARTIFACTS, Recorder, axe_violations, small_targets
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures
from tests.integration.test_duplicates_pending import _publish
from tests.resident_fixtures import sign_in

DEVICES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
GREEN = "rgb(20, 83, 45)"  # the map's top bar, #14532d
WORDS = {
    "fr": {"title": "Proposer un point", "fix": "À corriger :",
           "slots": "Créneaux (jour, début, fin)", "where": "Emplacement",
           "category": "Mission bénévole", "thanks": "Merci !",
           "follow": "Suivre ma proposition", "map": "Voir la carte", "in": "Se connecter",
           "me": "Ma page", "out": "Se déconnecter", "switch": "English"},
    "en": {"title": "Drop a pin", "fix": "Please fix:", "slots": "Time slots (day, from, to)",
           "where": "Location", "category": "Volunteer mission", "thanks": "Thank you!",
           "follow": "Follow my submission", "map": "See the map", "in": "Sign in",
           "me": "My page", "out": "Sign out", "switch": "Français"},
}


def _open(browser, *, js: bool, lang: str, device: str):
    context = browser.new_context(java_script_enabled=js, locale="fr-FR",
                                  service_workers="block", viewport=DEVICES[device])
    context.js_enabled = js
    page = context.new_page()
    page.set_default_timeout(20_000)
    rec = Recorder()
    page.on("request", lambda r: rec.urls.append(r.url))
    page.on("pageerror", lambda e: rec.page_errors.append(str(e)))
    return context, page, rec


def _check(page, rec, live_server, *, lang: str, shot: str, signed_in: bool = False) -> None:
    """The residents' layout is there, fits a phone, has big targets, passes axe.

    A page without JavaScript cannot run the measures (nor axe): its HTML, as the server
    sent it, is drawn again in a sibling page whose scripts run but whose one script of
    ours (pages/submit-form.js) is refused, so it lays out exactly as without JavaScript.
    """
    if not page.context.js_enabled:
        html = page.content()
        checker = page.context.browser.new_context(
            locale="fr-FR", service_workers="block",
            viewport=page.viewport_size)
        checker.js_enabled = True
        try:
            checker.route("**/pages/submit-form.js", lambda route: route.abort())
            checker.route(f"{live_server}/__as-sent", lambda route: route.fulfill(
                body=html, content_type="text/html; charset=utf-8"))
            twin = checker.new_page()
            twin.on("request", lambda r: rec.urls.append(r.url))
            twin.goto(f"{live_server}/__as-sent")
            _check(twin, rec, live_server, lang=lang, shot=shot, signed_in=signed_in)
        finally:
            checker.close()
        return
    w = WORDS[lang]
    assert page.locator("html").get_attribute("lang") == lang
    bar = page.locator("header#topbar")
    assert bar.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    assert bar.locator("#lang-switch").inner_text() == w["switch"]
    nav = bar.get_by_role("navigation")
    if signed_in:
        assert nav.get_by_role("link", name=w["me"], exact=True).is_visible()
        assert nav.get_by_role("button", name=w["out"]).is_visible()
        assert nav.get_by_role("link", name=w["in"]).count() == 0
    else:
        assert nav.get_by_role("link", name=w["in"]).is_visible()
    sheets = page.evaluate("[...document.styleSheets].map(s => s.href)")
    assert sheets == [f"{live_server}/static/pages/pages.css"]
    assert page.locator("style, [style]").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), shot
    assert small_targets(page) == [], shot
    assert axe_violations(page, exclude=()) == [], shot
    assert rec.page_errors == [], shot
    assert rec.foreign(live_server) == [], shot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=False)
    page.screenshot(path=str(ARTIFACTS / f"{shot}-full.png"), full_page=True)


def _stored(engine, title: str):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT status::text, category, attributes, source, ST_X(geom) AS lon "
            "FROM submission WHERE title = :t"), {"t": title}).mappings().all()


@pytest.mark.parametrize("device", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("js", [False, True], ids=["nojs", "js"])
def test_the_form_fills_refuses_by_field_and_sends(ingest_app, engine, browser, live_server,
                                                  js, lang, device):
    w = WORDS[lang]
    tag = f"{'js' if js else 'nojs'}-{lang}-{device}"
    title = f"Aide aux devoirs {tag}"
    context, page, rec = _open(browser, js=js, lang=lang, device=device)
    try:
        page.goto(f"{live_server}/submit?lang={lang}")
        assert page.locator("h1").inner_text() == w["title"]
        # one card per group of fields, the category's questions under its name
        assert page.locator("main form .panel").count() >= 6
        group = page.locator(".cat-group[data-category='mission-benevole']")
        assert group.locator("legend").first.text_content() == w["category"]
        if js:  # only the chosen category's questions
            assert page.locator(".cat-group:visible").count() == 0
            assert page.locator("#details-none").is_visible()
        else:  # every category's, each under its name
            assert page.locator(".cat-group > summary:visible").count() >= 10
        _check(page, rec, live_server, lang=lang, shot=f"submit-form-{tag}")

        # a submission the server refuses: two errors, listed and beside their fields
        page.select_option("#category", "mission-benevole")
        if js:
            assert page.locator(".cat-group:visible").count() == 1
            assert group.is_visible() and not page.locator("#when-card").is_visible()
        else:
            group.locator("summary").click()
        page.fill("#title", title)
        page.fill("#lon", "2,9")  # outside the city
        page.fill("#lat", "48,0")
        page.fill("[id='attr.mission-benevole.availability']", "whenever you like")
        page.check("#charter")
        page.click("#submit-form button[type=submit]")
        summary = page.locator("#errors")
        summary.wait_for()
        assert summary.locator("h2").inner_text() == w["fix"]
        links = summary.locator("a")
        texts = links.all_inner_texts()
        assert any(t.startswith(w["slots"]) for t in texts), texts
        assert any(t.startswith(w["where"]) for t in texts), texts
        slots = summary.locator("a", has_text=w["slots"])
        assert slots.get_attribute("href") == "#attr.mission-benevole.availability"
        field = page.locator("[id='attr.mission-benevole.availability']")
        assert field.get_attribute("aria-invalid") == "true"
        beside = page.locator(f"[id='{field.get_attribute('aria-describedby')}']")
        assert beside.inner_text().startswith(w["slots"]) and beside.is_visible()
        assert field.input_value() == "whenever you like"  # what they typed stays
        assert page.locator("#lon").get_attribute("aria-invalid") == "true"
        slots.click()  # the link leads to its field (and, with JavaScript, focuses it)
        if js:
            assert page.evaluate("document.activeElement.id") == \
                "attr.mission-benevole.availability"
        else:
            assert page.url.endswith("#attr.mission-benevole.availability")
        assert _stored(engine, title) == [] or _stored(engine, title)[0]["status"] == "invalid"
        _check(page, rec, live_server, lang=lang, shot=f"submit-errors-{tag}")

        # fixed and sent: stored, and the thank-you page gives the tracking link
        field.fill("samedi 10:00-12:00")
        page.fill("#lon", "2,3601")
        page.fill("#lat", "48,8726")
        if not page.locator("#charter").is_checked():
            page.check("#charter")
        page.click("#submit-form button[type=submit]")
        page.locator("#tracking-url").wait_for()
        assert page.locator("h1").inner_text() == w["thanks"]
        button = page.get_by_role("link", name=w["follow"])
        assert button.get_attribute("href") == page.locator("#tracking-url").get_attribute("href")
        assert "/track/" in button.get_attribute("href")
        assert page.get_by_role("link", name=w["map"]).get_attribute("href") == f"/?lang={lang}"
        _check(page, rec, live_server, lang=lang, shot=f"submit-done-{tag}")
        # the language switch keeps the link: it leads to the tracking page
        assert "/track/" in page.locator("#lang-switch").get_attribute("href")
    finally:
        context.close()
    (row,) = [r for r in _stored(engine, title) if r["status"] == "pending"]
    assert row["category"] == "mission-benevole" and row["source"] == "form"
    assert row["attributes"]["availability"] == [{"day": "sat", "from": "10:00", "to": "12:00"}]
    assert abs(row["lon"] - 2.3601) < 1e-6


def test_a_signed_in_resident_sees_their_links_on_the_form_and_the_tracking_page(
        ingest_app, engine, browser, live_server):
    _publish(engine, "Potager du square", 2.3601, 48.8726)
    client = ingest_app.test_client()
    sign_in(client, "nour@example.org", display_name="Nour")
    context, page, rec = _open(browser, js=False, lang="fr", device="phone")
    try:
        context.add_cookies([{"name": "session", "value": client.get_cookie("session").value,
                              "url": live_server}])
        page.goto(f"{live_server}/submit?lang=fr")
        _check(page, rec, live_server, lang="fr", shot="submit-signed-in-nojs-fr-phone",
               signed_in=True)
        page.select_option("#category", "jardin-partage")
        page.fill("#title", "Potager du square Nour")
        page.fill("#lon", "2.3601")
        page.fill("#lat", "48.8726")
        page.check("#charter")
        page.click("#submit-form button[type=submit]")
        # a published place of the same name there: the duplicate step first, as a card
        page.locator("#duplicates").wait_for()
        assert "Potager du square" in page.locator("#duplicates").inner_text()
        assert page.locator("#title").input_value() == "Potager du square Nour"  # kept
        _check(page, rec, live_server, lang="fr", shot="submit-duplicates-signed-in-nojs-fr-phone",
               signed_in=True)
        page.check("#different")
        page.click("#submit-form button[type=submit]")
        page.locator("#tracking-url").wait_for()
        _check(page, rec, live_server, lang="fr", shot="submit-done-signed-in-nojs-fr-phone",
               signed_in=True)
        page.get_by_role("link", name=WORDS["fr"]["follow"]).click()
        page.locator("#status").wait_for()
        bar = page.get_by_role("navigation")
        assert bar.get_by_role("link", name="Ma page", exact=True).is_visible()
        assert bar.get_by_role("link", name="Se connecter").count() == 0
    finally:
        context.close()
    with engine.connect() as conn:
        linked = conn.execute(text(
            "SELECT r.display_name FROM submission s JOIN resident r ON r.id = s.resident_id "
            "WHERE s.title = 'Potager du square Nour'")).scalar()
    assert linked == "Nour"


ADDRESS_WORDS = {
    "fr": {"label": "Adresse", "or": "ou coordonnées",
           "missing": "Adresse : introuvable dans Paris — vérifiez le numéro et la rue, ou "
                      "donnez les coordonnées",
           "placed": "Placé au : 12 Rue de Rivoli, 75004 Paris"},
    "en": {"label": "Address", "or": "or coordinates",
           "missing": "Address: not found in Paris — check the number and the street, or "
                      "give the coordinates",
           "placed": "Placed at: 12 Rue de Rivoli, 75004 Paris"},
}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_without_javascript_a_typed_address_places_the_pin(ingest_app, engine, browser,
                                                           live_server, lang):
    """No coordinates to know: the resident types the street address, as on a letter.

    12 rue de Rivoli is a door of the city's address file (data/cities/paris/
    adresses-75.csv.gz, the BAN): the pin lands on it. A street the file does not know
    comes back with the error on the address field, what was typed kept.
    """
    w = ADDRESS_WORDS[lang]
    title = f"Jardin du Marais {lang}"
    context, page, rec = _open(browser, js=False, lang=lang, device="phone")
    try:
        page.goto(f"{live_server}/submit?lang={lang}")
        where = page.locator("section[aria-labelledby='h-where']")
        assert where.locator("label").first.inner_text().startswith(w["label"])
        assert where.locator("h3").inner_text() == w["or"]
        page.select_option("#category", "jardin-partage")
        page.fill("#title", title)
        page.fill("#address", "12 rue des Licornes Bleues")
        page.check("#charter")
        page.click("#submit-form button[type=submit]")
        page.locator("#errors").wait_for()
        assert page.locator("#errors a").all_inner_texts() == [w["missing"]]
        assert page.locator("#address-error").inner_text() == w["missing"]
        assert page.locator("#address").input_value() == "12 rue des Licornes Bleues"
        assert page.locator("#address").get_attribute("aria-invalid") == "true"
        assert page.locator("#title").input_value() == title
        _check(page, rec, live_server, lang=lang, shot=f"submit-address-error-nojs-{lang}-phone")

        page.fill("#address", "12 rue de Rivoli")
        if not page.locator("#charter").is_checked():
            page.check("#charter")
        page.click("#submit-form button[type=submit]")
        page.locator("#tracking-url").wait_for()
        assert page.locator("#placed-at").inner_text() == w["placed"]
        assert page.locator("#placed-street").count() == 0  # at the door itself
        _check(page, rec, live_server, lang=lang, shot=f"submit-address-done-nojs-{lang}-phone")
    finally:
        context.close()
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT status::text, ST_X(geom) AS lon, ST_Y(geom) AS lat, raw FROM submission "
            "WHERE convert_from(raw, 'UTF8') LIKE :t ORDER BY id"),
            {"t": f"%Marais+{lang}%"}).mappings().all()
    # the refused send is kept as received (invalid, raw body), the fixed one placed
    assert [r["status"] for r in rows] == ["invalid", "pending"]
    assert b"Licornes" in bytes(rows[0]["raw"]) and b"Rivoli" in bytes(rows[1]["raw"])
    assert (rows[1]["lon"], rows[1]["lat"]) == pytest.approx((2.35995, 48.855602), abs=1e-7)
