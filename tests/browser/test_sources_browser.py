"""The synchronised sources page in Chromium: a held run found and confirmed by keyboard."""
# ruff: noqa: F811 (pytest fixtures are imported by name from the fixtures modules)

from __future__ import annotations

import dataclasses
import re

from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.city import load_city
from ingestion.sync import sync_source
from tests.browser.conftest import axe_violations, screenshot
from tests.moderation_fixtures import MOD, PASSWORD, mdb, real_categories  # noqa: F401


def _with_file(city, name, path):
    seeds = tuple(dataclasses.replace(d, file=path) if d.source == name else d
                  for d in city.seeds)
    return dataclasses.replace(city, seeds=seeds)


def test_a_moderator_confirms_a_held_sync_with_the_keyboard(
        page_factory, live_server, real_categories, mdb, tmp_path):
    paris = load_city("paris", check_files=False)
    markets = paris.source("paris-marches")
    with Session(mdb) as s, s.begin():
        first = sync_source(s, paris, "paris-marches")
    assert first.status == "applied" and first.new > 50
    # The next download stopped half way: the sync is held.
    lines = markets.file.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = tmp_path / "marches-decouverts.csv"
    cut.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    with Session(mdb) as s, s.begin():
        held = sync_source(s, _with_file(paris, "paris-marches", cut), "paris-marches")
    assert held.status == "held" and held.retired == 0

    page, rec = page_factory()
    page.goto(live_server + "/auth/login")
    page.locator("#email").fill(MOD)
    page.locator("#password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/$"))
    link = page.get_by_role("link", name=re.compile(r"Sources \(1 à décider\)"))
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/sources$"))
    expect(page.locator("tr.held")).to_contain_text("trop de retraits")
    assert axe_violations(page, exclude=()) == []
    screenshot(page, "moderation-sources")

    page.get_by_role("button", name="Confirmer et appliquer").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/sources$"))
    expect(page.locator(".flash.ok")).to_contain_text(
        f"Synchronisation n° {held.run} confirmée")
    expect(page.get_by_role("button", name="Confirmer et appliquer")).to_have_count(0)
    with mdb.connect() as conn:
        assert conn.execute(text(
            "SELECT count(*) FROM feature WHERE source = 'paris-marches' "
            "AND status = 'unpublished'")).scalar_one() == held.would_retire
    assert rec.dialogs == [] and rec.page_errors == []
    assert rec.foreign(live_server) == []
