"""A resident adds a place with photos from a phone, sees each preview and its upload
progress; a moderator sees the thumbnails in the queue and approves; the place's panel
shows the photos, and what the page downloads carries no GPS, serial number or camera."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.orm import Session

from moderation.accounts import create_user
from tests.browser.conftest import axe_violations, screenshot
from tests.map_fixtures import drop_map_data, seed_map_features
from tests.photos_fixtures import SERIAL, camera_jpeg

PHONE = {"width": 375, "height": 740}
HOTEL_DE_VILLE = "#map=16/48.85700/2.35400"
PASSWORD = "correct horse battery staple"
TITLE = "Bacs fleuris de la rue du Temple"
ALT = "Trois bacs de tomates devant une porte bleue"

BYTES_OF = """async (url) => {
  const r = await fetch(url);
  return {status: r.status, type: r.headers.get('content-type'),
          bytes: Array.from(new Uint8Array(await r.arrayBuffer()))};
}"""


@pytest.fixture
def ids(clean_db):
    ids = seed_map_features(clean_db)
    with Session(clean_db) as s, s.begin():
        create_user(s, "mod-photos@example.org", "moderator", PASSWORD)
    yield ids
    drop_map_data(clean_db)


def photo_file(name: str, colour: tuple[int, int, int], size=(2400, 1800),
               orientation: int = 1) -> dict:
    return {"name": name, "mimeType": "image/jpeg",
            "buffer": camera_jpeg(colour, size, orientation)}


def metadata_free(answer: dict) -> Image.Image:
    """The downloaded bytes as an image, after checking they hold no camera metadata."""
    assert answer["status"] == 200 and answer["type"] in ("image/jpeg", "image/webp")
    data = bytes(answer["bytes"])
    assert SERIAL.encode() not in data and b"CarteCam" not in data and b"Exif" not in data
    img = Image.open(io.BytesIO(data))
    exif = img.getexif()
    assert len(exif) == 0 and not exif.get_ifd(0x8825)  # no GPS, nothing at all
    assert "exif" not in img.info and "icc_profile" not in img.info
    return img


def test_resident_sends_photos_a_moderator_approves_the_panel_shows_clean_copies(
        page_factory, live_server, ids, clean_db, var_dir):
    # ---- a resident, on a phone, on a slow connection (to watch the progress) ----
    page, rec = page_factory(**PHONE)
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    page.get_by_role("button", name="Ajouter un lieu").click()
    box = page.locator("#map_carte").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
    expect(page.locator("#pin-where")).to_contain_text("Épingle posée")
    page.locator("#f-category").select_option("jardin-map")
    page.locator("#f-title").fill(TITLE)
    page.locator("#pin-photo-input").set_input_files([
        photo_file("IMG_2041.JPG", (200, 60, 40)),
        photo_file("IMG_2042.JPG", (30, 90, 200), orientation=6),
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"}])
    items = page.locator(".photo-item")
    expect(items).to_have_count(3)
    # Each photo is previewed at once (an object URL, revoked once shown)...
    for i in range(2):
        expect(items.nth(i).locator("img.photo-preview")).to_have_js_property("complete", True)
        assert items.nth(i).locator("img.photo-preview").evaluate("i => i.naturalWidth") > 0
    # ...and a file that is not a photo is said so, in French, next to it.
    expect(items.nth(2)).to_contain_text("notes.txt : ce n'est pas une photo")
    expect(page.locator("#pin-licence-CC-BY-SA-4\\.0")).to_be_checked()
    expect(page.locator("#pin-photo-input")).to_have_attribute(
        "aria-describedby", "pin-photos-hint err-photo_ids")
    items.nth(0).get_by_label("Ce que montre la photo").fill(ALT)
    page.locator("#f-photos").get_by_label("Nom à citer").fill("Camille")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.locator("#f-charter").check()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Agrandir").click()  # the sheet, full height
    items.first.scroll_into_view_if_needed()
    screenshot(page, "photos-phone-picker")

    sent = []
    page.on("request", lambda r: r.url.startswith(live_server + "/api/v1/photos")
            and sent.append(r.url))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 40, "downloadThroughput": 400_000,
        "uploadThroughput": 300_000})
    page.get_by_role("button", name="Envoyer").click()
    # A progress bar per file moves while it goes up.
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.photo-item progress'))
        .some(p => !p.hidden && p.value > 0 && p.value < 100)""", timeout=20000)
    expect(items.first.locator(".photo-status")).to_contain_text(re.compile(r"Envoi… \d+ %"))
    expect(page.locator("#status")).to_contain_text(re.compile(r"Envoi des photos : \d+ %"))
    expect(page.locator("#pin-form .photo-total")).to_be_visible()  # by the send button
    screenshot(page, "photos-phone-progress")
    # The text file stops the sending (nothing typed is lost); the resident removes it
    # and sends again: the photos already up are not sent twice.
    expect(page.locator("#pin-top")).to_contain_text("Une photo n'a pas pu être envoyée",
                                                     timeout=30000)
    expect(items.nth(0).locator(".photo-status")).to_have_text("Photo prête")
    expect(items.nth(1).locator(".photo-status")).to_have_text("Photo prête")
    items.nth(2).get_by_role("button", name="Retirer notes.txt").click()
    expect(items).to_have_count(2)
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#pin-tracking")).to_be_visible(timeout=30000)
    assert len(sent) == 2  # the photos already up were not sent twice
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    expect(page.locator(".photo-item")).to_have_count(0)  # the form starts again empty
    with clean_db.connect() as conn:
        sub_id = conn.execute(text("SELECT max(id) FROM submission")).scalar_one()
        photos = conn.execute(text(
            "SELECT status, licence, author, alt, position, width, height FROM photo "
            "WHERE submission_id = :s ORDER BY position"), {"s": sub_id}).all()
    assert [(p.status, p.licence, p.author) for p in photos] == [
        ("ready", "CC-BY-SA-4.0", "Camille")] * 2
    assert [p.alt for p in photos] == [ALT, None]
    assert (photos[0].width, photos[0].height) == (1600, 1200)  # the display size
    assert (photos[1].width, photos[1].height) == (1200, 1600)  # upright, as it was taken
    # The 2400 × 1800 JPEGs were made smaller on the phone: what the server received (kept
    # in quarantine) is 2048 px wide, and no GPS, serial or camera name ever left the phone.
    with clean_db.connect() as conn:
        hashes = conn.execute(text("SELECT original_sha256 FROM photo WHERE submission_id = :s"),
                              {"s": sub_id}).scalars().all()
    sizes = []
    for digest in hashes:
        received = (var_dir / "photos" / "quarantine" / f"{digest}.orig").read_bytes()
        assert SERIAL.encode() not in received and b"CarteCam" not in received
        sizes.append(Image.open(io.BytesIO(received)).size)
    assert sorted(sizes) == [(1536, 2048), (2048, 1536)]

    # ---- a moderator: thumbnails in the queue, full size on the item, approve ----
    moderator, _ = page_factory()
    moderator.goto(live_server + "/auth/login")
    moderator.locator("#email").fill("mod-photos@example.org")
    moderator.locator("#password").fill(PASSWORD)
    moderator.get_by_role("button", name=re.compile("Se connecter")).click()
    moderator.goto(live_server + "/moderation/")
    thumbs = moderator.locator(".photo-thumbs img")
    expect(thumbs).to_have_count(2)
    expect(thumbs.first).to_have_js_property("complete", True)
    assert thumbs.first.evaluate("i => i.naturalWidth") == 400
    screenshot(moderator, "photos-moderation-queue")
    moderator.goto(live_server + f"/moderation/submissions/{sub_id}")
    full = moderator.locator(".photo-card img").first
    expect(full).to_have_attribute("alt", ALT)
    expect(full).to_have_js_property("complete", True)
    assert full.evaluate("i => i.naturalWidth") == 1600
    moderator.locator("#h-photos").scroll_into_view_if_needed()
    screenshot(moderator, "photos-moderation-item")
    moderator.get_by_role("button", name="Approuver tel quel").click()
    with clean_db.connect() as conn:
        fid = conn.execute(text("SELECT feature_id FROM submission WHERE id = :i"),
                           {"i": sub_id}).scalar_one()
        lon, lat = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM feature "
                                     "WHERE id = :i"), {"i": fid}).one()
    assert fid is not None

    # ---- anyone, on a phone: the place's panel shows the photos ----
    viewer, vrec = page_factory(**PHONE)
    viewer.goto(live_server + f"/#map=17/{lat:.5f}/{lon:.5f}&f={fid}")
    expect(viewer.locator("#detail-title")).to_have_text(TITLE)
    strip = viewer.locator("[data-section=photos] .photo-strip img")
    expect(strip).to_have_count(2)
    first = strip.first
    expect(first).to_have_attribute("alt", ALT)
    expect(strip.nth(1)).to_have_attribute("alt", f"Photo 2 — {TITLE}")
    expect(first).to_have_attribute("loading", "lazy")
    assert (first.get_attribute("width"), first.get_attribute("height")) == ("1600", "1200")
    expect(viewer.locator("[data-section=photos] .photo-credit").first).to_have_text(
        "© Camille, CC BY-SA 4.0")
    viewer.evaluate("document.getElementById('panel-body').scrollTop = 0")
    viewer.locator("[data-section=photos]").scroll_into_view_if_needed()
    expect(first).to_have_js_property("complete", True)
    screenshot(viewer, "photos-phone-panel")
    # What the page shows is our metadata-free re-encoding, thumbnail and full size.
    thumb_url = first.get_attribute("src")
    assert re.fullmatch(r"/photos/[0-9a-f]{64}\.thumb\.jpg", thumb_url)
    assert max(metadata_free(viewer.evaluate(BYTES_OF, thumb_url)).size) == 400
    first.click()  # a tap opens the full size
    dialog = viewer.locator("dialog.photo-viewer")
    expect(dialog).to_be_visible()
    big = dialog.locator("img")
    expect(big).to_have_js_property("complete", True)
    assert metadata_free(viewer.evaluate(BYTES_OF, big.get_attribute("src"))).size == (1600, 1200)
    expect(dialog).to_contain_text("Photo 1 sur 2")
    expect(dialog).to_contain_text("© Camille, CC BY-SA 4.0")
    screenshot(viewer, "photos-phone-full-size")
    dialog.get_by_role("button", name="Photo suivante").click()
    expect(big).to_have_attribute("alt", f"Photo 2 — {TITLE}")
    viewer.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(first.locator("xpath=..")).to_be_focused()  # back where the resident was
    assert axe_violations(viewer) == []

    # The list shows a small thumbnail for the place.
    viewer.get_by_role("button", name="Retour à la liste").click()
    item = viewer.locator("#list li button", has_text=TITLE)
    expect(item.locator("img.list-thumb")).to_have_count(1)
    expect(item).to_contain_text("Jardin partagé (test) · 2 photos")
    screenshot(viewer, "photos-phone-list")

    # Another resident adds a photo to the published place (photos alone are a proposal).
    item.click()
    expect(viewer.locator("#detail-title")).to_have_text(TITLE)
    viewer.locator("#btn-correct").click()
    viewer.locator("#correction-photo-input").set_input_files(
        [photo_file("porte.jpg", (120, 120, 30), (900, 1200))])
    expect(viewer.locator("#c-photos .photo-item img.photo-preview")).to_have_js_property(
        "complete", True)
    viewer.locator("#c-photos").get_by_label("Ce que montre la photo").fill("La porte bleue")
    viewer.locator("#c-send").click()
    expect(viewer.locator("#correct-thanks")).to_be_visible()
    with clean_db.connect() as conn:
        proposed = conn.execute(text(
            "SELECT p.status, p.alt, p.width, p.height FROM photo p JOIN correction c "
            "ON c.id = p.correction_id WHERE c.feature_id = :f"), {"f": fid}).all()
    assert [tuple(r) for r in proposed] == [("ready", "La porte bleue", 900, 1200)]
    for r in (rec, vrec):
        assert r.foreign(live_server) == [] and r.page_errors == [] and r.dialogs == []


def test_an_english_visitor_on_a_desktop_reads_the_photos_credit_and_alt(
        page_factory, live_server, ids, clean_db, var_dir):
    from tests.photos_fixtures import add_photo

    fid = ids["merri"]
    add_photo(clean_db, var_dir, feature_id=fid, alt="The gate in spring", author="Sam",
              licence="CC0-1.0")
    add_photo(clean_db, var_dir, feature_id=fid, position=1, colour=(10, 120, 200))
    page, rec = page_factory(locale="en-GB")
    page.goto(live_server + f"/?lang=en#map=17/48.85900/2.35090&f={fid}")
    expect(page.locator("#detail-title")).to_have_text("Jardin Saint-Merri")
    section = page.locator("[data-section=photos]")
    expect(section.locator("h3")).to_have_text("Photos")
    expect(section.locator("img")).to_have_count(2)
    expect(section.locator(".photo-credit").first).to_have_text("Sam, CC0 1.0")
    expect(section.locator(".photo-credit").nth(1)).to_have_text("© Camille, CC BY-SA 4.0")
    section.get_by_role("link", name=re.compile("Enlarge photo 2")).click()
    dialog = page.locator("dialog.photo-viewer")
    expect(dialog).to_contain_text("Photo 2 of 2")
    expect(dialog.locator("img")).to_have_attribute("alt", "Photo 2 — Jardin Saint-Merri")
    screenshot(page, "photos-desktop-full-size-en")
    dialog.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Add a place").first.click()
    expect(page.locator("#f-photos legend").first).to_have_text("Photos (optional, up to 4)")
    assert rec.page_errors == [] and rec.foreign(live_server) == []
