"""The public change feed: created, changed, removed; stable ids, paging, no personal data."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

import json
from urllib.parse import parse_qs, urlparse

from sqlalchemy.orm import Session

from geo.models import ModerationAction
from geo.publish import revise_feature
from moderation.changes import Cursor, decode_cursor, encode_cursor
from tests.moderation_fixtures import (  # noqa: F401
    mdb,
    mod_app,
    moderator,
    pending,
    post,
    published,
)


def feed(client, query=""):
    response = client.get("/api/v1/changes" + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_feed_lists_publication_change_and_takedown_without_personal_data(moderator, mdb):
    sid = pending(mdb)
    post(moderator, f"/moderation/submissions/{sid}/approve", {"version": "1"})
    [created] = feed(moderator)["changes"]
    fid = created["id"]
    assert created["type"] == "created" and created["version"] == 1
    assert created["feature"]["properties"]["title"] == "Jardin des Rosiers"
    post(moderator, f"/moderation/features/{fid}/edit",
         {"version": "1", "title": "Jardin des Rosiers", "description": "Nouveau",
          "category": "jardin-test", "lon": "2.358", "lat": "48.857"})
    post(moderator, f"/moderation/features/{fid}/unpublish",
         {"version": "2", "reason": "personal-data", "message": "le nom de Mme X"})
    body = feed(moderator)
    assert [(c["id"], c["type"]) for c in body["changes"]] == [
        (fid, "created"), (fid, "changed"), (fid, "removed")]
    removed = body["changes"][-1]
    assert removed["reason"] == "personal-data" and "feature" not in removed
    # What was taken down is not served again through its older entries.
    assert all("feature" not in c and c.get("withdrawn") for c in body["changes"][:2])
    text = json.dumps(body)
    for secret in ("resident@example.net", "ck123", "mod@example.org", "Mme X", "actor",
                   "submission"):
        assert secret not in text


def test_restore_and_merge_appear_with_stable_ids(mod_app, mdb):
    keep, dup = published(mdb), published(mdb, title="Doublon", lon=2.3525)
    with Session(mdb) as s, s.begin():
        revise_feature(s, dup, {"status": "unpublished", "merged_into": keep},
                       expected_version=1, action=ModerationAction.merge, reason="duplicate")
    with Session(mdb) as s, s.begin():
        revise_feature(s, dup, {"status": "published", "merged_into": None},
                       expected_version=2, action=ModerationAction.restore)
    changes = feed(mod_app.test_client())["changes"]
    assert [(c["id"], c["type"]) for c in changes if c["id"] == dup] == [
        (dup, "created"), (dup, "removed"), (dup, "created")]
    merged = next(c for c in changes if c["type"] == "removed")
    assert merged["merged_into"] == keep and merged["reason"] == "duplicate"


def test_feed_pages_with_a_next_cursor_and_catches_up(mod_app, mdb):
    for i in range(5):
        published(mdb, title=f"P{i}", lon=2.35 + i / 1000)
    client = mod_app.test_client()
    first = feed(client, "?limit=2")
    assert len(first["changes"]) == 2 and first["more"] is True
    seen = [c["id"] for c in first["changes"]]
    nxt = first["next"]
    while True:
        page = feed(client, nxt[len("/api/v1/changes"):])
        seen += [c["id"] for c in page["changes"]]
        nxt = page["next"]
        if not page["more"]:
            break
    assert sorted(seen) == seen and len(seen) == len(set(seen)) == 5
    # Polling the last cursor again: nothing new, same cursor back.
    again = feed(client, nxt[len("/api/v1/changes"):])
    assert again["changes"] == [] and again["next"] == nxt
    published(mdb, title="P5")
    assert len(feed(client, nxt[len("/api/v1/changes"):])["changes"]) == 1


def test_since_filters_by_time(mod_app, mdb):
    published(mdb)
    client = mod_app.test_client()
    assert feed(client, "?since=2000-01-01T00:00:00Z")["changes"]
    assert feed(client, "?since=2999-01-01T00:00:00%2B02:00")["changes"] == []
    assert feed(client, "?since=2999-01-01")["changes"] == []


def test_bad_parameters_are_400_naming_them(mod_app, mdb):
    client = mod_app.test_client()
    for query, field in (("?since=yesterday", "since"), ("?since=2026-13-01", "since"),
                         ("?cursor=zzz", "cursor"), ("?limit=0", "limit"),
                         ("?limit=abc", "limit"), ("?limit=5000", "limit")):
        response = client.get("/api/v1/changes" + query)
        assert response.status_code == 400, query
        assert response.mimetype == "application/problem+json"
        assert field in response.get_json()["errors"]


def test_recent_entries_wait_for_the_settle_delay(mod_app, mdb):
    mod_app.config["CHANGES_SETTLE_SECONDS"] = 3600
    published(mdb)
    assert feed(mod_app.test_client())["changes"] == []


def test_cursor_round_trips():
    from datetime import UTC, datetime

    c = Cursor(datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC), 42, 3)
    assert decode_cursor(encode_cursor(c)) == c
    assert parse_qs(urlparse("/?cursor=" + encode_cursor(c)).query)["cursor"]
