"""Contributing in the resident's language: localised problem+json, text checks, the form.

Against the real PostGIS and the real categories file: what an API client and a
resident without JavaScript see when a submission is refused or accepted.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures
from tests.ingestion_fixtures import good_submission


def post(api, body, lang=None, **headers):
    if lang:
        headers["Accept-Language"] = lang
    return api.post("/api/v1/submissions", data=json.dumps(body).encode(),
                    content_type="application/json", headers=headers)


def last_submission(engine):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT status::text, title, attributes, errors, spam_reasons FROM submission "
            "ORDER BY id DESC LIMIT 1")).one()


def test_errors_keep_pointer_and_code_and_name_the_field_in_the_callers_language(api):
    start = datetime.now(UTC) + timedelta(days=3)
    bad = good_submission(ends_at=(start - timedelta(hours=2)).isoformat(),
                          starts_at=start.isoformat(), email="not an address",
                          attributes={"capacity": 0})
    fr = post(api, bad, "fr-FR,fr;q=0.9")
    assert fr.status_code == 422 and fr.headers["Content-Type"] == "application/problem+json"
    errors = {e["pointer"]: e for e in fr.get_json()["errors"]}
    assert errors["/ends_at"]["code"] == "order"
    assert errors["/ends_at"]["detail"] == "Fin : avant le début"
    assert errors["/email"]["detail"].startswith("Courriel : adresse non valable")
    assert errors["/attributes/capacity"]["code"] == "out_of_range"
    assert errors["/attributes/capacity"]["detail"] == "Nombre de places : entre 1 et 10000"
    en = post(api, bad, "en-GB,en;q=0.8")
    details = {e["pointer"]: e["detail"] for e in en.get_json()["errors"]}
    assert details["/ends_at"] == "End: before the start"
    assert details["/attributes/capacity"] == "Capacity: between 1 and 10000"
    # ?lang= wins over Accept-Language, like the page
    forced = api.post("/api/v1/submissions?lang=en", data=json.dumps(bad).encode(),
                      content_type="application/json", headers={"Accept-Language": "fr"})
    assert forced.get_json()["errors"][0]["detail"].endswith(("before the start",
                                                              "not a valid address (e.g. "
                                                              "name@example.org)",
                                                              "between 1 and 10000"))


def test_a_slot_error_names_the_slot_and_a_missing_availability_asks_for_one(api):
    body = good_submission(category="mission-benevole", starts_at=None, ends_at=None,
                           attributes={"availability": [
                               {"day": "sat", "from": "10:00", "to": "12:00"},
                               {"day": "sun", "from": "12:00", "to": "10:00"}]})
    body = {k: v for k, v in body.items() if v is not None}
    r = post(api, body, "fr")
    (err,) = r.get_json()["errors"]
    assert err["pointer"] == "/attributes/availability/1/to" and err["code"] == "order"
    assert err["detail"] == "Créneaux (jour, début, fin) : créneau 2 : la fin doit suivre le début"
    body["attributes"] = {}
    (err,) = post(api, body, "en").get_json()["errors"]
    assert err["code"] == "required" and err["detail"] == "Time slots (day, from, to): required"


def test_characters_that_cannot_be_stored_are_refused_not_stripped(api, engine):
    for body, pointer in [
            (good_submission(attributes={"bring_own_knife\u0000": True}),
             "/attributes/bring_own_knife\ufffd"),
            (good_submission(title="Disco\u0000 Soupe"), "/title"),
            (good_submission(description="tag \U000E0041\U000E0042 smuggled"), "/description")]:
        r = post(api, body, "fr")
        assert r.status_code == 422, r.get_data(as_text=True)
        (err,) = r.get_json()["errors"]
        assert err["pointer"] == pointer and err["code"] == "forbidden_character"
        assert "caractère invisible ou interdit" in err["detail"]
        row = last_submission(engine)
        assert row.status == "invalid" and row.errors[0]["code"] == "forbidden_character"
    # a lone surrogate, as a JSON escape (json.dumps would refuse to write it)
    raw = json.dumps(good_submission(title="X")).replace('"X"', '"\\ud800 Soupe"').encode()
    r = api.post("/api/v1/submissions", data=raw, content_type="application/json")
    assert r.status_code == 422 and r.get_json()["errors"][0]["code"] == "forbidden_character"


def test_a_title_of_invisible_characters_is_empty_and_invisible_formatting_is_removed(
        api, engine):
    r = post(api, good_submission(title="\u200b\u2060\u00ad \ufeff"), "en")
    (err,) = r.get_json()["errors"]
    assert err["pointer"] == "/title" and err["code"] == "blank"
    assert err["detail"] == "Title: cannot be empty"
    assert post(api, good_submission(title="Disco\u200b Soupe\u2060")).status_code == 201
    assert last_submission(engine).title == "Disco Soupe"


def test_a_look_alike_title_is_queued_with_a_reason_the_moderator_sees(api, engine):
    assert post(api, good_submission(title="Disco Soupe de la M\u0430irie")).status_code == 201
    reasons = last_submission(engine).spam_reasons
    assert [r["rule"] for r in reasons] == ["mixed_script"]
    assert "M\u0430irie" in reasons[0]["reason"]


def _csrf(c, url):
    html = c.get(url).get_data(as_text=True)
    return html, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_form_reads_day_names_in_french_and_english_and_accessibility_answers(
        ingest_app, engine):
    ingest_app.config["WTF_CSRF_ENABLED"] = True
    c = ingest_app.test_client()
    html, token = _csrf(c, "/submit?lang=fr")
    assert '<html lang="fr">' in html and "Je ne sais pas" in html
    assert "Bacs comestibles (Incroyables Comestibles)" in html  # choices by their labels
    form = {"csrf_token": token, "category": "mission-benevole", "title": "Aide aux devoirs",
            "lon": "2.3700", "lat": "48.8650", "charter": "1",
            "attr.mission-benevole.availability": "samedi 10:00-12:00\nmer 14h-16h",
            "attr.mission-benevole.min_age": "16",
            "attr.mission-benevole.audiences": "seniors",
            "attr.mission-benevole.access.step_free_access": "yes",
            "attr.mission-benevole.access.quiet_space": "no"}
    ok = c.post("/submit", data=form)
    assert ok.status_code == 201, ok.get_data(as_text=True)
    row = last_submission(engine)
    assert row.attributes == {
        "availability": [{"day": "wed", "from": "14:00", "to": "16:00"},  # week order
                         {"day": "sat", "from": "10:00", "to": "12:00"}],
        "min_age": 16, "audiences": ["seniors"], "accessibility": ["step_free_access"],
        "accessibility_lacks": ["quiet_space"]}
    form["attr.mission-benevole.availability"] = "sat 10-12"
    assert c.post("/submit", data=form).status_code == 201
    assert last_submission(engine).attributes["availability"] == [
        {"day": "sat", "from": "10:00", "to": "12:00"}]


def test_the_form_says_what_to_fix_next_to_each_field_in_the_pages_language(
        ingest_app, engine):
    ingest_app.config["WTF_CSRF_ENABLED"] = True
    c = ingest_app.test_client()
    _, token = _csrf(c, "/submit?lang=en")
    form = {"csrf_token": token, "category": "mission-benevole", "title": "Tutoring",
            "lon": "2.3700", "lat": "48.8650", "charter": "1",
            "attr.mission-benevole.availability": "whenever you like",
            "attr.mission-benevole.min_age": "120", "email": "nope"}
    r = c.post("/submit?lang=en", data=form)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Time slots (day, from, to): add at least one time slot (day, from, to)" in html
    assert "Minimum age: between 0 and 99" in html
    assert "Email: not a valid address" in html
    # each message sits right after its own input, the first faulty one focused
    avail = html.index('id="attr.mission-benevole.availability"')
    assert html.index("Time slots (day, from, to): add at least", avail) - avail < 400
    assert re.search(r'id="attr.mission-benevole.availability"[^>]*aria-invalid="true" autofocus',
                     html)
    # what was typed is kept
    assert "whenever you like" in html and 'value="Tutoring"' in html
    fr = c.post("/submit?lang=fr", data=form).get_data(as_text=True)
    assert "Âge minimum : entre 0 et 99" in fr


def _publish(engine, category, title, lon, lat):
    from sqlalchemy.orm import Session

    from geo.publish import FeatureDraft, publish_feature

    with Session(engine) as s, s.begin():
        return publish_feature(s, FeatureDraft(category=category, title=title, lon=lon,
                                               lat=lat), max_zoom=2).id


def test_nearby_lists_close_items_and_similar_titles_with_their_distance(api, engine):
    garden = _publish(engine, "jardin-partage", "Jardin partagé Saint-Merri", 2.3510, 48.8590)
    gate = _publish(engine, "jardin-partage", "Jardin Saint-Merri (entrée rue du Renard)",
                    2.3530, 48.8595)  # ~150 m away, similar title
    _publish(engine, "jardin-partage", "Potager des Archives", 2.3540, 48.8600)  # ~240 m
    _publish(engine, "toilettes", "Sanisette", 2.3510, 48.8590)  # other category
    r = api.get("/api/v1/submissions/nearby?lon=2.3510&lat=48.8591&category=jardin-partage"
                "&title=Jardin%20Saint-Merri")
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [i["id"] for i in items] == [garden, gate]
    assert items[0]["distance_m"] == 11 and 140 < items[1]["distance_m"] < 170
    # without a title, only what is within the duplicate distance
    r = api.get("/api/v1/submissions/nearby?lon=2.3510&lat=48.8591&category=jardin-partage")
    assert [i["id"] for i in r.get_json()["items"]] == [garden]
    for query, name in [("lon=abc&lat=48.85&category=jardin-partage", "lon"),
                        ("lon=2.35&lat=1e400&category=jardin-partage", "lat"),
                        ("lon=2.35&lat=48.85&category=nope", "category"),
                        ("lon=2.35&lat=48.85&category=jardin-partage&title=%00", "title")]:
        bad = api.get("/api/v1/submissions/nearby?" + query)
        assert bad.status_code == 400 and bad.get_json()["invalid_params"][0]["name"] == name


def test_a_resident_who_confirms_it_is_different_is_told_to_the_moderator(api, engine):
    garden = _publish(engine, "jardin-partage", "Jardin partagé Saint-Merri", 2.3510, 48.8590)
    body = good_submission(category="jardin-partage", title="Jardin des Blancs-Manteaux",
                           lon=2.3511, lat=48.8590, starts_at=None, ends_at=None,
                           attributes={}, not_duplicate_of=[garden])
    body = {k: v for k, v in body.items() if v is not None}
    assert post(api, body).status_code == 201
    reasons = last_submission(engine).spam_reasons
    assert {"rule": "confirmed_different", "score": 0.0,
            "reason": f"the resident confirmed it is different from #{garden}"} in reasons
    body["not_duplicate_of"] = ["x"]
    assert post(api, body).get_json()["errors"][0]["pointer"] == "/not_duplicate_of"
