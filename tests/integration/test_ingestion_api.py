"""The submission API and form against a real PostGIS: stored first, validated, explained."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text

from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures
from tests.ingestion_fixtures import good_submission


def rows(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def post(api, body, **kw):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = kw.pop("headers", {})
    return api.post("/api/v1/submissions", data=data,
                    content_type=kw.pop("content_type", "application/json"), headers=headers)


def test_a_valid_submission_is_queued_with_a_private_tracking_url(api, engine):
    r = post(api, good_submission())
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "pending" and body["tracking_url"].startswith("http://localhost/track/")
    # The address is kept apart from the submission (resident_address, 0005_mail).
    (row,) = rows(engine, "SELECT s.status::text, r.email, tracking_token_hash, raw, "
                          "area_ids[1] IS NOT NULL, client_key FROM submission s "
                          "JOIN resident_address r ON r.id = s.resident_address_id "
                          "WHERE s.id = :i AND s.email IS NULL", i=body["id"])
    assert row[0] == "pending"
    assert row[1] == "Alice@example.org"  # domain lower-cased
    token = body["tracking_url"].rsplit("/", 1)[1]
    assert token.encode() not in bytes(row[2]) and len(bytes(row[2])) == 32  # only a hash
    assert json.loads(bytes(row[3]))["title"] == "Disco Soupe du marché Popincourt"
    assert row[4] is True
    assert len(row[5]) == 32 and "127.0.0.1" not in row[5]
    page = api.get(f"/track/{token}")
    assert page.status_code == 200 and b'data-status="pending"' in page.data
    assert page.headers["Cache-Control"] == "no-store"
    status = api.get(f"/api/v1/track/{token}").get_json()
    assert status["status"] == "pending" and status["reason"] is None
    assert "email" not in status


def test_the_tracking_page_shows_the_moderators_reason(api, engine):
    token = post(api, good_submission()).get_json()["tracking_url"].rsplit("/", 1)[1]
    with engine.begin() as conn:
        conn.execute(text("UPDATE submission SET status = 'refused', "
                          "reason = 'Hors sujet <b>x</b>', decided_at = now()"))
    page = api.get(f"/track/{token}")
    assert b"Hors sujet &lt;b&gt;x&lt;/b&gt;" in page.data
    assert api.get(f"/api/v1/track/{token}").get_json()["reason"] == "Hors sujet <b>x</b>"
    assert api.get("/track/" + "A" * 32).status_code == 404
    assert api.get("/api/v1/track/nope").status_code == 404


def test_every_bad_field_is_named_and_the_submission_kept(api, engine):
    r = post(api, {"lon": "2.35", "lat": 148.8, "title": "", "category": "nope",
                   "email": "not-an-email", "extra": 1})
    assert r.status_code == 422
    assert r.headers["Content-Type"] == "application/problem+json"
    body = r.get_json()
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/lon", "/lat", "/title", "/category", "/email", "/extra"} <= pointers
    (row,) = rows(engine, "SELECT status::text, jsonb_array_length(errors) FROM submission "
                          "WHERE id = :i", i=body["submission_id"])
    assert row[0] == "invalid" and row[1] == len(body["errors"])


def test_swapped_coordinates_get_a_hint(api):
    r = post(api, good_submission(lon=48.8590, lat=2.3795))
    assert r.status_code == 422
    assert any(e["code"] == "swapped" for e in r.get_json()["errors"])


def test_wrong_content_type_is_415_and_kept(api, engine):
    r = post(api, b"lon=2&lat=48", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415
    sid = r.get_json()["submission_id"]
    assert rows(engine, "SELECT status::text, raw FROM submission WHERE id = :i", i=sid)[0] == (
        "invalid", b"lon=2&lat=48")


def test_oversized_body_is_413(api, engine):
    r = post(api, b'{"title": "' + b"x" * 70_000 + b'"}')
    assert r.status_code == 413
    assert r.headers["Content-Type"] == "application/problem+json"


def test_idempotency_key_makes_retries_safe(api, engine):
    body = good_submission()
    first = post(api, body, headers={"Idempotency-Key": "abc-123"})
    again = post(api, body, headers={"Idempotency-Key": "abc-123"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json() == again.get_json()
    assert rows(engine, "SELECT count(*) FROM submission")[0][0] == 1
    other = post(api, good_submission(title="Autre"), headers={"Idempotency-Key": "abc-123"})
    assert other.status_code == 422
    assert post(api, body, headers={"Idempotency-Key": "bad key with spaces"}).status_code == 400


def test_rate_limit_is_shared_and_answers_429_with_retry_after(app, categories_loaded,
                                                               clean_db, engine):
    from webmap import create_app

    app.config["INGEST_RATE_LIMIT"] = "3/600"
    # A second app instance stands for a second gunicorn worker: same database counters.
    other = create_app({**{k: app.config[k] for k in ("DATABASE_URL", "VAR_DIR", "SECRET_KEY")},
                        "TESTING": True, "INGEST_RATE_LIMIT": "3/600"})
    a, b = app.test_client(), other.test_client()
    codes = [post(c, good_submission(title=f"Soupe {i}")).status_code
             for i, c in enumerate([a, b, a, b])]
    assert codes == [201, 201, 201, 429]
    r = post(a, good_submission())
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert rows(engine, "SELECT count(*) FROM submission")[0][0] == 3
    assert rows(engine, "SELECT count(*) FROM rate_counter WHERE client_key ~ '^[0-9a-f]{32}$'"
                )[0][0] == 1


def test_forwarded_for_is_believed_only_from_trusted_proxies(ingest_app, engine):
    ingest_app.config["TRUSTED_PROXIES_PARSED"] = []
    c = ingest_app.test_client()
    post(c, good_submission(), headers={"X-Forwarded-For": "203.0.113.9"})
    post(c, good_submission(title="B"), headers={"X-Forwarded-For": "198.51.100.1"})
    keys = {r[0] for r in rows(engine, "SELECT client_key FROM submission")}
    assert len(keys) == 1
    from geo.clients import parse_proxies

    ingest_app.config["TRUSTED_PROXIES_PARSED"] = parse_proxies("127.0.0.1")
    post(c, good_submission(title="C"), headers={"X-Forwarded-For": "203.0.113.9"})
    keys = {r[0] for r in rows(engine, "SELECT client_key FROM submission")}
    assert len(keys) == 2


def test_duplicates_and_spam_are_flagged_not_deleted(api, engine):
    from sqlalchemy.orm import Session

    from geo.publish import FeatureDraft, publish_feature

    with Session(engine) as s, s.begin():
        fid = publish_feature(s, FeatureDraft(category="jardin-partage",
                                              title="Jardin partagé des Thermopyles",
                                              lon=2.319594, lat=48.832211)).id
    r = post(api, {"lon": 2.31962, "lat": 48.83223, "category": "jardin-partage",
                   "title": "Jardin partage Thermopyles",
                   "description": "http://a.example http://b.example http://c.example"})
    assert r.status_code == 201
    (row,) = rows(engine, "SELECT possible_duplicate_of, spam_score, spam_reasons "
                          "FROM submission WHERE id = :i", i=r.get_json()["id"])
    assert row[0] == fid
    assert row[1] > 0 and row[2][0]["rule"] == "links"
    far = post(api, {"lon": 2.33, "lat": 48.84, "category": "jardin-partage",
                     "title": "Jardin partagé des Thermopyles"})
    assert rows(engine, "SELECT possible_duplicate_of FROM submission WHERE id = :i",
                i=far.get_json()["id"])[0][0] is None


def test_categories_endpoint_lists_labels_kinds_and_fields(api):
    body = api.get("/api/v1/categories").get_json()
    cats = {c["slug"]: c for c in body["categories"]}
    assert cats["fete-des-voisins"]["kind"] == "event"
    assert any(f["name"] == "party_kit_request" for f in cats["fete-des-voisins"]["fields"])
    assert cats["service-municipal"]["kind"] == "place"
    assert cats["mission-benevole"]["label"]["en"] == "Volunteer mission"
    assert {"children", "families", "seniors", "everyone"} >= set(
        cats["jardin-partage"]["audiences"])


def test_openapi_document_is_valid_openapi_3_1_and_matches_the_validator(api):
    from jsonschema import Draft202012Validator
    from openapi_spec_validator import validate

    doc = api.get("/api/v1/openapi.json").get_json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    schema = {**doc["components"]["schemas"]["Submission"],
              "$defs": doc["components"]["schemas"]}
    Draft202012Validator(schema).validate(json.loads(json.dumps(good_submission())))
    r = post(api, good_submission())
    assert r.status_code == 201
    problem = doc["components"]["schemas"]["Problem"]
    bad = post(api, {"lon": 1})
    Draft202012Validator(problem).validate(bad.get_json())


def test_the_form_submits_with_csrf_and_the_charter(ingest_app, engine):
    ingest_app.config["WTF_CSRF_ENABLED"] = True
    c = ingest_app.test_client()
    page = c.get("/submit?lon=2.35&lat=48.85")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="charter"' in html and 'value="2.35"' in html
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    year = datetime.now(UTC).year + 1
    form = {"csrf_token": token, "category": "fete-des-voisins", "title": "Fête rue Oberkampf",
            "lon": "2.3700", "lat": "48.8650", "starts_at": f"{year}-06-05T18:30",
            "ends_at": f"{year}-06-05T23:00", "attr.fete-des-voisins.party_kit_request": "1",
            "attr.fete-des-voisins.expected_guests": "40"}
    no_charter = c.post("/submit", data=form)
    assert no_charter.status_code == 422 and "charte" in no_charter.get_data(as_text=True)
    assert c.post("/submit", data={**form, "charter": "1", "csrf_token": "x"}).status_code == 400
    ok = c.post("/submit", data={**form, "charter": "1"})
    assert ok.status_code == 201, ok.get_data(as_text=True)
    assert 'id="tracking-url"' in ok.get_data(as_text=True)
    (row,) = rows(engine, "SELECT status::text, attributes, starts_at, raw, source "
                          "FROM submission WHERE source = 'form'")
    assert row[0] == "pending" and row[1]["party_kit_request"] is True
    assert row[1]["expected_guests"] == 40
    assert row[2].utcoffset().total_seconds() == 0 and row[2].hour == 16  # 18:30 Paris = 16:30Z
    assert b"csrf_token=" in bytes(row[3]) and row[4] == "form"


HOSTILE = [
    (b'{"lon": NaN, "lat": 48.8, "title": "x", "category": "jardin-partage"}', 400),
    (b'{"lon": Infinity, "lat": 48.8}', 400),
    (b'{"lon": 1e999, "lat": 48.8}', 400),
    (b'{"lon": "2.35", "lat": "48.86", "title": "x", "category": "jardin-partage"}', 422),
    (b"[" * 20_000 + b"]" * 20_000, 400),
    (b"[" * 40_000 + b"]" * 40_000, 413),
    (b'{"a":' * 40 + b"1" + b"}" * 40, 400),
    (b'{"title": "\xff\xfe\x00"}', 400),
    (b"\x00\x01\x02", 400),
    (b"", 400),
    (b"null", 422),
    (b"[1, 2]", 422),
    (json.dumps({"lon": 2.35, "lat": 48.86, "category": "jardin-partage",
                 "title": "<script>alert(1)</script> =SUM(A1) \u202eevil"}).encode(), 201),
    (json.dumps({"lon": 2.35, "lat": 48.86, "category": "disco-soupe", "title": "x",
                 "starts_at": "9999-12-31T23:59:59Z", "ends_at": "2026-01-01T00:00:00Z"}
                ).encode(), 422),
    (json.dumps({"lon": 2.35, "lat": 48.86, "category": "disco-soupe", "title": "x",
                 "starts_at": "2099-06-02T10:00:00+02:00",
                 "ends_at": "2099-06-01T10:00:00+02:00"}).encode(), 422),
]


def test_hostile_corpus_gets_the_right_4xx_and_nothing_is_lost(api, engine):
    stored = 0
    for raw, expected in HOSTILE:
        r = post(api, raw)
        assert r.status_code == expected, (raw[:60], r.get_json())
        if expected != 413:
            stored += 1
            if expected != 201:
                assert r.headers["Content-Type"] == "application/problem+json"
                assert r.get_json()["submission_id"]
    assert rows(engine, "SELECT count(*) FROM submission")[0][0] == stored
    (title,) = rows(engine, "SELECT title FROM submission WHERE status = 'pending'")[0]
    assert title == "<script>alert(1)</script> =SUM(A1) evil"  # plain text, bidi removed
    # Every stored body is byte-for-byte what was sent, NUL and invalid UTF-8 included.
    raws = {bytes(r[0]) for r in rows(engine, "SELECT raw FROM submission")}
    assert b'{"title": "\xff\xfe\x00"}' in raws and b"\x00\x01\x02" in raws


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

garbage = st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                 lambda c: st.lists(c, max_size=3) | st.dictionaries(
                     st.sampled_from(["lon", "lat", "title", "category", "starts_at",
                                      "attributes", "email", "x"]), c, max_size=6),
                 max_leaves=15).map(lambda v: json.dumps(v).encode()))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=garbage, ctype=st.sampled_from(["application/json", "text/plain", "", "application/x"
                                                                              "-www-form-urlencoded"]))
def test_fuzz_never_500_and_every_body_kept(api, engine, raw, ctype):
    api.application.config["INGEST_DOUBLE_SUBMIT_S"] = 0  # examples repeat: each one kept
    before = rows(engine, "SELECT count(*) FROM submission")[0][0]
    r = api.post("/api/v1/submissions", data=raw, content_type=ctype or None)
    assert r.status_code in (201, 400, 415, 422), r.get_data()[:200]
    assert r.headers["Content-Type"] in ("application/json", "application/problem+json")
    assert rows(engine, "SELECT count(*) FROM submission")[0][0] == before + 1


def test_the_fast_path_answers_exactly_as_the_flask_view(ingest_app, engine):
    """Same statuses, bodies and headers (security headers included) both ways."""
    from werkzeug.test import Client

    from ingestion.api import SubmissionFastPath

    layer = ingest_app.wsgi_app
    while not isinstance(layer, SubmissionFastPath):
        layer = getattr(layer, "app", None) or layer.wsgi_app
    flask_view = Client(layer.wsgi_app)  # Flask itself, behind the fast path
    fast = ingest_app.test_client()
    env = {"REMOTE_ADDR": "127.0.0.1"}
    ingest_app.config["INGEST_DOUBLE_SUBMIT_S"] = 0  # each body goes through both doors
    cases = [
        (json.dumps(good_submission()).encode(), "application/json", {}),
        (json.dumps(good_submission(title="")).encode(), "application/json", {}),
        (b"lon=2", "application/x-www-form-urlencoded", {}),
        (b'{"lon": NaN}', "application/json", {}),
        (b"x" * 70_000, "application/json", {}),
        (b"{}", "application/json", {"Idempotency-Key": "bad key"}),
    ]
    for raw, ctype, headers in cases:
        a, b = (c.post("/api/v1/submissions", data=raw, content_type=ctype, headers=headers,
                       environ_base=env) for c in (fast, flask_view))
        assert a.status == b.status, raw[:40]
        ja, jb = a.get_json(), b.get_json()
        for j in (ja, jb):
            for private in ("id", "submission_id", "tracking_url"):  # differ by design
                j.pop(private, None)
        assert ja == jb
        assert a.headers["Content-Security-Policy"] and a.headers["X-Frame-Options"] == "DENY"
        differ = ("Content-Length", "Location")
        assert {k: v for k, v in a.headers if k not in differ} == \
               {k: v for k, v in b.headers if k not in differ}, raw[:40]
    # A retry through the other door still gets the first answer.
    idem, raw = {"Idempotency-Key": "k1"}, json.dumps(good_submission())
    first, again = (c.post("/api/v1/submissions", data=raw, content_type="application/json",
                           headers=idem, environ_base=env) for c in (fast, flask_view))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()


def test_a_connection_broken_in_the_pool_is_replaced_and_nothing_lost(api, engine):
    """A server-side disconnect of an idle pooled connection costs the client nothing."""
    assert post(api, good_submission()).status_code == 201
    with engine.begin() as conn:  # kill every intake connection, as a server restart would
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database() "
            "AND state = 'idle' AND query ILIKE '%submission%'")).scalar_one()
    assert killed >= 1
    r = post(api, good_submission(title="Après la coupure"))
    assert r.status_code == 201, r.get_json()
    assert rows(engine, "SELECT count(*) FROM submission WHERE status = 'pending'")[0][0] == 2


def test_an_unreachable_database_is_answered_by_the_apps_error_handlers(app, tmp_path):
    """Past the fast path, a failure still gets the app's problem+json answer."""
    from webmap import create_app

    down = create_app({"DATABASE_URL": f"postgresql+psycopg://carte@/carte?host={tmp_path}",
                       "VAR_DIR": app.config["VAR_DIR"], "SECRET_KEY": "x"})
    r = down.test_client().post("/api/v1/submissions", data=json.dumps(good_submission()),
                                content_type="application/json")
    assert r.status_code >= 500
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.headers["X-Frame-Options"] == "DENY"  # the app's after-request hooks ran
    assert "carte@" not in r.get_data(as_text=True)  # no connection details leak


def test_submissions_a_crash_left_received_are_validated_at_start(ingest_app, engine):
    """Stored but never validated (the process died between the two commits): caught up."""
    from urllib.parse import urlencode

    from ingestion.api import revalidate_received
    from ingestion.intake import receive

    good = json.dumps(good_submission()).encode()
    form = urlencode({"category": "jardin-partage", "title": "Jardin de la rue Vilin",
                      "lon": "2,3850", "lat": "48.8720", "charter": "1",
                      "attr.jardin-partage.garden_type": "shared"}).encode()
    stored = [(good, "api", "application/json"), (b'{"lon": NaN}', "api", "application/json"),
              (form, "form", "application/x-www-form-urlencoded")]
    with engine.connect() as conn:  # the first half of a request, and nothing after it
        ids = [receive(conn, raw, source=source, content_type=ctype, client_key=None)[0]
               for raw, source, ctype in stored]
    assert rows(engine, "SELECT count(*) FROM submission WHERE status = 'received'"
                )[0][0] == 3
    assert revalidate_received(ingest_app, older_than_s=0) == 3
    got = rows(engine, "SELECT id, status::text, geom IS NOT NULL, area_ids[1] IS NOT NULL,"
                       " tracking_token_hash IS NOT NULL FROM submission ORDER BY id")
    assert got == [(ids[0], "pending", True, True, True), (ids[1], "invalid", False, False, False),
                   (ids[2], "pending", True, True, True)]
    assert revalidate_received(ingest_app, older_than_s=0) == 0
    with engine.connect() as conn:  # a request still running is left alone
        receive(conn, good, source="api", content_type="application/json", client_key=None)
    assert revalidate_received(ingest_app) == 0
