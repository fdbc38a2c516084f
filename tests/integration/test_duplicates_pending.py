"""Duplicates among pending submissions, and titles compared after look-alikes are undone.

Against the real PostGIS: two residents pinning the same place before a moderator has
published either reach the queue as a pair; a title typed with Cyrillic or fullwidth
letters is compared as the Latin title it imitates (and flagged to the moderator);
nothing a pending submission says leaks through the public answers.
"""

from __future__ import annotations

import json

from sqlalchemy import text

from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures
from tests.ingestion_fixtures import good_submission

CYRILLIC_A = "\u0430"


def post(api, **over):
    over = {"category": "jardin-partage", **over}
    body = good_submission(starts_at=None, ends_at=None, attributes={}, **over)
    body = {k: v for k, v in body.items() if v is not None}
    r = api.post("/api/v1/submissions", data=json.dumps(body).encode(),
                 content_type="application/json")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["id"]


def row(engine, sid):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT possible_duplicate_of, possible_duplicate_submission_id, spam_reasons "
            "FROM submission WHERE id = :i"), {"i": sid}).one()


def _publish(engine, title, lon, lat, category="jardin-partage"):
    from sqlalchemy.orm import Session

    from geo.publish import FeatureDraft, publish_feature

    with Session(engine) as s, s.begin():
        return publish_feature(s, FeatureDraft(category=category, title=title, lon=lon,
                                               lat=lat), max_zoom=2).id


def test_the_title_skeleton_undoes_look_alikes_in_any_case(engine):
    with engine.connect() as conn:
        def skel(t):
            return conn.execute(text("SELECT title_skeleton(:t)"), {"t": t}).scalar()
        assert skel("Jardin Saint-Merri") == "jardin saint-merri"
        assert skel("J\u0430rdin S\u0410INT-MERRI") == "jardin saint-merri"  # Cyrillic а, А
        assert skel("\u039a\u03bf\u03c1\u03bf") == "kopo"  # Greek capital and small
        assert skel("Ｊａｒｄｉｎ") == "jardin"  # fullwidth
        assert skel("Jar\u200bdin Cr\u00e9e") == "jardin cree"  # zero-width, accent
        assert skel("Щи") == "щи"  # letters that look like no Latin one stay as they are


def test_two_pending_near_identical_submissions_are_linked(api, engine):
    first = post(api, title="Jardin partagé des Deux Moulins", lon=2.3600, lat=48.8300)
    second = post(api, title="Jardin partage des deux moulins", lon=2.3601, lat=48.8301)
    assert row(engine, first).possible_duplicate_submission_id is None  # alone at the time
    assert row(engine, second).possible_duplicate_submission_id == first
    assert row(engine, second).possible_duplicate_of is None  # nothing published there


def test_a_cyrillic_look_alike_is_linked_to_the_latin_title_published_and_pending(api, engine):
    garden = _publish(engine, "Jardin Saint-Merri", 2.3510, 48.8590)
    fake = f"J{CYRILLIC_A}rdin S{CYRILLIC_A}int-Merri"
    sid = post(api, title=fake, lon=2.3511, lat=48.8590)
    got = row(engine, sid)
    assert got.possible_duplicate_of == garden
    # the moderator is told why the title is suspicious
    mixed = [r for r in got.spam_reasons if r["rule"] == "mixed_script"]
    assert mixed and fake.split()[0] in mixed[0]["reason"]
    # pending: a Latin title at the same spot links to the look-alike still pending,
    # and fullwidth letters are the Latin ones too
    latin = post(api, title="Les Ruches du Parc Kellermann", lon=2.3550, lat=48.8180)
    wide = post(api, title="Ｌｅｓ Ｒｕｃｈｅｓ du Parc Kеllermann", lon=2.3550, lat=48.8181)
    assert row(engine, wide).possible_duplicate_submission_id == latin


def test_unrelated_places_are_not_linked(api, engine):
    _publish(engine, "Jardin Saint-Merri", 2.3510, 48.8590)
    far = post(api, title="Jardin Saint-Merri", lon=2.3700, lat=48.8700)  # ~2 km away
    other_title = post(api, title="Potager des Archives nationales", lon=2.3510, lat=48.8590)
    other_category = post(api, title="Jardin Saint-Merri", lon=2.3510, lat=48.8590,
                          category="toilettes")
    for sid in (far, other_title, other_category):
        got = row(engine, sid)
        assert got.possible_duplicate_of is None and \
            got.possible_duplicate_submission_id is None, sid
        assert not [r for r in got.spam_reasons if r["rule"] == "mixed_script"]


def test_nothing_pending_leaks_through_public_answers(api, engine):
    secret = "Rucher secret de Mme Dupont"
    post(api, title=secret, lon=2.3400, lat=48.8400, description="chez moi, code 1234")
    r = api.get("/api/v1/submissions/nearby?lon=2.3400&lat=48.8400&category=jardin-partage"
                "&title=Rucher%20secret")
    assert r.status_code == 200
    body = r.get_json()
    assert body == {"items": [], "pending": 1}  # counted, never described
    # a different category or far away: not even counted
    assert api.get("/api/v1/submissions/nearby?lon=2.3400&lat=48.8400&category=toilettes"
                   ).get_json()["pending"] == 0
    assert api.get("/api/v1/submissions/nearby?lon=2.3000&lat=48.8400"
                   "&category=jardin-partage").get_json()["pending"] == 0
    for url in ("/api/v1/features", "/ogc/collections/features/items",
                "/api/v1/features?near=2.34,48.84"):
        page = api.get(url).get_data(as_text=True)
        assert secret not in page and "1234" not in page, url


def test_the_moderator_sees_the_pending_pair_on_the_queue_and_both_item_pages(api, engine):
    from tests.moderation_fixtures import _password_hash, login

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO app_user (email, role, password_hash) VALUES "
                          "('dup-mod@example.org', 'moderator', :h)"),
                     {"h": _password_hash()})
    first = post(api, title="Jardin partagé des Deux Moulins", lon=2.3600, lat=48.8300)
    second = post(api, title=f"J{CYRILLIC_A}rdin partagé des Deux Moulins", lon=2.3601,
                  lat=48.8301)
    mod = api.application.test_client()
    assert login(mod, "dup-mod@example.org").status_code == 303
    queue = mod.get("/moderation/").get_data(as_text=True)
    assert f"Doublon possible d&#39;une proposition en attente n° {first}" in queue
    assert f"Une proposition plus récente semble être le même lieu : n° {second}" in queue
    page = mod.get(f"/moderation/submissions/{second}").get_data(as_text=True)
    assert f"Doublon possible d&#39;une proposition en attente n° {first}" in page
    assert f'href="/moderation/submissions/{first}"' in page and "à 13 m" in page
    assert "look-alike letters from another script" in page
    en = mod.get(f"/moderation/submissions/{second}?lang=en").get_data(as_text=True)
    assert f"Possible duplicate of pending submission #{first}" in en
    earlier = mod.get(f"/moderation/submissions/{first}?lang=en").get_data(as_text=True)
    assert f"A later submission looks like the same place: #{second}" in earlier


def _with_csrf(api, form):
    import re

    html = api.get("/submit").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return {**form, "csrf_token": token}


def _count(engine, table="submission"):
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_the_no_js_form_shows_likely_duplicates_before_sending(api, engine):
    from io import BytesIO

    garden = _publish(engine, "Jardin Saint-Merri", 2.3510, 48.8590)
    form = {"category": "jardin-partage", "title": "Jardin Saint Merri", "lon": "2.35102",
            "lat": "48.85905", "description": "Un jardin partagé", "charter": "1",
            "email": "alice@example.org"}
    form = _with_csrf(api, form)
    r = api.post("/submit?lang=fr", data=form)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Ce lieu existe peut-être déjà" in html and "Jardin Saint-Merri" in html
    assert "à 6 m" in html
    assert f'href="/?lang=fr#map=18/48.859/2.351&amp;f={garden}"' in html
    assert "Proposer une correction" in html
    assert 'name="different"' in html and "C&#39;est un autre lieu" in html
    assert 'value="Jardin Saint Merri"' in html and "Un jardin partagé" in html  # kept
    assert _count(engine) == 0  # nothing stored until the resident decides
    # photos attached: the browser cannot keep them, so the page says to choose again
    with_photo = api.post("/submit?lang=fr", data={**form, "photos": (
        BytesIO(b"\xff\xd8\xff\xe0 not really a jpeg"), "jardin.jpg")},
        content_type="multipart/form-data")
    assert with_photo.status_code == 200
    assert "choisissez-les à nouveau" in with_photo.get_data(as_text=True)
    assert _count(engine) == 0 and _count(engine, "photo") == 0
    # in English
    en = api.post("/submit?lang=en", data=form).get_data(as_text=True)
    assert "This place may already be on the map" in en and "It is a different place" in en
    assert "6 m away" in en and "Suggest a change" in en
    # confirmed: sent, and the moderator is told which places the resident saw
    ok = api.post("/submit?lang=fr", data={**form, "different": "1",
                                           "shown_duplicates": str(garden)})
    assert ok.status_code == 201, ok.get_data(as_text=True)
    got = row(engine, _last_id(engine))
    assert {"rule": "confirmed_different", "score": 0.0,
            "reason": f"the resident confirmed it is different from #{garden}"} \
        in got.spam_reasons
    assert got.possible_duplicate_of == garden  # still shown beside it to the moderator


def _last_id(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT max(id) FROM submission")).scalar()


def test_the_no_js_form_counts_a_similar_pending_submission_without_showing_it(api, engine):
    secret = "Rucher secret de Mme Dupont"
    post(api, title=secret, lon=2.3400, lat=48.8400)
    form = {"category": "jardin-partage", "title": "Rucher secret", "lon": "2.3400",
            "lat": "48.8400", "charter": "1"}
    form = _with_csrf(api, form)
    # only a pending one there: not public, so the form sends (the moderator links them)
    alone = api.post("/submit?lang=fr", data=form)
    assert alone.status_code == 201 and secret not in alone.get_data(as_text=True)
    assert row(engine, _last_id(engine)).possible_duplicate_submission_id is not None
    # beside a published place, the pending ones are counted, never described
    _publish(engine, "Rucher du square", 2.3401, 48.8400)
    html = api.post("/submit?lang=fr", data={**form, "title": "Rucher"}).get_data(as_text=True)
    assert "Rucher du square" in html
    assert "propositions similaires attendent déjà la modération à cet endroit." in html
    assert secret not in html and "Dupont" not in html
    # an unrelated place is sent straight away
    far = api.post("/submit?lang=fr", data={**form, "lon": "2.3000", "title": "Autre lieu"})
    assert far.status_code == 201
