"""Downloads never go stale: /data/ says how far behind they are, the worker refreshes them."""

import json

from sqlalchemy.orm import Session

from moderation import actions
from tests.moderation_fixtures import *  # noqa: F403 - mdb
from tests.moderation_fixtures import MOD, pending, published, scalar
from webmap.commands.worker import refresh_exports, run_tasks
from webmap.exports import run_export


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
    assert done["exports"] == {"exported": True, "features": 3}
    assert geojson_count(var_dir) == 3
    assert index(app.test_client())["features.geojson"]["changes_behind"] == 0
    # Nothing changed since: the next round writes nothing (a burst makes one refresh).
    assert refresh_exports(mdb, var_dir / "data") == {"exported": False, "features": 3}
    page = app.test_client().get("/data/").get_data(as_text=True)
    assert "Modifications depuis / Changes since" in page
