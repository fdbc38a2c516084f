"""Photos in moderation: thumbnails in the queue, full size on the item's page, one photo
hidden, removed or restored without refusing its item, each decision audited with its
reason; a hidden photo of a pending submission stays out of the place it becomes."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import io
import re

from PIL import Image
from sqlalchemy import text

from tests.moderation_fixtures import (  # noqa: F401
    mdb,
    mod_app,
    moderator,
    pending,
    post,
    published,
)
from tests.photos_fixtures import add_photo


def status_of(engine, photo_id):
    with engine.connect() as conn:
        return conn.execute(text("SELECT status, feature_id, decided_by IS NOT NULL "
                                 "FROM photo WHERE id = :i"), {"i": photo_id}).one()


def events(engine):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT e.action::text AS action, e.reason, e.submission_id, e.feature_id, "
            "e.before, e.after, u.email FROM moderation_event e "
            "LEFT JOIN app_user u ON u.id = e.actor_id ORDER BY e.id")).all()


def test_queue_shows_thumbnails_and_the_item_page_the_full_size(moderator, mdb, var_dir):
    sid = pending(mdb, title="Jardin des Rosiers")
    ready = add_photo(mdb, var_dir, submission_id=sid, alt="Le portail vert")
    busy = add_photo(mdb, var_dir, submission_id=sid, status="quarantined", position=1)
    queue = moderator.get("/moderation/").get_data(as_text=True)
    assert f'src="/moderation/photos/{ready["id"]}/thumb"' in queue
    assert 'alt="Le portail vert"' in queue and "photo en traitement" in queue
    assert f'/moderation/photos/{busy["id"]}/thumb' not in queue

    thumb = moderator.get(f"/moderation/photos/{ready['id']}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert "no-store" in thumb.headers["Cache-Control"]
    assert thumb.headers["X-Content-Type-Options"] == "nosniff"
    assert thumb.data == ready["thumb"].data
    assert max(Image.open(io.BytesIO(thumb.data)).size) == 400

    page = moderator.get(f"/moderation/submissions/{sid}").get_data(as_text=True)
    assert f'src="/moderation/photos/{ready["id"]}/display"' in page
    assert f'width="{ready["width"]}" height="{ready["height"]}"' in page
    assert "CC BY-SA 4.0" in page and "Camille" in page and "IMG_0001.JPG" in page
    assert "Masquer la photo" in page and "Retirer la photo" in page
    display = moderator.get(f"/moderation/photos/{ready['id']}/display")
    assert Image.open(io.BytesIO(display.data)).size == (ready["width"], ready["height"])
    # Not yet public: the public route does not know it.
    assert moderator.get(ready["url"]).status_code == 404


def test_hide_and_remove_one_photo_of_a_pending_submission_audited_item_kept(
        moderator, mdb, var_dir):
    sid = pending(mdb)
    keep = add_photo(mdb, var_dir, submission_id=sid)
    hide = add_photo(mdb, var_dir, submission_id=sid, position=1, colour=(0, 0, 200))
    drop = add_photo(mdb, var_dir, submission_id=sid, position=2, colour=(0, 200, 0))
    page = f"/moderation/submissions/{sid}"
    # A reason is required: nothing changes without one.
    refused = post(moderator, f"/moderation/photos/{hide['id']}/hide", {"reason": "  "},
                   page=page)
    assert refused.status_code == 400 and status_of(mdb, hide["id"])[0] == "ready"

    answer = post(moderator, f"/moderation/photos/{hide['id']}/hide",
                  {"reason": "plaque d'immatriculation lisible", "back": page}, page=page)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(
        f"{page}#photo-{hide['id']}")
    post(moderator, f"/moderation/photos/{drop['id']}/remove", {"reason": "hors sujet"},
         page=page)
    assert status_of(mdb, hide["id"]) == ("hidden", None, True)
    assert status_of(mdb, drop["id"]) == ("removed", None, True)
    with mdb.connect() as conn:  # the item itself is untouched, still waiting
        assert conn.execute(text("SELECT status::text FROM submission WHERE id = :i"),
                            {"i": sid}).scalar() == "pending"
    hidden_ev, removed_ev = events(mdb)
    assert (hidden_ev.action, hidden_ev.submission_id, hidden_ev.email) == (
        "edit", sid, "mod@example.org")
    assert hidden_ev.reason == (f"photo_removed: photo n° {hide['id']} masquée — "
                                "plaque d'immatriculation lisible")
    assert hidden_ev.before["photo"]["status"] == "ready"
    assert hidden_ev.after["photo"]["status"] == "hidden"
    assert removed_ev.reason.endswith("retirée — hors sujet")
    # Moderators still see the hidden one (to change their mind), not the removed one.
    assert moderator.get(f"/moderation/photos/{hide['id']}/thumb").status_code == 200
    assert moderator.get(f"/moderation/photos/{drop['id']}/thumb").status_code == 404
    html = moderator.get(page).get_data(as_text=True)
    assert "Rétablir la photo" in html and "masquée" in html
    history = html[html.index("Historique"):]
    assert "plaque d&#39;immatriculation lisible" in history

    # Approved: the place gets the visible photo only; the hidden one can be restored.
    post(moderator, f"/moderation/submissions/{sid}/approve", {"version": "1"}, page=page)
    with mdb.connect() as conn:
        fid = conn.execute(text("SELECT feature_id FROM submission WHERE id = :i"),
                           {"i": sid}).scalar()
    photos = moderator.get(f"/ogc/collections/features/items/{fid}?f=json").get_json()[
        "properties"]["photos"]
    root = moderator.application.config["PUBLIC_URL"]
    assert [p["url"] for p in photos] == [root + keep["url"]]
    feature_page = moderator.get(f"/moderation/features/{fid}").get_data(as_text=True)
    assert f'id="photo-{hide["id"]}"' in feature_page  # still reachable from the place
    post(moderator, f"/moderation/photos/{hide['id']}/restore", {"reason": "plaque floutée"},
         page=f"/moderation/features/{fid}")
    assert status_of(mdb, hide["id"]) == ("ready", fid, True)
    photos = moderator.get(f"/ogc/collections/features/items/{fid}?f=json").get_json()[
        "properties"]["photos"]
    assert [p["url"] for p in photos] == [root + keep["url"], root + hide["url"]]
    assert moderator.get(hide["url"]).status_code == 200


def test_photo_actions_are_checked(moderator, mdb, var_dir):
    sid = pending(mdb)
    photo = add_photo(mdb, var_dir, submission_id=sid)
    page = f"/moderation/submissions/{sid}"
    # Restoring a photo that is not hidden, an unknown action or photo: refused.
    assert post(moderator, f"/moderation/photos/{photo['id']}/restore", {"reason": "x"},
                page=page).status_code == 400
    assert post(moderator, f"/moderation/photos/{photo['id']}/delete", {"reason": "x"},
                page=page).status_code == 404
    assert post(moderator, "/moderation/photos/999999/hide", {"reason": "x"},
                page=page).status_code == 404
    assert post(moderator, f"/moderation/photos/{photo['id']}/hide", {"reason": "x" * 1001},
                page=page).status_code == 400
    # A forged "back" never sends the moderator to another site.
    answer = post(moderator, f"/moderation/photos/{photo['id']}/hide",
                  {"reason": "test", "back": "//evil.example/moderation/"}, page=page)
    assert answer.status_code == 303
    assert re.match(r"^(https?://localhost)?/moderation/", answer.headers["Location"])
    assert moderator.get("/moderation/photos/1/original").status_code == 404


def test_the_photo_panel_speaks_the_moderators_language(moderator, mdb, var_dir):
    sid = pending(mdb)
    add_photo(mdb, var_dir, submission_id=sid)
    en = moderator.get(f"/moderation/submissions/{sid}?lang=en").get_data(as_text=True)
    for words in ("1 photo", "Credited author", "Alt text",
                  "Reason (audit trail; shown to the resident, and e-mailed if they left an "
                  "address)",
                  "Hide the photo", "Remove the photo"):
        assert words in en
    assert "Masquer la photo" not in en


def test_photos_proposed_for_a_published_place_are_moderated_with_the_correction(
        moderator, mdb, mod_app):
    from tests.photos_fixtures import camera_jpeg

    fid = published(mdb, title="Jardin Saint-Merri")
    resident = mod_app.test_client()
    up = resident.post("/api/v1/photos?lang=fr", content_type="multipart/form-data", data={
        "photo": (io.BytesIO(camera_jpeg((90, 140, 30))), "IMG_3001.JPG"),
        "licence": "CC0-1.0", "author": "Sam", "alt": "L'entrée du jardin"})
    assert up.status_code == 201, up.get_data(as_text=True)
    sent = resident.post(f"/api/v1/features/{fid}/corrections?lang=fr",
                         json={"changes": {}, "comment": "une photo de l'entrée",
                               "photo_ids": [up.get_json()["id"]]})
    assert sent.status_code == 201, sent.get_data(as_text=True)
    with mdb.connect() as conn:
        cid, pid = conn.execute(text("SELECT correction_id, id FROM photo")).one()
    page = moderator.get("/moderation/corrections").get_data(as_text=True)
    assert f'src="/moderation/photos/{pid}/display"' in page
    assert "CC0 1.0" in page and "Sam" in page and "Masquer la photo" in page
    assert moderator.get(f"/moderation/photos/{pid}/thumb").status_code == 200
    answer = post(moderator, f"/moderation/corrections/{cid}/approve",
                  page="/moderation/corrections")
    assert answer.status_code == 303
    photos = moderator.get(f"/ogc/collections/features/items/{fid}?f=json").get_json()[
        "properties"]["photos"]
    assert [(p["licence"], p["author"], p["alt"]) for p in photos] == [
        ("CC0-1.0", "Sam", "L'entrée du jardin")]
