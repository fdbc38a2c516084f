"""The no-JavaScript form (/submit) sends photos from a real browser (issue 19).

Chromium with scripts off fills the form, chooses two files (a phone photo and an HTML
page named .jpg) and sends it as multipart/form-data: the place is kept and queued, the
thank-you page gives the tracking link and names the refused file and why, the good
photo is ready in quarantine's shadow and nothing public exists yet. axe-core finds no
WCAG 2.1 AA violation on the form with its photo fields.
"""

from __future__ import annotations

from sqlalchemy import text

from tests import photo_images as im
from tests.browser.conftest import axe_violations
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures


def test_the_form_without_javascript_sends_photos(ingest_app, engine, browser, live_server):
    context = browser.new_context(java_script_enabled=False, locale="fr-FR",
                                  service_workers="block")
    try:
        page = context.new_page()
        page.goto(f"{live_server}/submit?lang=fr")
        assert page.locator("form[enctype='multipart/form-data'] input[type=file]").count() == 1
        context_js = browser.new_context(locale="fr-FR", service_workers="block")
        try:
            checked = context_js.new_page()
            checked.goto(f"{live_server}/submit?lang=fr")
            assert axe_violations(checked) == []
        finally:
            context_js.close()
        page.select_option("#category", "jardin-partage")
        page.fill("#title", "Potager de la rue des Vinaigriers")
        page.fill("#lon", "2,3601")
        page.fill("#lat", "48,8726")
        page.set_input_files("#photos", [
            {"name": "potager.jpg", "mimeType": "image/jpeg",
             "buffer": im.camera_jpeg(1600, 1200)},
            {"name": "faux.jpg", "mimeType": "image/jpeg", "buffer": im.html_named_jpg()}])
        page.select_option("#photo-licence", "CC0-1.0")
        page.fill("#photo-alt", "Des bacs de tomates")
        page.check("input[name=charter]")
        page.click("button[type=submit]")
        assert page.locator("#tracking-url").count() == 1, page.locator("body").inner_text()[:1500]
        refused = page.locator("#photos-refused").inner_text()
        assert "Photo 2 « faux.jpg » : ce fichier n'est pas une image" in refused
    finally:
        context.close()
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.status, p.licence, p.alt, p.original_name, s.status AS s, p.feature_id "
            "FROM photo p JOIN submission s ON s.id = p.submission_id ORDER BY p.position"
        )).mappings().all()
    assert [(r["status"], r["licence"], r["original_name"], r["s"]) for r in rows] == [
        ("ready", "CC0-1.0", "potager.jpg", "pending"),
        ("refused", "CC0-1.0", "faux.jpg", "pending")]
    assert rows[0]["alt"] == "Des bacs de tomates" and rows[0]["feature_id"] is None
