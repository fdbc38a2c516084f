"""The map's form warns of a published duplicate and counts similar pending submissions,
without ever showing what a pending submission says (it is not public yet).
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.ingestion_fixtures import categories_loaded  # noqa: F401 - a fixture

HOTEL_DE_VILLE = "#map=16/48.85700/2.35400"
SECRET = "Rucher secret de Mme Dupont"


@pytest.fixture
def dupes(app, categories_loaded, clean_db):  # noqa: F811 - the fixture above
    app.config["INGEST_RATE_LIMIT"] = "1000/60"
    from geo.publish import FeatureDraft, publish_feature

    with Session(clean_db) as s, s.begin():
        garden = publish_feature(s, FeatureDraft(
            category="jardin-partage", title="Jardin Saint-Merri", lon=2.3540, lat=48.8570,
            attributes={"garden_type": "shared"}), max_zoom=2).id
    body = {"lon": 2.3540, "lat": 48.8570, "title": SECRET, "category": "jardin-partage",
            "description": "chez moi, code 1234"}
    r = app.test_client().post("/api/v1/submissions", data=json.dumps(body),
                               content_type="application/json")
    assert r.status_code == 201, r.get_data(as_text=True)
    return garden


@pytest.mark.parametrize(("lang", "said"), [
    ("fr", "1 proposition similaire en attente de modération ici"),
    ("en", "1 similar submission is already waiting for moderation here")])
def test_the_map_form_counts_a_pending_duplicate_without_showing_it(
        page_factory, live_server, dupes, lang, said):
    page, rec = page_factory(width=1280, height=800)
    page.goto(f"{live_server}/?lang={lang}{HOTEL_DE_VILLE}")
    page.locator("#btn-pin:visible, #fab-pin:visible").first.click()
    page.locator("#pin-centre").click()
    page.locator("#f-category").select_option("jardin-partage")
    page.locator("#f-title").fill("Jardin Saint Merri")
    box = page.locator("#pin-dupes")
    expect(box.locator(f"[data-dupe='{dupes}']")).to_be_visible()
    expect(box.locator("[data-dupes-pending='1']")).to_have_text(said)
    html = page.content()
    assert SECRET not in html and "1234" not in html
    assert rec.page_errors == []
