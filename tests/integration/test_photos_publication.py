"""Photos on the public feature: the API, OGC items, the exports and the change feed carry
the ready photos of a published feature, with licence and credit, at absolute URLs under
the site's public root (``CARTE_PUBLIC_URL``) that a download's reader can fetch; a photo
a moderator hides leaves every one of them, and the feed says so."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import csv
import json
import re

import pyogrio
import pytest
from sqlalchemy import text

from opendata.exports import run_export
from tests.moderation_fixtures import (  # noqa: F401
    mdb,
    mod_app,
    moderator,
    pending,
    post,
    published,
)
from tests.photos_fixtures import SERIAL, add_photo

TITLE = "Jardin Saint-Merri"
ROOT = "https://carte.example"


@pytest.fixture(autouse=True)
def public_root(mod_app, monkeypatch):
    """The site is https://carte.example: for the web app (its setting) and for the
    exports, which read the environment as the CLI and the worker do."""
    monkeypatch.setenv("CARTE_PUBLIC_URL", ROOT + "/")  # a trailing slash is dropped
    mod_app.config["PUBLIC_URL"] = ROOT


def absolute(photo):
    """A photo of tests.photos_fixtures.add_photo as public outputs give it."""
    return {"url": ROOT + photo["url"], "thumbnail_url": ROOT + photo["thumbnail_url"]}


def api_photos(client, fid):
    body = client.get("/api/v1/features?limit=100").get_json()
    [feature] = [f for f in body["features"] if f["id"] == fid]
    return feature["properties"]["photos"]


def ogc_photos(client, fid):
    response = client.get(f"/ogc/collections/features/items/{fid}?f=json")
    assert response.status_code == 200
    return response.get_json()["properties"]["photos"]


def export_photos(engine, directory, fid):
    run_export(engine, directory, formats=["geojson", "csv", "gpkg"], per_category=False)
    table = pyogrio.read_arrow(str(directory / "features.geojson"))[1]
    ids = table["id"].to_pylist()
    raw = table["photos"].to_pylist()[ids.index(fid)]
    from_geojson = json.loads(raw) if isinstance(raw, str) else raw
    gpkg = pyogrio.read_arrow(str(directory / "features.gpkg"))[1]
    from_gpkg = json.loads(gpkg["photos"].to_pylist()[gpkg["id"].to_pylist().index(fid)])
    with open(directory / "features.csv", encoding="utf-8", newline="") as fh:
        rows = {int(r["id"]): r for r in csv.DictReader(fh)}
    from_csv = json.loads(rows[fid]["photos"])
    assert from_geojson == from_gpkg == from_csv
    return from_geojson


def test_published_feature_carries_its_ready_photos_in_every_output(mod_app, mdb, var_dir,
                                                                      tmp_path):
    fid = published(mdb, title=TITLE)
    other = published(mdb, title="Sans photo", lon=2.3530)
    first = add_photo(mdb, var_dir, feature_id=fid, alt="Les bacs au printemps",
                      author="Camille", position=0)
    second = add_photo(mdb, var_dir, feature_id=fid, licence="CC0-1.0", author=None,
                       position=1, colour=(20, 90, 200))
    add_photo(mdb, var_dir, feature_id=fid, status="hidden", position=2, colour=(9, 9, 9))
    add_photo(mdb, var_dir, feature_id=fid, status="quarantined", position=3)
    client = mod_app.test_client()
    expected = [
        {**absolute(first), "width": first["width"], "height": first["height"],
         "licence": "CC-BY-SA-4.0",
         "author": "Camille", "alt": "Les bacs au printemps"},
        {**absolute(second), "width": second["width"], "height": second["height"],
         "licence": "CC0-1.0",
         "author": None, "alt": f"Photo 2 — {TITLE}"},
    ]
    assert first["width"] == 1200 and first["height"] == 900  # the display size
    assert re.fullmatch(r"https://carte\.example/photos/[0-9a-f]{64}\.jpg", expected[0]["url"])
    assert re.fullmatch(r"https://carte\.example/photos/[0-9a-f]{64}\.thumb\.jpg",
                        expected[0]["thumbnail_url"])
    assert api_photos(client, fid) == expected
    assert api_photos(client, other) == []
    assert ogc_photos(client, fid) == expected
    assert export_photos(mdb, tmp_path / "data", fid) == expected
    body = json.dumps(client.get("/api/v1/features").get_json())
    assert SERIAL not in body and "IMG_0001" not in body  # the received file's name is private


def test_a_hidden_photo_leaves_the_api_the_ogc_item_the_export_and_the_feed_says_so(
        moderator, mdb, var_dir, tmp_path):
    fid = published(mdb, title=TITLE)
    keep = add_photo(mdb, var_dir, feature_id=fid, position=0)
    gone = add_photo(mdb, var_dir, feature_id=fid, position=1, colour=(10, 160, 60),
                     alt="Le visage d'un enfant")
    assert len(export_photos(mdb, tmp_path / "before", fid)) == 2
    assert moderator.get(gone["url"]).status_code == 200
    with mdb.connect() as conn:
        version = conn.execute(text("SELECT version FROM feature WHERE id = :f"),
                               {"f": fid}).scalar()
    answer = post(moderator, f"/moderation/photos/{gone['id']}/hide",
                  {"reason": "un enfant reconnaissable",
                   "back": f"/moderation/features/{fid}"}, page=f"/moderation/features/{fid}")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/moderation/features/{fid}#photo-{gone['id']}")

    [left] = api_photos(moderator, fid)
    assert left["url"] == ROOT + keep["url"]
    # The public route forgets it at once (its bytes stay, for a restore).
    assert moderator.get(gone["url"]).status_code == 404
    assert moderator.get(gone["thumbnail_url"]).status_code == 404
    assert moderator.get(keep["url"]).status_code == 200
    assert [p["url"] for p in ogc_photos(moderator, fid)] == [ROOT + keep["url"]]
    assert [p["url"] for p in export_photos(mdb, tmp_path / "after", fid)] == [ROOT + keep["url"]]

    feed = moderator.get("/api/v1/changes").get_json()
    mine = [c for c in feed["changes"] if c["id"] == fid]
    assert [c["type"] for c in mine] == ["created", "changed"]
    takedown = mine[-1]
    assert takedown["version"] == version + 1 and takedown["reason"] == "photo_removed"
    assert [p["url"] for p in takedown["feature"]["properties"]["photos"]] == [ROOT + keep["url"]]
    text_of_feed = json.dumps(feed)
    # Neither the photo nor the moderator's words about it are served again, anywhere.
    assert gone["url"] not in text_of_feed and gone["thumbnail_url"] not in text_of_feed
    assert "enfant" not in text_of_feed

    # Restored: back in the API with a new version, the feed says a photo was added.
    post(moderator, f"/moderation/photos/{gone['id']}/restore", {"reason": "flou, en fait"},
         page=f"/moderation/features/{fid}")
    assert [p["url"] for p in api_photos(moderator, fid)] == [ROOT + keep["url"],
                                                              ROOT + gone["url"]]
    last = moderator.get("/api/v1/changes").get_json()["changes"][-1]
    assert (last["id"], last["type"], last["reason"]) == (fid, "changed", "photo_added")


def test_a_removed_photo_is_gone_for_good_and_its_files_with_it(moderator, mdb, var_dir):
    fid = published(mdb, title=TITLE)
    photo = add_photo(mdb, var_dir, feature_id=fid)
    public = var_dir / "photos" / "public"
    assert (public / photo["display"].key).is_file()
    post(moderator, f"/moderation/photos/{photo['id']}/remove", {"reason": "données personnelles"},
         page=f"/moderation/features/{fid}")
    assert api_photos(moderator, fid) == []
    assert not (public / photo["display"].key).exists()
    assert not (public / photo["thumb"].key).exists()
    assert moderator.get(f"/moderation/photos/{photo['id']}/display").status_code == 404
    # Final: it cannot be restored.
    again = post(moderator, f"/moderation/photos/{photo['id']}/restore", {"reason": "oups"},
                 page=f"/moderation/features/{fid}")
    assert again.status_code == 400
    feed = moderator.get("/api/v1/changes").get_json()["changes"]
    assert feed[-1]["reason"] == "photo_removed"
    assert feed[-1]["feature"]["properties"]["photos"] == []


def test_moderator_photo_routes_refuse_anonymous_visitors(mod_app, mdb, var_dir):
    sid = pending(mdb)
    photo = add_photo(mdb, var_dir, submission_id=sid)
    anonymous = mod_app.test_client()
    for size in ("thumb", "display"):
        answer = anonymous.get(f"/moderation/photos/{photo['id']}/{size}")
        assert answer.status_code == 302 and "/auth/login" in answer.headers["Location"]
    answer = anonymous.post(f"/moderation/photos/{photo['id']}/hide", data={"reason": "x"})
    assert answer.status_code in (400, 401)
    with mdb.connect() as conn:
        assert conn.execute(text("SELECT status FROM photo WHERE id = :i"),
                            {"i": photo["id"]}).scalar() == "ready"
    # A pending photo is in no public output.
    assert photo["url"] not in json.dumps(anonymous.get("/api/v1/features").get_json())


def test_the_ogc_item_page_shows_the_photos_with_their_credit(mod_app, mdb, var_dir):
    fid = published(mdb, title=TITLE)
    photo = add_photo(mdb, var_dir, feature_id=fid, alt="Les <bacs> & la porte")
    html = mod_app.test_client().get(f"/ogc/collections/features/items/{fid}?f=html"
                                     ).get_data(as_text=True)
    assert f'<a href="{ROOT}{photo["url"]}"><img src="{ROOT}{photo["thumbnail_url"]}"' in html
    assert 'alt="Les &lt;bacs&gt; &amp; la porte"' in html
    assert "© Camille CC-BY-SA-4.0" in " ".join(html.split())
