"""Hardening regressions (issue 18): inputs that used to answer 500 now answer a 4xx
problem+json naming the parameter."""

from __future__ import annotations

import pytest

BAD_GETS = [
    ("/api/v1/features?at=9999-12-31T23:59:59-14:00", "at"),
    ("/api/v1/features?at=0001-01-01T00:00:00%2B14:00", "at"),
    ("/api/v1/features?from=0001-01-01T00:00:00%2B14:00", "from"),
    ("/api/v1/features?to=9999-12-31T23:59:59-14:00", "to"),
    ("/ogc/collections/features/items?datetime=9999-12-31T23:59:59-14:00", "datetime"),
    ("/ogc/collections/features/items?datetime=0001-01-01T00:00:00%2B14:00", "datetime"),
    ("/ogc/collections/features/items?datetime=../9999-12-31T23:59:59-14:00", "datetime"),
    ("/ogc/collections/features/items?datetime=0001-01-01T00:00:00%2B14:00/..", "datetime"),
    ("/api/v1/walk?lon=2.35&lat=48.85&minutes=60&at=9999-12-31T23:59:59-14:00", "at"),
    ("/api/v1/walk?lon=2.35&lat=48.85&minutes=60&category=%00", "category"),
]


@pytest.mark.parametrize(("url", "name"), BAD_GETS)
def test_overflowing_or_nul_parameters_are_a_400_naming_them(client, url, name):
    r = client.get(url)
    assert r.status_code == 400, (url, r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["status"] == 400
    assert name in r.get_data(as_text=True)


# --- submissions that used to break the intake and its catch-up ------------------------

import json  # noqa: E402

from sqlalchemy import text  # noqa: E402

from tests.ingestion_fixtures import *  # noqa: E402,F403 - the fixtures
from tests.ingestion_fixtures import good_submission  # noqa: E402


def _status_counts(engine):
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT status::text, count(*) FROM submission GROUP BY 1")).all())


def test_an_attribute_key_with_nul_is_refused_and_kept_invalid(api, engine):
    body = json.dumps(good_submission(attributes={"bring_own_knife": True, "a\u0000b": 1}))
    r = api.post("/api/v1/submissions", data=body, content_type="application/json")
    assert r.status_code in (400, 422), (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/problem+json"
    assert _status_counts(engine) == {"invalid": 1}


def test_the_catch_up_marks_an_unstorable_row_invalid_and_goes_on(ingest_app, engine):
    from ingestion.api import revalidate_received
    from ingestion.intake import receive

    bad = json.dumps(good_submission(attributes={"x\u0000": "\u0000"})).encode()
    good = json.dumps(good_submission()).encode()
    with engine.connect() as conn:
        for raw in (bad, good):
            receive(conn, raw, source="api", content_type="application/json", client_key=None)
    assert revalidate_received(ingest_app, older_than_s=0) == 2
    assert _status_counts(engine) == {"invalid": 1, "pending": 1}


# --- the login's next ---------------------------------------------------------------------

from tests.moderation_fixtures import MOD, PASSWORD, csrf_of, mdb, mod_app  # noqa: E402,F401


@pytest.mark.parametrize("target", ["/\t/evil.example/x", "/\\evil.example", "//evil.example",
                                    "/%09/evil.example", "https://evil.example/"])
def test_login_never_redirects_to_another_host(mod_app, mdb, target):  # noqa: F811
    client = mod_app.test_client()
    token = csrf_of(client)
    r = client.post("/auth/login", data={"csrf_token": token, "email": MOD,
                                         "password": PASSWORD, "next": target})
    assert r.status_code == 303
    assert r.headers["Location"] == "/moderation/"
    # and the GET that shows the form to a logged-in moderator does the same
    assert client.get("/auth/login", query_string={"next": target}).headers["Location"] \
        == "/moderation/"


# --- double submits ----------------------------------------------------------------------

def test_a_double_submit_gets_the_first_answer_and_makes_one_item(api, engine):
    body = json.dumps(good_submission(title="Soupe du double clic"))
    first = api.post("/api/v1/submissions", data=body, content_type="application/json")
    again = api.post("/api/v1/submissions", data=body, content_type="application/json")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert _status_counts(engine) == {"pending": 1}
    other = api.post("/api/v1/submissions", content_type="application/json",
                     data=json.dumps(good_submission(title="Une autre soupe")))
    assert other.status_code == 201
    assert _status_counts(engine) == {"pending": 2}


def test_the_same_body_from_another_client_or_later_is_a_new_submission():
    from ingestion.intake import implicit_idempotency_key

    raw = b'{"title": "x"}'
    one = implicit_idempotency_key(raw, "client-a", 10, now=1000.0)
    assert one == implicit_idempotency_key(raw, "client-a", 10, now=1009.0)
    assert one != implicit_idempotency_key(raw, "client-b", 10, now=1000.0)
    assert one != implicit_idempotency_key(raw, "client-a", 10, now=1011.0)
    assert one != implicit_idempotency_key(raw + b" ", "client-a", 10, now=1000.0)
    assert implicit_idempotency_key(raw, "client-a", 0) is None
    assert implicit_idempotency_key(raw, None, 10) is None


# --- behind a reverse proxy ------------------------------------------------------------

@pytest.mark.parametrize(("trusted", "second"), [("127.0.0.1", 201), ("", 429)])
def test_forwarded_for_gives_the_client_key_only_behind_a_trusted_proxy(
        monkeypatch, engine, categories_loaded, clean_db, var_dir, database_url,
        trusted, second):
    """CARTE_TRUSTED_PROXIES: two residents behind our proxy are two clients (each their
    own rate limit); from an untrusted peer the header is ignored (one client)."""
    from webmap import create_app

    monkeypatch.setenv("CARTE_TRUSTED_PROXIES", trusted)
    monkeypatch.setenv("CARTE_INGEST_RATE_LIMIT", "1/600")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "VAR_DIR": var_dir,
                      "SECRET_KEY": "proxy-test"})
    client = app.test_client()
    codes = [client.post("/api/v1/submissions", content_type="application/json",
                         data=json.dumps(good_submission(title=f"Soupe {who}")),
                         headers={"X-Forwarded-For": who}).status_code
             for who in ("203.0.113.5", "198.51.100.9")]
    assert codes == [201, second]


def test_the_catch_up_finds_rows_left_received_through_their_own_index(engine):
    """The continuous catch-up's question reads only rows in flight, at any volume."""
    from ingestion.api import _STUCK

    with engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        sql = _STUCK.replace("%(age)s", "1").replace("%(horizon)s", "86400").replace(
            "%(limit)s", "1000")
        plan = "\n".join(conn.exec_driver_sql("EXPLAIN " + sql).scalars())
    assert "submission_received_idx" in plan, plan
