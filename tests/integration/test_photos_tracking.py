"""A resident follows each photo's fate: the tracking page lists their photos with a
thumbnail once public and their state in words, in their language; a moderator's hide or
removal reaches them by e-mail (when they left an address) with the reason and a link
that opens their tracking page; a restore sends a short notice.

Everything goes the real way: the submission and its photos through the API, the
moderator's decisions through the moderation pages, the outbox sent by the worker's
function to an SMTP server running in-process.
"""

from __future__ import annotations

import html
import io
import json
import re
from urllib.parse import urlsplit

import jsonschema
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingestion.track_links import mailed_token, read_mailed_token
from mail.sender import deliver_due
from tests import photo_images as im
from tests.ingestion_fixtures import *  # noqa: F403 - api, engine
from tests.ingestion_fixtures import good_submission
from tests.integration.test_photos_api import _approve, _files, _send
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import html_part, text_part
from tests.moderation_fixtures import MOD, _password_hash, login, post

TITLE = "Disco Soupe du marché Popincourt"
TRACK_LINK = r"http://carte\.test/track/m[sc][0-9]+-[A-Za-z0-9_-]{24}\?lang=(fr|en)"


def _photo_ids(engine, sid):
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM photo WHERE submission_id = :s "
                                 "ORDER BY position"), {"s": sid}).scalars().all()


def _moderator(api, engine):
    """The test app's moderator, signed in (a second client of the same app)."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO app_user (email, role, password_hash) "
                          "VALUES (:e, 'moderator', :h) ON CONFLICT DO NOTHING"),
                     {"e": MOD, "h": _password_hash()})
    client = api.application.test_client()
    assert login(client).status_code == 303
    return client


def _decide(moderator, photo_id, action, reason, sid, page=None):
    page = page or f"/moderation/submissions/{sid}"
    answer = post(moderator, f"/moderation/photos/{photo_id}/{action}",
                  {"reason": reason, "back": page}, page=page)
    assert answer.status_code == 303, answer.get_data(as_text=True)


def _states(page):
    return re.findall(r'<li data-state="([a-z_]+)"', page)


def _labels(page):
    return [" ".join(html.unescape(x).split()) for x in
            re.findall(r'<p class="photo-label">([^<]*)</p>', page)]


def _send_three(api, lang="fr", **over):
    """Two real photos and a PDF named .jpg: kept, with the third refused (422)."""
    answer = _send(api, good_submission(**over), lang=lang, photos=[
        ("IMG_0001.JPG", im.camera_jpeg(800, 600)), ("IMG_0002.JPG", im.camera_jpeg(640, 480)),
        ("facture.jpg", im.pdf_named_jpg())])
    assert answer.status_code == 422, answer.get_data(as_text=True)
    body = answer.get_json()
    return body["submission_id"], urlsplit(body["tracking_url"]).path


def test_the_tracking_page_shows_each_photos_fate_and_the_resident_is_mailed(
        api, engine, mail_env):
    sid, track = _send_three(api)
    _published, hidden, _refused = _photo_ids(engine, sid)
    page = api.get(track).get_data(as_text=True)
    assert _states(page) == ["pending", "pending", "refused"]
    assert _labels(page)[0] == "en attente de modération"
    assert _labels(page)[2] == "refusée : ce fichier n'est pas une image"

    moderator = _moderator(api, engine)
    _decide(moderator, hidden, "hide", "un visage reconnaissable", sid)
    _approve(engine, sid)

    page = api.get(track).get_data(as_text=True)
    assert _states(page) == ["published", "hidden", "refused"]
    labels = _labels(page)
    assert labels[0] == "publiée"
    assert labels[1] == "masquée par la modération : un visage reconnaissable"
    assert labels[2] == "refusée : ce fichier n'est pas une image"
    assert "«&nbsp;<bdi>facture.jpg</bdi>&nbsp;»" in page  # their own file names, privately
    # The public photo shows as its thumbnail (served); the others have none.
    thumbs = re.findall(r'<img src="(/photos/[0-9a-f]{64}\.thumb\.jpg)"', page)
    assert len(thumbs) == 1 and api.get(thumbs[0]).status_code == 200
    assert page.count('class="no-thumb"') == 2
    # The JSON says the same, for scripts.
    body = api.get("/api/v1/track/" + track.rsplit("/", 1)[1]).get_json()
    assert [(p["state"], p.get("reason")) for p in body["photos"][:2]] == [
        ("published", None), ("hidden", "un visage reconnaissable")]
    assert body["photos"][0]["thumbnail_url"] == thumbs[0]
    schema = api.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Status"]
    jsonschema.validate(body["photos"], schema["properties"]["photos"])  # as documented

    # The worker sends the decision and the photo notice; the notice's link opens the page.
    deliver_due(engine)
    messages = mail_env.wait_for(2)
    [notice] = [m for m in messages if "photos" in m["Subject"]]
    assert notice["To"] == "Alice@example.org"
    assert notice["Subject"] == f"Une de vos photos de « {TITLE} » a été masquée"
    body_text = text_part(notice)
    assert "photo n° 2 (« IMG_0002.JPG »)" in body_text
    assert "un visage reconnaissable" in body_text
    assert "ne sera pas publiée avec votre proposition" in body_text  # hidden while pending
    [link] = [m.group(0) for m in re.finditer(TRACK_LINK, body_text)]
    assert link in html_part(notice)
    opened = api.get(urlsplit(link).path + "?" + urlsplit(link).query)
    assert opened.status_code == 200
    assert _labels(opened.get_data(as_text=True)) == labels
    assert opened.headers["Cache-Control"] == "no-store"  # private, as the own link
    assert opened.headers["Referrer-Policy"] == "no-referrer"


def test_in_english_a_removal_then_nothing_more_and_a_restore_gets_a_short_notice(
        api, engine, mail_env):
    sid, track = _send_three(api, lang="en")
    first, second, _ = _photo_ids(engine, sid)
    moderator = _moderator(api, engine)
    _decide(moderator, first, "hide", "a car number plate", sid)
    _decide(moderator, second, "remove", "not this place", sid)
    page = api.get(track + "?lang=en").get_data(as_text=True)
    assert _labels(page)[:2] == ["hidden by the moderators: a car number plate",
                                 "removed by the moderators: not this place"]
    _decide(moderator, first, "restore", "plate blurred", sid)
    page = api.get(track + "?lang=en").get_data(as_text=True)
    assert _states(page)[:2] == ["pending", "removed"]  # back with its submission
    deliver_due(engine)
    subjects = [m["Subject"] for m in mail_env.wait_for(3)]
    assert subjects == [f'One of your photos of "{TITLE}" was hidden',
                        f'One of your photos of "{TITLE}" was removed',
                        f'Your photo of "{TITLE}" is back']
    restored = text_part(mail_env.messages[2])
    assert "photo no. 1" in restored and "if the submission is accepted" in restored
    assert re.search(TRACK_LINK, restored).group(1) == "en"


def test_no_address_no_mail_and_the_page_still_tells(api, engine, mail_env):
    sid, track = _send_three(api, email=None)
    first, _, _ = _photo_ids(engine, sid)
    _decide(_moderator(api, engine), first, "hide", "flou", sid)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mail_outbox")).scalar() == 0
    assert _labels(api.get(track).get_data(as_text=True))[0] == \
        "masquée par la modération : flou"


def test_a_mailed_link_is_signed_and_does_what_the_residents_own_link_does(
        api, engine, ingest_app):
    secret = ingest_app.config["SECRET_KEY"]
    sid, track = _send_three(api)
    token = mailed_token(secret, "submission", sid)
    assert re.fullmatch(r"ms[0-9]+-[A-Za-z0-9_-]{24}", token)
    assert read_mailed_token(secret, token) == ("submission", sid)
    assert read_mailed_token("another secret", token) is None
    assert read_mailed_token(secret, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    # Another id under the same signature is refused; so is a made-up one.
    forged = f"ms{sid + 1}-" + token.split("-", 1)[1]
    assert api.get(f"/track/{forged}").status_code == 404
    assert api.get(f"/api/v1/track/{forged}").status_code == 404
    page = api.get(f"/track/{token}")
    assert page.status_code == 200 and TITLE in page.get_data(as_text=True)
    # Withdrawing through it works while the submission is pending, as with the own link.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    gone = api.post(f"/track/{token}/withdraw", data={"csrf_token": csrf})
    assert gone.status_code == 303
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status::text FROM submission WHERE id = :s"),
                            {"s": sid}).scalar() == "withdrawn"
    assert _states(api.get(track).get_data(as_text=True)) == [
        "not_published", "not_published", "refused"]


def test_a_photo_taken_off_a_published_place_is_said_to_leave_the_map(api, engine, mail_env):
    sid, track = _send_three(api)
    first, _, _ = _photo_ids(engine, sid)
    _approve(engine, sid)
    assert _states(api.get(track).get_data(as_text=True))[:2] == ["published", "published"]
    _decide(_moderator(api, engine), first, "remove", "une plaque lisible", sid)
    assert _labels(api.get(track).get_data(as_text=True))[0] == \
        "retirée par la modération : une plaque lisible"
    deliver_due(engine)
    [notice] = [m for m in mail_env.wait_for(2) if "photos" in m["Subject"]]
    assert notice["Subject"] == f"Une de vos photos de « {TITLE} » a été retirée"
    assert "Elle est effacée de la carte et des données ouvertes." in text_part(notice)


def test_the_api_document_states_the_servers_photo_limit(api, ingest_app):
    ingest_app.config["PHOTO_MAX_PER_ITEM"] = 6
    doc = api.get("/api/v1/openapi.json").get_json()
    assert doc["components"]["schemas"]["Submission"]["properties"]["photo_ids"][
        "maxItems"] == 6
    form = doc["paths"]["/api/v1/submissions"]["post"]["requestBody"]["content"][
        "multipart/form-data"]["schema"]["properties"]
    assert form["photos"]["maxItems"] == 6


def test_a_corrections_photo_notice_goes_to_its_author_with_the_corrections_link(
        api, engine, mail_env):
    from moderation.corrections import approve_correction

    fid = _approve(engine, api.post("/api/v1/submissions", json=good_submission(
        email=None)).get_json()["id"])
    answer = api.post(f"/api/v1/features/{fid}/corrections", data={
        "correction": (io.BytesIO(json.dumps({"comment": "The place today",
                                              "email": "dana@example.org"}).encode()),
                       "c.json", "application/json"),
        "photos": _files(("today.jpg", im.camera_jpeg(640, 480, orientation=1)))},
        content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    cid = answer.get_json()["id"]
    moderator = _moderator(api, engine)
    with engine.connect() as conn:
        uid = conn.execute(text("SELECT id FROM app_user WHERE email = :e"), {"e": MOD}).scalar()
        photo = conn.execute(text("SELECT id FROM photo WHERE correction_id = :c"),
                             {"c": cid}).scalar_one()
    with Session(engine) as session, session.begin():
        approve_correction(session, cid, actor_id=uid)
    _decide(moderator, photo, "hide", "a face", None, page=f"/moderation/features/{fid}")
    deliver_due(engine)
    [notice] = [m for m in mail_env.wait_for(2) if "photos" in m["Subject"]]
    assert notice["To"] == "dana@example.org"
    assert notice["Subject"] == f'One of your photos of "{TITLE}" was hidden'
    assert "It no longer shows on the map or in the open data." in text_part(notice)
    link = re.search(TRACK_LINK, text_part(notice)).group(0)
    assert "/track/mc" in link  # the correction's own page
    page = api.get(urlsplit(link).path + "?" + urlsplit(link).query).get_data(as_text=True)
    assert _states(page) == ["hidden"] and _labels(page) == ["hidden by the moderators: a face"]
