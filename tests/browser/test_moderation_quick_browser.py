"""A moderator on a phone decides from the queue, then walks items with the keyboard.

On a 390 px phone, each submission's card carries its own "Approuver" and "Refuser":
approve publishes at once and the queue comes back scrolled to the next card with a
notice naming what was decided; refuse opens its reason under the card (a browser asks
for the reason before posting), then the same. On an item page, ``j`` / ``k`` go to the
next / previous waiting item of the same filters, ``?`` opens the visible help, and
none of them fires while the moderator types in a field. axe-core finds no WCAG 2.1 AA
violation with the refusal open; targets stay 44 px; the page never scrolls sideways.
Screenshots: ``tests/browser/artifacts/moderation-quick-*.png``.
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from the fixtures modules)

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.conftest import axe_violations, screenshot, small_targets
from tests.moderation_fixtures import MOD, PASSWORD, mdb, pending, real_categories  # noqa: F401

PHONE = {"width": 390, "height": 844}



def _status(engine, sid: int) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT status::text FROM submission WHERE id = :i"),
                            {"i": sid}).scalar_one()


def _login(page, live_server: str) -> None:
    page.goto(live_server + "/auth/login")
    page.locator("#email").fill(MOD)
    page.locator("#password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/"))


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert small_targets(page) == []


def test_a_moderator_approves_and_refuses_from_the_queue_on_a_phone(
        page_factory, live_server, mdb, real_categories):
    first = pending(mdb, title="Jardin des Rosiers", age_minutes=40)
    second = pending(mdb, title="Soldes chez Bricomax", age_minutes=30,
                     description="Promo -50 % ce week-end !")
    third = pending(mdb, title="Composteur de la rue Vieille-du-Temple", age_minutes=20)
    page, rec = page_factory(locale="fr-FR", **PHONE)
    _login(page, live_server)
    page.goto(live_server + "/moderation/?category=jardin-test")
    card = page.locator(f"tr#item-{first}")
    approve = card.get_by_role("button", name=f"Approuver n° {first}")
    expect(approve).to_be_visible()
    assert approve.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(23, 105, 47)"
    _fits(page)
    screenshot(page, "moderation-quick-queue-phone")

    # Approve in one click: back to the queue at the same filter, at the next card.
    approve.click()
    page.wait_for_url(re.compile(rf"/moderation/\?category=jardin-test#item-{second}$"))
    expect(page.locator(".flash.ok")).to_have_text(re.compile(
        rf"n° {first} « Jardin des Rosiers » approuvé : publié sur la carte \(point n° \d+\)"))
    expect(page.locator(f"tr#item-{first}")).to_have_count(0)
    assert _status(mdb, first) == "approved"
    # the next card is where the window is, the notice of the decision above it
    top = page.locator(f"tr#item-{second}").evaluate("e => e.getBoundingClientRect().top")
    assert 0 < top < 250, top
    expect(page.locator(".flash.ok")).to_be_in_viewport()
    assert page.locator(".flash.ok").evaluate("e => e.getBoundingClientRect().bottom") <= top
    # the keyboard is there too: on the next row's title (Enter opens it, decides nothing)
    expect(page.locator(f"tr#item-{second} .item-title a")).to_be_focused()
    screenshot(page, "moderation-quick-approved-phone")

    # Refuse: the reason opens under the card; without one, the browser asks for it.
    card = page.locator(f"tr#item-{second}")
    card.locator("summary").click()
    reason = card.get_by_label("Raison du refus (charte)")
    expect(reason).to_be_visible()
    submit = card.get_by_role("button", name=f"Refuser n° {second}")
    submit.click()
    assert reason.evaluate("e => e.validity.valueMissing")
    assert _status(mdb, second) == "pending"
    reason.select_option("advertising")
    card.get_by_label("Message au contributeur (visible sur son lien de suivi)").fill(
        "Pas de publicité sur la carte.")
    _fits(page)
    assert axe_violations(page, exclude=()) == []
    screenshot(page, "moderation-quick-refuse-open-phone")
    submit.click()
    page.wait_for_url(re.compile(rf"/moderation/\?category=jardin-test#item-{third}$"))
    expect(page.locator(".flash.ok")).to_have_text(
        f"n° {second} « Soldes chez Bricomax » refusé : Publicité.")
    assert _status(mdb, second) == "refused"
    with mdb.connect() as conn:
        assert conn.execute(text(
            "SELECT action::text, reason FROM moderation_event WHERE submission_id = :s"),
            {"s": second}).all() == [("refuse", "advertising")]
    expect(page.locator(".flash.ok")).to_be_in_viewport()
    _fits(page)
    assert axe_violations(page, exclude=()) == []
    screenshot(page, "moderation-quick-refused-phone")
    assert rec.page_errors == [] and rec.console_errors == []
    assert rec.foreign(live_server) == []


def test_keys_walk_the_waiting_items_but_not_while_typing(
        page_factory, live_server, mdb, real_categories):
    first = pending(mdb, title="Jardin un", age_minutes=40)
    pending(mdb, title="Soupe", category="soupe-test", age_minutes=35)
    second = pending(mdb, title="Jardin deux", age_minutes=30)
    page, rec = page_factory(locale="en-GB", **PHONE)
    _login(page, live_server)
    page.goto(f"{live_server}/moderation/submissions/{first}?category=jardin-test")

    help_ = page.locator("#shortcuts")
    expect(help_.locator("summary")).to_contain_text("Keyboard shortcuts")
    expect(help_.locator("dl")).to_be_hidden()
    page.keyboard.press("?")
    expect(help_.locator("dl")).to_be_visible()
    expect(help_).to_contain_text("next submission")
    _fits(page)
    assert axe_violations(page, exclude=()) == []
    screenshot(page, "moderation-quick-keys-help-phone")
    page.keyboard.press("?")
    expect(help_.locator("dl")).to_be_hidden()

    # Typing a "j" in the refusal's message stays in the field.
    message = page.locator("#refuse-message")
    message.fill("")
    message.press("j")
    message.press("k")
    expect(message).to_have_value("jk")
    assert page.url.endswith(f"/moderation/submissions/{first}?category=jardin-test")

    # Out of the field: j is the next one of the filter (the soup is another category).
    message.blur()
    page.keyboard.press("j")
    page.wait_for_url(f"{live_server}/moderation/submissions/{second}?category=jardin-test")
    page.keyboard.press("k")
    page.wait_for_url(f"{live_server}/moderation/submissions/{first}?category=jardin-test")

    # Approve on the item page: on to the next waiting one, with the notice.
    page.get_by_role("button", name="Approve as is").click()
    page.wait_for_url(f"{live_server}/moderation/submissions/{second}?category=jardin-test")
    expect(page.locator(".flash.ok").first).to_contain_text(
        f"Submission {first} “Jardin un” approved")
    expect(page.locator(".flash.ok").nth(1)).to_have_text(
        f"Next in the queue: submission {second}.")
    screenshot(page, "moderation-quick-next-phone")
    assert rec.page_errors == [] and rec.console_errors == []


def test_the_sources_page_says_how_addresses_were_placed(page_factory, live_server, mdb):
    """A sync's re-placements in words, in the run's row, on a phone: axe-clean."""
    import json
    from collections import Counter

    from ingestion.sync import SyncReport

    report = SyncReport(source="partner-jardins", location="https://example.org/j.csv",
                        read=120, changed=7, unchanged=100, placements_kept=5, re_placed=42,
                        geocoded=Counter(exact=40, street=2, none=1),
                        address_file={"file": "adresses-75.csv.gz", "sha256": "ab" * 32,
                                      "rules": 2})
    with mdb.begin() as conn:
        conn.execute(text("INSERT INTO source_sync_run (source, location, status, report, "
                          "finished_at) VALUES (:s, :l, 'applied', CAST(:r AS jsonb), now())"),
                     {"s": report.source, "l": report.location,
                      "r": json.dumps(report.as_dict())})
    page, rec = page_factory(locale="fr-FR", **PHONE)
    _login(page, live_server)
    for lang, words in (("fr", "42 lignes replacées"), ("en", "42 rows placed again")):
        page.goto(f"{live_server}/moderation/sources?lang={lang}")
        cell = page.locator("td.placing")
        expect(cell).to_contain_text(words)
        cell.scroll_into_view_if_needed()
        _fits(page)
        assert axe_violations(page, exclude=()) == []
        screenshot(page, f"moderation-quick-sources-{lang}-phone")
    assert rec.page_errors == [] and rec.console_errors == []
