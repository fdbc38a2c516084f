"""The moderation pages look like one product with the map, on a phone and on a desktop.

A moderator who opens the queue or an item on a 390 px phone finds the map's green top
bar with the product name (back to the map), the language switch, and the dozen
moderation links folded under "Menu" (open, they are 44 px targets in a grid); the
queue is one card per submission, the page never scrolls sideways, approve is a green
button and refuse a red one, both saying what they do, and states are badges in words.
The area filter lists every arrondissement with its quartiers grouped under it. axe-core
finds no WCAG 2.1 AA violation; nothing is fetched from another host, no inline style.
Screenshots: ``tests/browser/artifacts/moderation-<page>-<lang>-<device>.png``.
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from the fixtures modules)

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.conftest import ARTIFACTS, axe_violations, screenshot, small_targets
from tests.moderation_fixtures import (  # noqa: F401
    ADMIN,
    MOD,
    PASSWORD,
    mdb,
    pending,
    published,
    real_categories,
)

LOCALES = {"fr": "fr-FR", "en": "en-GB"}
DEVICES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
GREEN = "rgb(20, 83, 45)"  # the map's top bar, #14532d
APPROVE_GREEN = "rgb(23, 105, 47)"  # moderation.css --ok
REFUSE_RED = "rgb(179, 38, 30)"  # moderation.css --red, the map's error red
WORDS = {
    "fr": {"brand": "Carte citoyenne", "switch": "English", "queue": "File d'attente",
           "approve": "Approuver tel quel", "refuse": "Refuser", "bulk_approve": "Approuver",
           "waiting": "en attente", "select": "Sélectionner n° ", "whole": "en entier"},
    "en": {"brand": "Citizen map", "switch": "Français", "queue": "Queue",
           "approve": "Approve as is", "refuse": "Refuse", "bulk_approve": "Approve",
           "waiting": "waiting", "select": "Select no. ", "whole": "whole"},
}


# What sticks out on the right of the window (to say what pushed the page sideways).
OVERFLOW = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(
    e.getBoundingClientRect().right))"""


def _login(page, live_server: str) -> None:
    page.goto(live_server + "/auth/login")
    page.locator("#email").fill(MOD)
    page.locator("#password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/"))


def _check_look(page, rec, live_server: str, lang: str, device: str, name: str) -> None:
    """The shared bar, one stylesheet of our own, no sideways scroll, targets, axe."""
    w = WORDS[lang]
    assert page.locator("html").get_attribute("lang") == lang
    bar = page.locator("header#topbar")
    assert bar.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    brand = bar.locator("a.brand")
    assert brand.inner_text().startswith(w["brand"])
    assert brand.get_attribute("href") == f"/?lang={lang}"
    assert bar.locator("#lang-switch").inner_text() == w["switch"]
    sheets = page.evaluate("[...document.styleSheets].map(s => s.href)")
    assert sheets == [f"{live_server}/moderation/static/moderation.css"]
    assert page.locator("style, [style]").count() == 0
    screenshot(page, f"moderation-{name}-{lang}-{device}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), \
        (name, page.evaluate(OVERFLOW))
    small = small_targets(page)
    assert small == [], (name, small)
    assert axe_violations(page, exclude=()) == [], name
    assert rec.page_errors == [] and rec.console_errors == [], name
    assert rec.foreign(live_server) == []
    shot = f"moderation-{name}-{lang}-{device}"
    screenshot(page, shot)
    page.screenshot(path=str(ARTIFACTS / f"{shot}-full.png"), full_page=True)


@pytest.mark.parametrize("device", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_queue_and_item_share_the_maps_look(page_factory, live_server, mdb,
                                            real_categories, lang, device):
    w = WORDS[lang]
    sid = pending(mdb, category="mission-benevole", title="Distribution du soir",
                  attributes={"availability": [{"day": "mon", "from": "09:00", "to": "12:00"}],
                              "organisation": "Les Restos", "audiences": ["seniors"]})
    pending(mdb, category="jardin-test", title="Jardin suspect au nom très long pour voir "
            "comment une carte tient sur un téléphone", spam=0.8, age_minutes=5)
    fid = published(mdb, title="Jardin Saint-Merri")
    with mdb.begin() as conn:
        conn.execute(text("INSERT INTO flag (feature_id, reason, client_key) VALUES "
                          "(:f, 'Ce point n''existe plus', 'ck-a')"), {"f": fid})
    page, rec = page_factory(locale="fr-FR", **DEVICES[device])
    _login(page, live_server)
    page.goto(f"{live_server}/moderation/?lang={lang}")
    expect(page.locator("h1")).to_contain_text(w["queue"])

    menu = page.locator("header#topbar details#menu")
    queue_link = menu.get_by_role("link", name=w["queue"], exact=True)
    if device == "phone":
        # the links fold under "Menu"; open, they are a grid of big targets
        summary = menu.locator("summary")
        expect(summary).to_be_visible()
        expect(queue_link).to_be_hidden()
        _check_look(page, rec, live_server, lang, device, "queue")
        summary.click()
        expect(queue_link).to_be_visible()
        assert queue_link.get_attribute("aria-current") == "page"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        small = small_targets(page)
        assert small == [], small
        screenshot(page, f"moderation-menu-{lang}-phone")
        summary.click()
        expect(queue_link).to_be_hidden()
        # each submission is a card whose cells say what they are
        first = page.locator("table.queue tbody tr").first
        assert first.locator("td.sel label").inner_text().startswith(w["select"])
        assert first.locator("td.map").is_hidden()  # the item page draws it large
    else:
        expect(menu.locator("summary")).to_be_hidden()
        expect(queue_link).to_be_visible()
        _check_look(page, rec, live_server, lang, device, "queue")

    # bulk decisions: approve green, refuse red, both in words
    bulk = page.locator("#bulk fieldset.bulk")
    approve = bulk.get_by_role("button", name=w["bulk_approve"], exact=True)
    refuse = bulk.get_by_role("button", name=w["refuse"], exact=True)
    assert approve.evaluate("e => getComputedStyle(e).backgroundColor") == APPROVE_GREEN
    assert refuse.evaluate("e => getComputedStyle(e).backgroundColor") == REFUSE_RED

    # the area filter: each arrondissement a group, the arrondissement then its quartiers
    group = page.locator('#f-area optgroup[label="4e arrondissement"]')
    options = group.locator("option")
    assert options.count() == 5  # the 4e as a whole and its four quartiers
    assert options.first.get_attribute("value") == "75104"
    assert w["whole"] in options.first.inner_text()
    assert "Saint-Merri" in options.nth(1).inner_text() + options.nth(2).inner_text() \
        + options.nth(3).inner_text() + options.nth(4).inner_text()
    assert page.locator("#f-area > optgroup").count() == 20

    # the item: its state as a badge, the decisions as coloured buttons with words
    page.goto(f"{live_server}/moderation/submissions/{sid}")
    assert page.locator(".meta .badge.wait").inner_text() == w["waiting"]
    approve = page.get_by_role("button", name=w["approve"])
    refuse = page.locator("#refuse-reason").locator("xpath=ancestor::form").get_by_role(
        "button", name=w["refuse"], exact=True)
    assert approve.evaluate("e => getComputedStyle(e).backgroundColor") == APPROVE_GREEN
    assert refuse.evaluate("e => getComputedStyle(e).backgroundColor") == REFUSE_RED
    expect(page.locator('[data-field="availability"]').first).to_contain_text(
        "lundi 09:00–12:00" if lang == "fr" else "Monday 09:00–12:00")
    _check_look(page, rec, live_server, lang, device, "item")

    # the published place, with its open flag
    page.goto(f"{live_server}/moderation/features/{fid}")
    expect(page.locator(".flag-list .badge")).to_have_count(1)
    _check_look(page, rec, live_server, lang, device, "feature")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_other_moderation_page_fits_a_phone(page_factory, live_server, mdb,
                                                  real_categories, lang):
    """Sign-in, flags, imports, sources, audit, accounts, blocks, password: the same bar,
    no sideways scroll at 390 px, 44 px targets, no axe violation."""
    sid = pending(mdb, title="Jardin des Rosiers")
    fid = published(mdb, title="Jardin Saint-Merri")
    with mdb.begin() as conn:
        conn.execute(text("INSERT INTO flag (feature_id, reason, client_key) VALUES "
                          "(:f, 'Ce point n''existe plus', 'ck-a')"), {"f": fid})
        conn.execute(text("INSERT INTO client_block (client_key, until, reason, created_by, "
                          "submission_id) SELECT 'ck123', now() + interval '7 days', "
                          "'Pourriel répété', id, :s FROM app_user WHERE email = :e"),
                     {"s": sid, "e": ADMIN})
    page, rec = page_factory(locale=LOCALES[lang], **DEVICES["phone"])
    page.goto(f"{live_server}/auth/login")
    expect(page.locator("header#topbar details#menu")).to_have_count(0)  # signed out
    _check_look(page, rec, live_server, lang, "phone", "login")
    page.locator("#email").fill(ADMIN)
    page.locator("#password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/"))
    for name in ("flags", "imports", "sources", "audit", "users", "blocks", "corrections"):
        page.goto(f"{live_server}/moderation/{name}")
        _check_look(page, rec, live_server, lang, "phone", name)
    page.goto(f"{live_server}/auth/password")
    expect(page.locator("header#topbar details#menu")).to_have_count(1)  # signed in
    _check_look(page, rec, live_server, lang, "phone", "password")
