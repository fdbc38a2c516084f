"""Every moderation page in Chromium, in French and in English: no WCAG 2.1 AA violation.

Screens are kept in ``tests/browser/artifacts/moderation-<page>-<lang>.png``.
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from the fixtures modules)

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.conftest import axe_violations, screenshot
from tests.moderation_fixtures import (  # noqa: F401
    ADMIN,
    PASSWORD,
    mdb,
    pending,
    published,
    real_categories,
)

LOCALES = {"fr": "fr-FR", "en": "en-GB"}
HEADINGS = {
    "fr": {"login": "Connexion des modérateurs", "queue": "File d'attente",
           "flags": "Signalements ouverts", "imports": "Imports",
           "audit": "Journal des décisions", "users": "Comptes", "blocks": "Clients bloqués"},
    "en": {"login": "Moderator login", "queue": "Queue", "flags": "Open flags",
           "imports": "File imports", "audit": "Decision log", "users": "Accounts",
           "blocks": "Blocked clients"},
}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_moderation_page_is_accessible_in_both_languages(
        page_factory, live_server, mdb, real_categories, lang):
    sid = pending(mdb, category="mission-benevole", title="Distribution du soir",
                  attributes={"availability": [{"day": "mon", "from": "09:00", "to": "12:00"}],
                              "organisation": "Les Restos", "audiences": ["seniors"]})
    pending(mdb, category="fete-des-voisins", title="Fête de la rue",
            attributes={"party_kit_request": True},
            starts_at=datetime.now(UTC) + timedelta(days=20),
            ends_at=datetime.now(UTC) + timedelta(days=20, hours=3))
    fid = published(mdb, category="pret-troc", title="Perceuse à prêter")
    with mdb.begin() as conn:
        conn.execute(text("UPDATE feature SET attributes = '{\"offer_type\": \"lend\"}' "
                          "WHERE id = :f"), {"f": fid})
        conn.execute(text("INSERT INTO flag (feature_id, reason, client_key) VALUES "
                          "(:f, 'Ce point n''existe plus', 'ck-a')"), {"f": fid})
    page, rec = page_factory(locale=LOCALES[lang])
    heads = HEADINGS[lang]

    def check(name: str, path: str | None = None, heading: str | None = None) -> None:
        if path is not None:
            page.goto(live_server + path)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        if heading:
            expect(page.locator("h1")).to_contain_text(heading)
        violations = axe_violations(page, exclude=())
        screenshot(page, f"moderation-{name}-{lang}")
        assert violations == [], (name, violations)

    check("login", "/auth/login", heads["login"])  # chosen by the browser's language
    page.locator("#email").fill(ADMIN)
    page.locator("#password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/$"))
    check("queue", None, heads["queue"])
    check("submission", f"/moderation/submissions/{sid}")
    expect(page.locator('[data-field="availability"]').first).to_contain_text(
        "lundi 09:00–12:00" if lang == "fr" else "Monday 09:00–12:00")
    # Decide something, so the audit has a line.
    page.get_by_role("button", name="Approuver tel quel" if lang == "fr"
                     else "Approve as is").click()
    # on to the next waiting item (the Fête de la rue), told what was decided
    page.wait_for_url(re.compile(r"/moderation/submissions/\d+$"))
    check("submission-next", None)
    check("feature", f"/moderation/features/{fid}")
    expect(page.locator('[data-field="offer_type"]').first).to_have_text(
        "Prêt" if lang == "fr" else "Loan")
    check("flags", "/moderation/flags", heads["flags"])
    check("imports", "/moderation/imports", heads["imports"])
    check("audit", "/moderation/audit", heads["audit"])
    expect(page.locator("table")).to_contain_text("Approuvé" if lang == "fr" else "Approved")
    check("users", "/moderation/users", heads["users"])
    check("blocks", "/moderation/blocks", heads["blocks"])
    check("password", "/auth/password")
    # The switch leads to the same page in the other language.
    page.locator("#lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en" if lang == "fr" else "fr")
    assert rec.page_errors == [] and rec.dialogs == []
    assert rec.foreign(live_server) == []
