"""Corrections and closures of published places, through intake, moderation, tracking."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from moderation.accounts import create_user
from moderation.corrections import approve_correction, refuse_correction
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures


def _garden(engine):
    with Session(engine) as s, s.begin():
        return publish_feature(s, FeatureDraft(
            category="jardin-partage", title="Jardin Saint-Merri", lon=2.3510, lat=48.8590,
            description="Un jardin au pied de l'église.",
            attributes={"garden_type": "shared", "website": "https://example.org/a"}),
            max_zoom=2).id


def _moderator(engine):
    with Session(engine) as s, s.begin():
        return create_user(s, "mod-corr@example.org", "moderator",
                           "correct horse battery staple").id


def propose(api, fid, body, lang="fr"):
    return api.post(f"/api/v1/features/{fid}/corrections", data=json.dumps(body),
                    content_type="application/json", headers={"Accept-Language": lang})


def one(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def test_a_correction_is_kept_as_a_diff_and_touches_nothing_until_approved(api, engine):
    fid = _garden(engine)
    r = propose(api, fid, {"changes": {"title": "Jardin Saint-Merri", "garden_type": "edible",
                                       "hours": "samedi 10:00-12:00"},
                           "comment": "Ce sont des bacs, ouverts le samedi.",
                           "email": "resident@example.org"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["tracking_url"].startswith("http://localhost/track/")
    row = one(engine, "SELECT status, changes, base_version, raw FROM correction WHERE id = :i",
              i=body["id"])
    assert row.status == "pending" and row.base_version == 1
    # only what differs; the hours typed as words became slots
    assert row.changes == {"garden_type": "edible",
                           "hours": [{"day": "sat", "from": "10:00", "to": "12:00"}]}
    assert b"Ce sont des bacs" in bytes(row.raw)
    title, version = one(engine, "SELECT attributes->>'garden_type', version FROM feature "
                                 "WHERE id = :i", i=fid)
    assert (title, version) == ("shared", 1)
    token = body["tracking_url"].rsplit("/", 1)[1]
    track = api.get(f"/api/v1/track/{token}", headers={"Accept-Language": "en"}).get_json()
    assert track["kind"] == "correction" and track["status"] == "pending"
    assert track["can_withdraw"] and track["feature_id"] == fid
    assert [h["event"] for h in track["history"]] == ["received", "in_review"]


def test_refusals_are_localised_and_name_the_field(api, engine):
    fid = _garden(engine)
    r = propose(api, fid, {"changes": {"website": "pas une adresse", "nope": 1}}, "fr")
    assert r.status_code == 422
    errors = {e["pointer"]: e for e in r.get_json()["errors"]}
    assert errors["/changes/website"]["detail"] == \
        "Site web : une adresse web commençant par https://"
    assert errors["/changes/nope"]["code"] == "unknown"
    r = propose(api, fid, {"comment": "rien"}, "en")
    assert r.get_json()["errors"][0]["pointer"] == "/changes"
    assert propose(api, 999999, {"closed": True}).status_code == 404
    bad = api.post(f"/api/v1/features/{fid}/corrections", data=b'{"closed": NaN}',
                   content_type="application/json")
    assert bad.status_code == 400
    assert one(engine, "SELECT count(*) FROM correction WHERE status = 'invalid'")[0] == 3


def test_approving_makes_a_new_version_and_refusing_keeps_the_reason(api, ingest_app, engine):
    ingest_app.config["CHANGES_SETTLE_SECONDS"] = 0
    fid = _garden(engine)
    mod = _moderator(engine)
    a = propose(api, fid, {"changes": {"description": "Bacs comestibles rue du Renard."}})
    c = propose(api, fid, {"closed": True, "comment": "Fermé depuis septembre."})
    a_id, c_id = a.get_json()["id"], c.get_json()["id"]
    with Session(engine) as s, s.begin():
        assert approve_correction(s, a_id, actor_id=mod) == 2
    with Session(engine) as s, s.begin():
        refuse_correction(s, c_id, actor_id=mod, reason="Le jardin est ouvert, vérifié ce jour.")
    desc, version, status = one(engine, "SELECT description, version, status::text FROM "
                                        "feature WHERE id = :i", i=fid)
    assert (desc, version, status) == ("Bacs comestibles rue du Renard.", 2, "published")
    assert one(engine, "SELECT count(*) FROM feature_version WHERE feature_id = :i",
               i=fid)[0] == 2
    assert one(engine, "SELECT count(*) FROM tile_dirty")[0] > 0
    feed = api.get("/api/v1/changes").get_json()["changes"]
    assert "Bacs comestibles rue du Renard." in json.dumps(feed, ensure_ascii=False)
    token = c.get_json()["tracking_url"].rsplit("/", 1)[1]
    page = api.get(f"/track/{token}?lang=fr").get_data(as_text=True)
    assert "Refusée" in page and "Le jardin est ouvert, vérifié ce jour." in page
    assert f"&amp;f={fid}" in page  # the place on the map
    # the closure, proposed again and approved, unpublishes the place
    again = propose(api, fid, {"closed": True}).get_json()["id"]
    with Session(engine) as s, s.begin():
        approve_correction(s, again, actor_id=mod)
    assert one(engine, "SELECT status::text FROM feature WHERE id = :i", i=fid)[0] == \
        "unpublished"


def test_the_tracking_page_speaks_the_residents_language_and_allows_withdrawing(
        ingest_app, engine):
    ingest_app.config["WTF_CSRF_ENABLED"] = True
    c = ingest_app.test_client()
    r = c.post("/api/v1/submissions", data=json.dumps({
        "lon": 2.3795, "lat": 48.8590, "title": "Fontaine du square",
        "category": "fontaine"}), content_type="application/json")
    token = r.get_json()["tracking_url"].rsplit("/", 1)[1]
    page = c.get(f"/track/{token}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Waiting for a moderator" in page
    assert "Withdraw my submission" in page
    import re

    assert re.search(r"<time datetime=\"[^\"]+\">\d{1,2} \w+ \d{4}, \d{2}:\d{2}</time>", page)
    fr = c.get(f"/track/{token}?lang=fr").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', fr).group(1)
    done = c.post(f"/track/{token}/withdraw", data={"csrf_token": csrf})
    assert done.status_code == 303
    after = c.get(f"/track/{token}?lang=fr").get_data(as_text=True)
    assert "Retirée par vous" in after and "Retirer ma proposition" not in after
    assert one(engine, "SELECT status::text FROM submission")[0] == "withdrawn"
