"""Downloads never go stale: /data/ says how far behind they are, the worker refreshes them."""

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from moderation import actions
from opendata.exports import run_export
from tests.moderation_fixtures import *  # noqa: F403 - mdb
from tests.moderation_fixtures import MOD, pending, published, scalar
from webmap.commands.worker import refresh_exports, run_tasks


def index(client):
    r = client.get("/data/?f=json")
    assert r.status_code == 200
    return {f["name"]: f for f in r.get_json()["files"]}


def geojson_count(var_dir):
    return len(json.loads((var_dir / "data" / "features.geojson").read_text())["features"])


def test_an_approval_is_counted_behind_then_in_the_files_after_one_worker_round(
        app, mdb, var_dir):
    published(mdb, title="Jardin déjà là")
    run_export(mdb, var_dir / "data")
    files = index(app.test_client())
    assert files["features.geojson"]["changes_behind"] == 0
    assert files["features.geojson"]["built_at"]
    assert geojson_count(var_dir) == 1
    uid = scalar(mdb, "SELECT id FROM app_user WHERE email = :e", e=MOD)
    for title in ("Jardin A", "Jardin B"):
        sid = pending(mdb, title=title)
        with Session(mdb) as s, s.begin():
            actions.approve(s, sid, 1, actor_id=uid)
    assert index(app.test_client())["features.geojson"]["changes_behind"] == 2
    done = run_tasks(mdb, secret="test-secret-key", export_dir=var_dir / "data")
    assert done["exports"]["exported"] is True and done["exports"]["features"] == 3
    assert done["exports"]["incremental"] is True  # from the first export's cached parts
    assert geojson_count(var_dir) == 3
    assert index(app.test_client())["features.geojson"]["changes_behind"] == 0
    assert index(app.test_client())["features.geojson"]["refresh"] == "assembled"
    # Nothing changed since: the next round writes nothing (a burst makes one refresh).
    assert refresh_exports(mdb, var_dir / "data") == {"exported": False, "features": 3}
    page = app.test_client().get("/data/").get_data(as_text=True)
    assert "Modifications depuis / Changes since" in page


def test_a_change_feed_entry_carries_every_public_field_the_area_and_attribution(
        mod_app, mdb):
    from geo.publish import FeatureDraft, publish_feature

    with Session(mdb) as s, s.begin():
        fid = publish_feature(s, FeatureDraft(
            category="jardin-test", title="Jardin partenaire", lon=2.3580, lat=48.8570,
            attributes={"surface_m2": 120, "email": "never@example.org"}),
            source="partner:ville", max_zoom=14).id
        s.execute(text(
            "UPDATE feature SET attribution = 'Ville de Paris' WHERE id = :i"), {"i": fid})
    changes = mod_app.test_client().get("/api/v1/changes").get_json()["changes"]
    (entry,) = [c for c in changes if c["id"] == fid]
    props = entry["feature"]["properties"]
    assert props["attributes"] == {"surface_m2": 120}  # private keys never leave
    assert props["arrondissement"] == "75104" and props["arrondissement_name"]
    assert props["quartier"] and props["quartier_name"]
    assert props["source"] == "partner:ville" and props["attribution"] == "Ville de Paris"
    assert props["published_at"] and props["updated_at"]
    assert {"category", "title", "description", "starts_at", "ends_at"} <= props.keys()


def test_the_export_job_refreshes_incrementally_after_a_pause_in_publications(
        app, mdb, var_dir):
    """A burst of approvals waits for a pause (or the maximum wait), then one refresh."""
    from geo.jobs import enqueue_job
    from webmap.commands.worker import export_pending, run_jobs

    data = var_dir / "data"
    published(mdb, title="Jardin déjà là")
    assert export_pending(mdb, data) is True  # never exported: due now
    run_export(mdb, data)
    assert export_pending(mdb, data) is False  # nothing new
    uid = scalar(mdb, "SELECT id FROM app_user WHERE email = :e", e=MOD)
    sid = pending(mdb, title="Jardin C")
    with Session(mdb) as s, s.begin():
        actions.approve(s, sid, 1, actor_id=uid)
    # Just published: still within the quiet time, and the first change is fresh.
    assert export_pending(mdb, data, quiet_s=60, max_wait_s=60) is False
    assert export_pending(mdb, data, quiet_s=0, max_wait_s=60) is True
    assert export_pending(mdb, data, quiet_s=60, max_wait_s=0) is True
    # The moderator's "refresh now" job takes the same incremental path.
    with Session(mdb) as s, s.begin():
        enqueue_job(s, "export.refresh", {"forced": True})
    (outcome,) = run_jobs(mdb, export_dir=data)
    manifest = json.loads((data / "index.json").read_text())
    assert manifest["incremental"] is True and manifest["state"]["published"] == 2
    assert geojson_count(var_dir) == 2
    assert export_pending(mdb, data, quiet_s=0, max_wait_s=0) is False
    assert outcome["status"] == "done" and outcome["result"]["incremental"] is True


def test_a_change_no_file_shows_is_not_pending_after_one_check(app, mdb, var_dir):
    """An unpublished feature edited: one refresh finds nothing to write, then quiet."""
    from webmap.commands.worker import export_pending

    data = var_dir / "data"
    fid = published(mdb, title="Jardin retiré")
    with mdb.begin() as conn:
        conn.execute(text("UPDATE feature SET status = 'unpublished', version = version + 1,"
                          " updated_at = now() WHERE id = :i"), {"i": fid})
    run_export(mdb, data)
    with mdb.begin() as conn:
        conn.execute(text("UPDATE feature SET title = 'Toujours retiré', "
                          "version = version + 1, updated_at = now() WHERE id = :i"),
                     {"i": fid})
    assert export_pending(mdb, data, quiet_s=0) is True
    assert refresh_exports(mdb, data) == {"exported": False, "features": 0}
    assert export_pending(mdb, data, quiet_s=0) is False
    assert index(app.test_client())["features.geojson"]["changes_behind"] == 0
