"""Residents flag published features; N distinct clients hide one until a moderator looks."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from tests.moderation_fixtures import (  # noqa: F401
    mdb,
    mod_app,
    moderator,
    post,
    published,
    row,
    scalar,
)


def flag(app, fid, reason="Ce lieu est fermé", addr="203.0.113.1", **kw):
    client = app.test_client()
    return client.post(f"/api/v1/features/{fid}/flags", json={"reason": reason, **kw},
                       environ_base={"REMOTE_ADDR": addr})


def test_a_flag_is_stored_with_a_client_key_only(mod_app, mdb):
    fid = published(mdb)
    response = flag(mod_app, fid)
    assert response.status_code == 201 and response.get_json()["flagged"] is True
    f = row(mdb, "SELECT reason, client_key, status::text FROM flag")
    assert f.reason == "Ce lieu est fermé" and f.status == "open"
    assert "203.0.113.1" not in f.client_key and len(f.client_key) == 32
    # The same client again changes nothing.
    assert flag(mod_app, fid, reason="encore").status_code == 200
    assert scalar(mdb, "SELECT count(*) FROM flag") == 1


def test_three_distinct_clients_hide_the_feature_and_audit_it(mod_app, mdb):
    fid = published(mdb)
    flag(mod_app, fid, addr="203.0.113.1")
    flag(mod_app, fid, addr="203.0.113.1")   # same client twice counts once
    flag(mod_app, fid, addr="203.0.113.2")
    assert scalar(mdb, "SELECT status::text FROM feature WHERE id = :i", i=fid) == "published"
    flag(mod_app, fid, addr="203.0.113.3")
    f = row(mdb, "SELECT status::text, version FROM feature WHERE id = :i", i=fid)
    assert (f.status, f.version) == ("hidden", 2)
    event = row(mdb, "SELECT actor_id, reason FROM moderation_event WHERE action = 'hide'")
    assert event.actor_id is None and "3" in event.reason
    # A hidden feature takes no more flags.
    assert flag(mod_app, fid, addr="203.0.113.4").status_code == 404


def test_threshold_is_configurable(mod_app, mdb):
    mod_app.config["MODERATION_FLAG_THRESHOLD"] = 1
    fid = published(mdb)
    flag(mod_app, fid)
    assert scalar(mdb, "SELECT status::text FROM feature WHERE id = :i", i=fid) == "hidden"


def test_moderator_dismisses_flags_or_upholds_them(mod_app, moderator, mdb):
    mod_app.config["MODERATION_FLAG_THRESHOLD"] = 2
    kept, removed = published(mdb), published(mdb, title="Pub", lon=2.36)
    for fid in (kept, removed):
        flag(mod_app, fid, addr="198.51.100.1")
        flag(mod_app, fid, addr="198.51.100.2")
    flags_page = moderator.get("/moderation/flags").get_data(as_text=True)
    assert "masqué" in flags_page and f"/moderation/features/{kept}" in flags_page
    assert post(moderator, f"/moderation/features/{kept}/dismiss", {"version": "2"},
                page=f"/moderation/features/{kept}").status_code == 303
    assert post(moderator, f"/moderation/features/{removed}/unpublish",
                {"version": "2", "reason": "advertising"},
                page=f"/moderation/features/{removed}").status_code == 303
    assert scalar(mdb, "SELECT status::text FROM feature WHERE id = :i", i=kept) == "published"
    assert scalar(mdb, "SELECT status::text FROM feature WHERE id = :i",
                  i=removed) == "unpublished"
    assert scalar(mdb, "SELECT array_agg(DISTINCT status::text ORDER BY status::text) FROM flag "
                       "WHERE feature_id = :i", i=kept) == ["dismissed"]
    assert scalar(mdb, "SELECT array_agg(DISTINCT status::text) FROM flag "
                       "WHERE feature_id = :i", i=removed) == ["upheld"]
    assert scalar(mdb, "SELECT action::text FROM moderation_event WHERE feature_id = :i "
                       "ORDER BY id DESC LIMIT 1", i=kept) == "dismiss_flags"


def test_bad_flags_are_400s_naming_the_field(mod_app, mdb):
    fid = published(mdb)
    client = mod_app.test_client()
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 12}, {"reason": "x" * 1001}):
        response = client.post(f"/api/v1/features/{fid}/flags", json=body)
        assert response.status_code == 400, body
        assert response.mimetype == "application/problem+json"
        assert "reason" in response.get_json()["errors"]
    not_json = client.post(f"/api/v1/features/{fid}/flags", data="reason=x",
                           content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 415
    assert client.post("/api/v1/features/999/flags", json={"reason": "x"}).status_code == 404
    assert client.post(f"/api/v1/features/{2**70}/flags",
                       json={"reason": "x"}).status_code == 404


def test_flags_are_rate_limited_per_client(mod_app, mdb):
    mod_app.config["MODERATION_FLAGS_PER_HOUR"] = 2
    mod_app.config["MODERATION_FLAG_THRESHOLD"] = 99
    fids = [published(mdb, title=f"F{i}", lon=2.35 + i / 1000) for i in range(3)]
    assert flag(mod_app, fids[0]).status_code == 201
    assert flag(mod_app, fids[1]).status_code == 201
    limited = flag(mod_app, fids[2])
    assert limited.status_code == 429 and limited.headers["Retry-After"]


def test_charter_is_public_in_both_languages(mod_app):
    client = mod_app.test_client()
    fr = client.get("/charter").get_data(as_text=True)
    en = client.get("/charter?lang=en").get_data(as_text=True)
    assert "Charte des contributeurs" in fr and 'lang="fr"' in fr
    assert "Contributor charter" in en and "street dancers" in en and 'lang="en"' in en
    assert "<code>advertising</code>" in fr
