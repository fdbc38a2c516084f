"""A database outage is said as an outage, and nothing stays stuck after it.

Runs on its own PostgreSQL cluster (the session's database is never stopped): the
cluster is stopped while the app runs, every route that needs the database answers 503
problem+json with ``Retry-After`` (``/healthz`` naming the database), what needs no
database still answers, and once the cluster is started again the same app answers as
before, without a restart. A second test stops the database with submissions in
flight and finds, within a minute of the restart, every stored row pending or invalid.
"""

from __future__ import annotations

import gc
import gzip
import json
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo import migrate
from geo.config import data_dir
from geo.db import dispose_engines
from geo.embedded import EmbeddedPostgres
from tests.conftest import FAST_SETTINGS, make_cluster_dir
from tests.ingestion_fixtures import good_submission

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[EmbeddedPostgres]:
    """A cluster of this module alone, migrated, with the real categories."""
    from ingestion.categories import load_categories, read_categories

    root = make_cluster_dir("carte-outage-")
    # Commits are durable as in production (synchronous_commit on): the crash test
    # counts acknowledged rows. fsync stays off: a killed process, not a lost disk cache.
    pg = EmbeddedPostgres(root / "pg", settings={**FAST_SETTINGS, "synchronous_commit": "on"})
    pg.up()
    eng = create_engine(pg.url)
    migrate.upgrade(eng)
    with Session(eng) as session, session.begin():
        load_categories(session, read_categories(data_dir() / "categories.json"))
    eng.dispose()
    try:
        yield pg
    finally:
        dispose_engines()
        pg.down()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_app(own_cluster: EmbeddedPostgres, tmp_path: Path):
    from tiles.archive import MBTiles
    from webmap import create_app

    (tmp_path / "var" / "tiles").mkdir(parents=True)
    archive = MBTiles(tmp_path / "var" / "tiles" / "features.mbtiles", create=True)
    archive.set_metadata({"name": "features", "format": "pbf", "minzoom": 0, "maxzoom": 16})
    archive.put(3, 4, 2, gzip.compress(b"tile", mtime=0))
    archive.close()
    app = create_app({"TESTING": True, "DATABASE_URL": own_cluster.url,
                      "VAR_DIR": tmp_path / "var", "SECRET_KEY": "outage-test",
                      "INGEST_RATE_LIMIT": "100000/60"})
    yield app
    dispose_engines()
    _collect_connections_the_outage_broke()


def _collect_connections_the_outage_broke() -> None:
    """Collect, here, the connections the stopped server left behind.

    Requests in flight when PostgreSQL stops lose their connections; the pool drops
    them (``engine.dispose()``) and the garbage collector closes them later, with a
    ResourceWarning that pytest would pin on whichever test runs at that moment.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


NEEDS_DATABASE = [
    ("GET", "/api/v1/features"),
    ("GET", "/api/v1/features?near=2.35,48.85&limit=5"),
    ("GET", "/api/v1/changes"),
    ("GET", "/api/v1/events.ics"),
    ("GET", "/ogc/collections/features/items"),
    ("GET", "/ogc/collections/features/items/1"),
    ("GET", "/api/v1/track/abcdefghijklmnopqrstuvwxyz"),
    ("POST", "/api/v1/submissions"),
    ("POST", "/api/v1/features/1/flags"),
]


def _call(client, method: str, path: str):
    if method == "POST":
        body = good_submission() if path.endswith("submissions") else {"reason": "spam"}
        return client.post(path, data=json.dumps(body), content_type="application/json")
    return client.get(path, headers={"Accept": "application/json"})


def test_an_outage_is_a_503_with_retry_after_and_ends_without_a_restart(own_cluster, own_app):
    client = own_app.test_client()
    before = {path: _call(client, m, path).status_code for m, path in NEEDS_DATABASE}
    assert all(code < 500 for code in before.values()), before
    assert client.get("/healthz").status_code == 200

    own_cluster.down()
    try:
        for method, path in NEEDS_DATABASE:
            r = _call(client, method, path)
            assert r.status_code == 503, (path, r.status_code, r.get_data(as_text=True)[:300])
            assert r.mimetype == "application/problem+json", path
            assert int(r.headers["Retry-After"]) > 0, path
            body = r.get_json()
            assert body["status"] == 503
            assert own_cluster.url.split("@")[0] not in r.get_data(as_text=True)
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.mimetype == "application/problem+json"
        assert "database" in health.get_json()["failing"]
        assert "Retry-After" in health.headers
        # What needs no database still answers: tiles from the archive (fast path and
        # view), and a layer that was not built is still a plain 404.
        fast = client.get("/tiles/features/3/4/2.mvt", headers={"Accept-Encoding": "gzip"})
        assert fast.status_code == 200 and fast.data == gzip.compress(b"tile", mtime=0)
        assert client.get("/tiles/features/3/4/3.mvt").status_code == 204
        assert client.get("/tiles/basemap/3/4/2.mvt").status_code == 404
        # A browser on an HTML page gets an HTML page, still a 503.
        page = client.get("/track/abcdefghijklmnopqrstuvwxyz", headers={"Accept": "text/html"})
        assert page.status_code == 503, page.status_code
        assert page.mimetype == "text/html"
    finally:
        own_cluster.up()

    after = {path: _call(client, m, path).status_code for m, path in NEEDS_DATABASE}
    assert after == {**before, "/api/v1/submissions": 201}, after
    assert client.get("/healthz").status_code == 200


def test_submissions_in_flight_when_the_database_dies_are_all_validated_after_restart(
        own_cluster, own_app):
    """``kill -9`` the database (server and backends) under a stream of submissions;
    within a minute of the restart every acknowledged submission is stored, and every
    stored row is pending or invalid (none left ``received``)."""
    from webmap.catchup import catch_up_once

    own_app.config["INGEST_CATCH_UP_AGE_S"] = 1.0
    stop = threading.Event()
    answers: list[int] = []
    acknowledged: list[int] = []

    def send(n: int) -> None:
        client = own_app.test_client()
        i = 0
        while not stop.is_set():
            body = good_submission(title=f"Soupe {n}-{i}")
            if i % 5 == 0:  # some that validation refuses, and one the database would
                body["attributes"] = {"bring_own_knife": True, f"k\u0000{i}": 1}
            r = client.post("/api/v1/submissions", data=json.dumps(body),
                            content_type="application/json")
            answers.append(r.status_code)
            if r.status_code in (201, 422):  # stored: the answer says which row
                doc = r.get_json()
                acknowledged.append(doc.get("id") or doc["submission_id"])
            i += 1

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    assert own_cluster.crash() >= 2  # SIGKILL: no checkpoint, requests in flight cut
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    own_cluster.up()
    assert not any(t.is_alive() for t in threads)
    assert 500 not in answers and 503 in answers, sorted(set(answers))
    assert {201, 422} <= set(answers)

    eng = create_engine(own_cluster.url)
    try:
        deadline = time.monotonic() + 60
        while True:
            time.sleep(1.1)
            catch_up_once(own_app)  # what each serving process's catch-up thread does
            with eng.connect() as conn:
                left = conn.execute(text(
                    "SELECT count(*) FROM submission WHERE status = 'received'")).scalar_one()
                counts = dict(conn.execute(text(
                    "SELECT status::text, count(*) FROM submission GROUP BY 1")).all())
            if left == 0 or time.monotonic() > deadline:
                break
        assert left == 0, counts
        assert set(counts) <= {"pending", "invalid"}, counts
        with eng.connect() as conn:  # crash recovery kept every acknowledged row
            stored = set(conn.execute(text("SELECT id FROM submission")).scalars())
        assert acknowledged and set(acknowledged) <= stored
    finally:
        eng.dispose()


def test_the_catch_up_runs_on_its_own_in_a_serving_process(own_cluster, tmp_path):
    """Not only at start-up: a row left ``received`` while the app runs is validated by
    the app's own catch-up thread."""
    from ingestion.intake import receive
    from webmap import create_app

    (tmp_path / "v").mkdir()
    app = create_app({"TESTING": True, "DATABASE_URL": own_cluster.url,
                      "VAR_DIR": tmp_path / "v", "SECRET_KEY": "outage-test",
                      "INGEST_CATCH_UP_S": 0.3, "INGEST_CATCH_UP_AGE_S": 0})
    eng = create_engine(own_cluster.url)
    try:
        with eng.connect() as conn:
            sid, _ = receive(conn, json.dumps(good_submission()).encode(), source="api",
                             content_type="application/json", client_key=None)
        app.test_client().get("/healthz")  # the process's first request starts the thread
        deadline = time.monotonic() + 10
        status = "received"
        while status == "received" and time.monotonic() < deadline:
            time.sleep(0.2)
            with eng.connect() as conn:
                status = conn.execute(text("SELECT status::text FROM submission WHERE id = :i"),
                                      {"i": sid}).scalar_one()
        assert status == "pending"
    finally:
        app.extensions["catch_up"].set()
        eng.dispose()
        dispose_engines()
