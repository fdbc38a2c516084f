"""Photos through the API and the form: upload, refuse, keep, approve, serve (issue 19).

Real PostGIS, real files under the test's VAR_DIR, images made with Pillow. A resident
sends a submission with photos; the submission is kept before any photo is decoded;
a hostile file is a 422 naming the file and why, in the resident's language, while the
submission stays queued and nothing public is written for it; once a moderator
approves, the derivatives are served under /photos/ with safe headers.
"""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests import photo_images as im
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures
from tests.ingestion_fixtures import good_submission

SUBMIT = "/api/v1/submissions"


def _files(*items: tuple[str, bytes]) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(data), name) for name, data in items]


def _send(api, body: dict | None = None, photos=(), lang: str = "fr", **fields):
    data: dict = {"photos": _files(*photos), **fields}
    if body is not None:
        data["submission"] = (io.BytesIO(json.dumps(body).encode()), "submission.json",
                              "application/json")
    return api.post(SUBMIT, data=data, content_type="multipart/form-data",
                    headers={"Accept-Language": lang})


def _rows(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def _public_files(app) -> list[str]:
    folder = app.config["VAR_DIR"] / "photos" / "public"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _approve(engine, submission_id: int) -> int:
    from moderation.actions import approve

    with engine.begin() as conn:
        uid = conn.execute(text("SELECT id FROM app_user WHERE email = 'photo-mod@example.org'"
                                )).scalar() or conn.execute(text(
            "INSERT INTO app_user (email, role, password_hash) VALUES "
            "('photo-mod@example.org', 'moderator', '$argon2-not-a-login') RETURNING id"
        )).scalar_one()
        version = conn.execute(text("SELECT version FROM submission WHERE id = :i"),
                               {"i": submission_id}).scalar_one()
    with Session(engine) as session, session.begin():
        return approve(session, submission_id, version, actor_id=uid)


def test_a_submission_with_photos_is_kept_and_its_photos_published_on_approval(
        api, ingest_app, engine):
    camera = im.camera_jpeg()
    answer = _send(api, good_submission(), photos=[
        ("IMG_0001.JPG", camera), ("plan.png", im.png_with_alpha())],
        licence="CC0-1.0", author="Camille", alt=["Le stand de soupe", "Le plan"])
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["status"] == "pending" and body["tracking_url"]
    assert [(p["position"], p["name"], p["media_type"]) for p in body["photos"]] == [
        (1, "IMG_0001.JPG", "image/jpeg"), (2, "plan.png", "image/webp")]
    assert (body["photos"][0]["width"], body["photos"][0]["height"]) == (1200, 1600)
    rows = _rows(engine, "SELECT * FROM photo WHERE submission_id = :s ORDER BY position",
                 s=body["id"])
    assert [(r["status"], r["licence"], r["author"], r["alt"]) for r in rows] == [
        ("ready", "CC0-1.0", "Camille", "Le stand de soupe"),
        ("ready", "CC0-1.0", "Camille", "Le plan")]
    # The original is kept as received, in quarantine (never under public/).
    quarantine = ingest_app.config["VAR_DIR"] / "photos" / "quarantine"
    assert (quarantine / f"{rows[0]['original_sha256']}.orig").read_bytes() == camera
    # Pending: nothing is served yet, not even by its exact key.
    display = f"/photos/{rows[0]['display_key']}"
    assert api.get(display).status_code == 404
    feature_id = _approve(engine, body["id"])
    assert _rows(engine, "SELECT count(*) AS n FROM photo WHERE feature_id = :f",
                 f=feature_id)[0]["n"] == 2
    served = api.get(display)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag = served.headers["ETag"]
    assert api.get(display, headers={"If-None-Match": etag}).status_code == 304
    thumb = api.get(f"/photos/{rows[1]['thumb_key']}")
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/webp"
    # The public feature carries them (geo.published's photos field).
    feature = api.get(f"/ogc/collections/features/items/{feature_id}",
                      headers={"Accept": "application/geo+json"}).get_json()
    root = api.application.config["PUBLIC_URL"]  # absolute, under the site's public root
    assert [p["url"] for p in feature["properties"]["photos"]] == [
        root + display, f"{root}/photos/{rows[1]['display_key']}"]


def test_form_fields_instead_of_a_json_part(api, engine):
    sub = good_submission()
    fields = {k: v for k, v in sub.items() if k not in ("attributes", "lon", "lat")}
    fields.update(lon=str(sub["lon"]), lat=str(sub["lat"]))
    answer = _send(api, None, photos=[("a.webp", im.webp())], **fields)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert _rows(engine, "SELECT status FROM photo WHERE submission_id = :s",
                 s=answer.get_json()["id"])[0]["status"] == "ready"


def test_the_upload_step_gives_an_id_only_its_holder_can_attach_once(api, engine):
    up = api.post("/api/v1/photos", data={"photo": (io.BytesIO(im.camera_jpeg()), "a.jpg"),
                                          "licence": "CC-BY-SA-4.0", "author": "Léa",
                                          "alt": "Le potager"},
                  content_type="multipart/form-data")
    assert up.status_code == 201, up.get_data(as_text=True)
    photo = up.get_json()
    assert set(photo) == {"id", "width", "height", "media_type"}
    assert (photo["width"], photo["height"], photo["media_type"]) == (1200, 1600, "image/jpeg")
    # Not the row id: an opaque token, and only its hash is stored.
    assert not photo["id"].isdigit()
    assert _rows(engine, "SELECT count(*) AS n FROM photo WHERE upload_token_hash = :t",
                 t=photo["id"])[0]["n"] == 0
    first = api.post(SUBMIT, json=good_submission(photo_ids=[photo["id"]]))
    assert first.status_code == 201, first.get_data(as_text=True)
    attached = _rows(engine, "SELECT submission_id, author, alt FROM photo")
    assert [dict(r) for r in attached] == [{"submission_id": first.get_json()["id"],
                                            "author": "Léa", "alt": "Le potager"}]
    # The same id again (or one never given): the submission is kept, the id refused.
    again = api.post(SUBMIT, json=good_submission(title="Autre soupe",
                                                  photo_ids=[photo["id"], "x" * 32]))
    assert again.status_code == 422
    problem = again.get_json()
    assert problem["submission_id"] and problem["submission_status"] == "pending"
    assert [r["code"] for r in problem["photos_refused"]] == ["unknown_photo"] * 2
    assert _rows(engine, "SELECT status FROM submission WHERE id = :i",
                 i=problem["submission_id"])[0]["status"] == "pending"


HOSTILE = [
    ("bombe.png", im.pixel_flood_png(), "too_many_pixels", "image trop grande"),
    ("coupee.jpg", im.truncated_jpeg(), "truncated", "image incomplète"),
    ("facture.jpg", im.pdf_named_jpg(), "not_an_image", "n'est pas une image"),
    ("page.jpg", im.html_named_jpg(), "not_an_image", "n'est pas une image"),
    ("logo.svg", im.svg(), "unsupported_format", "format non accepté (SVG)"),
    ("anim.gif", im.gif_js_polyglot(), "unsupported_format", "format non accepté (GIF)"),
    ("double.jpg", im.jpeg_zip_polyglot(), "polyglot", "autre chose qu'une image"),
]


@pytest.mark.parametrize(("name", "data", "code", "words"), HOSTILE,
                         ids=[h[2] + "-" + h[0] for h in HOSTILE])
def test_a_hostile_file_is_named_refused_and_the_submission_kept(
        api, ingest_app, engine, name, data, code, words):
    answer = _send(api, good_submission(), photos=[("ok.jpg", im.camera_jpeg(800, 600)),
                                                   (name, data)])
    assert answer.status_code == 422
    assert answer.headers["Content-Type"] == "application/problem+json"
    problem = answer.get_json()
    assert problem["title"] == "Photo refusée"
    refused = problem["photos_refused"]
    assert [(r["position"], r["name"], r["code"]) for r in refused] == [(2, name, code)]
    assert refused[0]["detail"].startswith(f"Photo 2 « {name} » : ")
    assert words in refused[0]["detail"] and name in problem["detail"]
    # The submission is kept and queued, with the good photo; its tracking link is given.
    assert problem["submission_status"] == "pending" and problem["tracking_url"]
    sid = problem["submission_id"]
    assert _rows(engine, "SELECT status FROM submission WHERE id = :i",
                 i=sid)[0]["status"] == "pending"
    rows = _rows(engine, "SELECT position, status, refusal_reason, display_key FROM photo "
                         "WHERE submission_id = :s ORDER BY position", s=sid)
    assert [(r["position"], r["status"], r["refusal_reason"]) for r in rows] == [
        (1, "ready", None), (2, "refused", code)]
    # Nothing public for the refused file: only the good photo's two derivatives exist.
    assert _public_files(ingest_app) == sorted([rows[0]["display_key"],
                                               rows[0]["display_key"].replace(".jpg",
                                                                              ".thumb.jpg")])


def test_the_reason_is_said_in_english_too(api):
    answer = _send(api, good_submission(), photos=[("doc.jpg", im.pdf_named_jpg())],
                   lang="en")
    problem = answer.get_json()
    assert problem["title"] == "Photo refused"
    assert problem["photos_refused"][0]["detail"] == \
        'Photo 1 "doc.jpg": this file is not an image'
    assert answer.headers["Content-Language"] == "en"
    # The private tracking answer keeps saying it, later, in the resident's language.
    token = problem["tracking_url"].rsplit("/", 1)[1]
    tracked = api.get(f"/api/v1/track/{token}?lang=en").get_json()
    assert tracked["photos"] == [{"position": 1, "name": "doc.jpg", "status": "refused",
                                  "reason": 'Photo 1 "doc.jpg": this file is not an image',
                                  "state": "refused",
                                  "label": "refused: this file is not an image"}]


def test_more_than_four_photos_the_extra_ones_are_named(api, engine):
    photos = [(f"p{i}.jpg", im.camera_jpeg(320, 240, orientation=1)) for i in range(1, 6)]
    answer = _send(api, good_submission(), photos=photos)
    assert answer.status_code == 422
    problem = answer.get_json()
    assert [(r["position"], r["name"], r["code"]) for r in problem["photos_refused"]] == [
        (5, "p5.jpg", "too_many_photos")]
    assert len(problem["photos"]) == 4
    assert _rows(engine, "SELECT count(*) AS n FROM photo WHERE submission_id = :s",
                 s=problem["submission_id"])[0]["n"] == 4


def test_limits_on_bytes_and_on_the_request(api, ingest_app, engine):
    ingest_app.config["PHOTO_MAX_BYTES"] = 20_000
    answer = _send(api, good_submission(), photos=[("big.jpg", im.camera_jpeg())])
    refused = answer.get_json()["photos_refused"]
    assert refused[0]["code"] == "too_large" and "Mo au plus" in refused[0]["detail"]
    ingest_app.config["PHOTO_MAX_REQUEST_BYTES"] = 50_000
    too_big = _send(api, good_submission(title="Encore"), photos=[
        ("big.jpg", im.camera_jpeg())])
    assert too_big.status_code == 413
    # A JSON submission keeps its own 64 KiB cap, photos or not.
    huge = api.post(SUBMIT, data=b"{" + b" " * 70_000 + b"}",
                    content_type="application/json")
    assert huge.status_code == 413


def test_a_bad_licence_refuses_the_photo_not_the_submission(api, engine):
    answer = _send(api, good_submission(), photos=[("a.jpg", im.camera_jpeg(300, 200))],
                   licence="All rights reserved")
    assert answer.status_code == 422
    assert answer.get_json()["photos_refused"][0]["code"] == "bad_field"
    up = api.post("/api/v1/photos", data={"photo": (io.BytesIO(im.webp()), "a.webp"),
                                          "licence": "CC-BY-NC"},
                  content_type="multipart/form-data")
    assert up.status_code == 422 and up.get_json()["invalid_params"][0]["name"] == "licence"


def test_the_upload_step_refuses_a_hostile_file_by_name(api, ingest_app):
    up = api.post("/api/v1/photos", data={"photo": (io.BytesIO(im.svg()), "x.jpg")},
                  content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert up.status_code == 422
    assert up.get_json()["photos_refused"] == [{
        "position": 1, "name": "x.jpg", "code": "unsupported_format",
        "detail": 'Photo 1 "x.jpg": format not accepted (SVG): send a JPEG, PNG or WebP '
                  "photo"}]
    assert _public_files(ingest_app) == []
    assert api.post("/api/v1/photos", json={}).status_code == 415


def test_a_correction_takes_photos_and_its_approval_publishes_them(api, engine):
    sid = api.post(SUBMIT, json=good_submission()).get_json()["id"]
    feature_id = _approve(engine, sid)
    answer = api.post(f"/api/v1/features/{feature_id}/corrections", data={
        "correction": (io.BytesIO(json.dumps({"comment": "Voici le lieu aujourd'hui"})
                                  .encode()), "c.json", "application/json"),
        "photos": _files(("today.jpg", im.camera_jpeg(640, 480, orientation=1)))},
        content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    cid = answer.get_json()["id"]
    assert _rows(engine, "SELECT status, feature_id FROM photo WHERE correction_id = :c",
                 c=cid)[0]["feature_id"] is None
    from moderation.corrections import approve_correction

    with engine.begin() as conn:
        uid = conn.execute(text("SELECT id FROM app_user LIMIT 1")).scalar_one()
    with Session(engine) as session, session.begin():
        approve_correction(session, cid, actor_id=uid)
    key = _rows(engine, "SELECT display_key, feature_id FROM photo WHERE correction_id = :c",
                c=cid)[0]
    assert key["feature_id"] == feature_id
    assert api.get(f"/photos/{key['display_key']}").status_code == 200


def test_a_hidden_photo_and_quarantine_are_never_served(api, engine, ingest_app):
    answer = _send(api, good_submission(), photos=[("a.jpg", im.camera_jpeg(300, 200))])
    sid = answer.get_json()["id"]
    _approve(engine, sid)
    row = _rows(engine, "SELECT id, display_key, original_sha256 FROM photo")[0]
    assert api.get(f"/photos/{row['display_key']}").status_code == 200
    with engine.begin() as conn:
        conn.execute(text("UPDATE photo SET status = 'hidden' WHERE id = :i"),
                     {"i": row["id"]})
    assert api.get(f"/photos/{row['display_key']}").status_code == 404
    for path in (f"/photos/{row['original_sha256']}.orig", "/photos/..%2Fsecret_key",
                 f"/photos/{row['original_sha256']}"):
        assert api.get(path).status_code == 404


def test_the_form_without_javascript_takes_photos(ingest_app, engine):
    from tests.moderation_fixtures import CSRF

    client = ingest_app.test_client()
    page = client.get("/submit?lang=fr").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'type="file"' in page
    token = CSRF.search(page).group(1)
    sub = good_submission()
    fields = {"csrf_token": token, "charter": "1", "category": sub["category"],
              "title": sub["title"], "description": sub["description"],
              "lon": str(sub["lon"]), "lat": str(sub["lat"]),
              "starts_at": sub["starts_at"][:16], "ends_at": sub["ends_at"][:16],
              "licence": "CC-BY-SA-4.0", "author": "Nour",
              "photos": _files(("jardin.jpg", im.camera_jpeg(640, 480)),
                               ("faux.jpg", im.html_named_jpg()))}
    answer = client.post("/submit", data=fields, content_type="multipart/form-data")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422, html[:2000]
    assert "Photo 2 « faux.jpg » : ce fichier n&#39;est pas une image" in html
    assert 'id="tracking-url"' in html  # the submission is kept all the same
    rows = _rows(engine, "SELECT p.status, p.author, s.status AS s FROM photo p "
                         "JOIN submission s ON s.id = p.submission_id ORDER BY p.position")
    assert [(r["status"], r["author"], r["s"]) for r in rows] == [
        ("ready", "Nour", "pending"), ("refused", "Nour", "pending")]


def test_a_busy_server_says_when_to_send_the_photo_again(api, ingest_app):
    from ingestion.api import photo_setup

    setup = photo_setup(ingest_app)
    assert setup.decoding.acquire(timeout=5)  # every decoder of this process is busy
    try:
        busy = api.post("/api/v1/photos", data={"photo": (io.BytesIO(im.webp()), "a.webp")},
                        content_type="multipart/form-data", headers={"Accept-Language": "en"})
    finally:
        setup.decoding.release()
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    assert "send yours again" in busy.get_json()["detail"]
    again = api.post("/api/v1/photos", data={"photo": (io.BytesIO(im.webp()), "a.webp")},
                     content_type="multipart/form-data")
    assert again.status_code == 201


def test_the_worker_finishes_what_a_crash_left_and_forgets_unused_uploads(
        api, ingest_app, engine):
    from photos.storage import stores
    from webmap.commands.worker import _tidy_photos

    public, quarantine = stores(ingest_app.config)
    # A crash between keeping the file and processing it: the row stays quarantined.
    camera = im.camera_jpeg(640, 480, orientation=1)
    sid = api.post(SUBMIT, json=good_submission()).get_json()["id"]
    import hashlib

    sha = hashlib.sha256(camera).hexdigest()
    quarantine.put(f"{sha}.orig", camera)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO photo (submission_id, status, original_name, original_sha256, "
            "position, created_at) VALUES (:s, 'quarantined', 'a.jpg', :h, 1, "
            "now() - interval '1 hour')"), {"s": sid, "h": sha})
    # Two uploads ahead: one attached, one left unused for two days (same bytes).
    ids = [api.post("/api/v1/photos", data={"photo": (io.BytesIO(im.webp()), "w.webp")},
                    content_type="multipart/form-data").get_json()["id"] for _ in range(2)]
    assert api.post(SUBMIT, json=good_submission(title="Autre", photo_ids=ids[:1])
                    ).status_code == 201
    other = im.camera_jpeg(300, 200, orientation=1)
    lone = api.post("/api/v1/photos", data={"photo": (io.BytesIO(other), "x.jpg")},
                    content_type="multipart/form-data").get_json()["id"]
    assert lone
    with engine.begin() as conn:
        conn.execute(text("UPDATE photo SET created_at = now() - interval '2 days' "
                          "WHERE submission_id IS NULL AND upload_token_hash IS NOT NULL"))
    done = _tidy_photos(engine, ingest_app.config)
    assert done == {"reprocessed": 1, "removed_unattached": 2}
    rows = _rows(engine, "SELECT status, display_key, original_sha256, submission_id "
                         "FROM photo ORDER BY id")
    assert [r["status"] for r in rows] == ["ready", "ready", "removed", "removed"]
    assert public.exists(rows[0]["display_key"])
    # The unused WebP shares its bytes with the attached one: kept; the lone JPEG: gone.
    assert public.exists(rows[1]["display_key"]) and quarantine.exists(
        f"{rows[1]['original_sha256']}.orig")
    assert not public.exists(rows[3]["display_key"])
    assert not quarantine.exists(f"{rows[3]['original_sha256']}.orig")
    assert _tidy_photos(engine, ingest_app.config) is None  # nothing left to do


def test_a_heic_file_is_refused_with_what_to_do_on_an_iphone(api):
    # What an iPhone writes (ftyp heic); its photo library gives browsers a JPEG, but a
    # HEIC still arrives from the Files app: the resident is told how to send it.
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(2000)
    for lang, words in (("fr", "« Le plus compatible »"), ("en", '"Most Compatible"')):
        answer = _send(api, good_submission(), photos=[("IMG_4242.HEIC", heic)], lang=lang)
        assert answer.status_code == 422
        [refused] = answer.get_json()["photos_refused"]
        assert refused["code"] == "unsupported_format"
        assert "HEIC" in refused["detail"] and words in refused["detail"]
        assert "IMG_4242.HEIC" in refused["detail"]
