"""The imports pages in Chromium: keyboard only, axe-clean, hostile rows inert, one origin."""
# ruff: noqa: F811 (pytest fixtures are imported by name from the fixtures modules)

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.conftest import axe_violations, screenshot
from tests.ingestion_fixtures import categories_loaded  # noqa: F401
from tests.integration.test_moderation_imports import carte_import, geojson
from tests.moderation_fixtures import MOD, PASSWORD, mdb  # noqa: F401


def test_a_moderator_reviews_and_publishes_an_import_with_the_keyboard(
        page_factory, live_server, categories_loaded, mdb, runner, tmp_path):
    carte_import(runner, geojson(tmp_path / "jardins-asso.geojson"))
    with mdb.connect() as conn:
        run_id = conn.execute(text("SELECT max(id) FROM import_run")).scalar_one()
    page, rec = page_factory()
    page.goto(live_server + "/auth/login")
    page.locator("#email").fill(MOD)
    page.locator("#password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/$"))

    # The navigation link says one import waits; reach it with the keyboard.
    link = page.get_by_role("link", name=re.compile(r"Imports \(1 en attente\)"))
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/imports$"))
    assert axe_violations(page, exclude=()) == []
    screenshot(page, "moderation-imports-list")

    page.get_by_role("link", name=f"n° {run_id}").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/moderation/imports/{run_id}$"))
    expect(page.locator("svg.runmap")).to_be_visible()
    assert axe_violations(page, exclude=()) == []
    screenshot(page, "moderation-import-run")

    page.get_by_role("link", name=re.compile(r"Refusées \(3\)")).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"outcome=refused"))
    raw = page.locator("details", has_text="voir").first
    raw.locator("summary").focus()
    page.keyboard.press("Enter")  # open the raw row
    expect(page.locator("pre.raw").first).to_contain_text("⟨U+202E⟩evil")
    expect(page.locator("pre.raw").first).to_contain_text("<script>alert('x')</script>")
    assert axe_violations(page, exclude=()) == []

    field = page.get_by_label("Attribution (affichée avec chaque point publié)")
    expect(field).to_have_value("asso-jardins")
    field.fill("Association des jardins du Marais")
    page.get_by_role("button", name="Publier les 3 lignes valides").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/moderation/imports/{run_id}$"))
    expect(page.locator(".flash.ok")).to_contain_text("3 points publiés")
    expect(page.get_by_role("button", name=re.compile("Publier"))).to_have_count(0)
    with mdb.connect() as conn:
        assert conn.execute(text(
            "SELECT count(*) FROM feature WHERE attribution = "
            "'Association des jardins du Marais'")).scalar_one() == 3
    assert rec.dialogs == [] and rec.page_errors == []
    assert rec.foreign(live_server) == []
