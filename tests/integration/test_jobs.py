"""Long work as jobs run by the worker: all or nothing, resumed after a killed worker."""

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.jobs import enqueue_job, job_status, run_next
from geo.publish import FeatureDraft, publish_feature
from tests.ingestion_fixtures import categories_loaded  # noqa: F401
from tests.integration.test_moderation_imports import carte_import, geojson
from tests.moderation_fixtures import *  # noqa: F403 - mdb
from tests.moderation_fixtures import MOD, scalar
from webmap.commands.worker import run_jobs


def garden(session, title):
    return publish_feature(session, FeatureDraft(category="jardin-test", title=title,
                                                 lon=2.3580, lat=48.8570), max_zoom=14).id


def queue(engine, kind="test.garden", **payload):
    with Session(engine) as s, s.begin():
        return enqueue_job(s, kind, payload)


def test_a_job_commits_its_work_and_its_result_together(mdb):
    jid = queue(mdb, title="Jardin du job")

    def handler(session, payload, progress):
        progress(0, 1, "working")
        return {"feature": garden(session, payload["title"])}

    with Session(mdb) as s:
        assert job_status(s, jid)["status"] == "queued"
    outcome = run_next(mdb, {"test.garden": handler})
    assert outcome["status"] == "done"
    with Session(mdb) as s:
        status = job_status(s, jid)
    assert status["status"] == "done" and status["result"] == outcome["result"]
    assert status["message"] == "working"
    assert scalar(mdb, "SELECT count(*) FROM feature WHERE title = 'Jardin du job'") == 1
    assert run_next(mdb, {"test.garden": handler}) is None


def test_a_killed_workers_job_leaves_nothing_and_finishes_once_after_restart(mdb):
    jid = queue(mdb, title="Jardin interrompu")
    inside, release = threading.Event(), threading.Event()
    pid = {}

    def stuck(session, payload, progress):
        garden(session, payload["title"])  # written, not committed
        pid["pid"] = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        progress(1, 2, "half way")
        inside.set()
        release.wait(20)
        session.execute(text("SELECT 1"))  # the dead connection fails here
        return {}

    errors = []

    def worker():
        try:
            run_next(mdb, {"test.garden": stuck})
        except DBAPIError as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(20)
    with Session(mdb) as s:
        running = job_status(s, jid)
    assert running["status"] == "running" and running["done"] == 1 and running["total"] == 2
    # Kill the worker's connection, as the death of its process would.
    with mdb.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid["pid"]})
    release.set()
    thread.join(20)
    assert errors, "the killed worker's transaction must fail"
    assert scalar(mdb, "SELECT count(*) FROM feature WHERE title = 'Jardin interrompu'") == 0
    assert scalar(mdb, "SELECT status FROM job WHERE id = :i", i=jid) == "queued"
    # Restarted: the job runs again, once.
    outcome = run_next(mdb, {"test.garden": lambda s, p, progress: {
        "feature": garden(s, p["title"])}})
    assert outcome["status"] == "done"
    assert scalar(mdb, "SELECT count(*) FROM feature WHERE title = 'Jardin interrompu'") == 1


def test_a_failing_job_is_failed_with_its_error_and_none_of_its_writes(mdb):
    jid = queue(mdb, title="Jardin raté")

    def broken(session, payload, progress):
        garden(session, payload["title"])
        raise ValueError("the file is gone")

    assert run_next(mdb, {"test.garden": broken})["status"] == "failed"
    with Session(mdb) as s:
        status = job_status(s, jid)
    assert status["status"] == "failed" and "the file is gone" in status["error"]
    assert scalar(mdb, "SELECT count(*) FROM feature WHERE title = 'Jardin raté'") == 0


def test_a_job_that_keeps_killing_its_worker_is_failed_not_looped(mdb):
    with Session(mdb) as s, s.begin():
        jid = enqueue_job(s, "test.garden", {}, max_attempts=2)
    with mdb.begin() as conn:
        conn.execute(text("INSERT INTO job_run (job_id, starts) VALUES (:i, 2)"), {"i": jid})
    outcome = run_next(mdb, {"test.garden": lambda s, p, progress: {}})
    assert outcome["status"] == "failed" and "without finishing" in outcome["error"]


@pytest.fixture
def pending_run(categories_loaded, mdb, runner, tmp_path):  # noqa: F811
    carte_import(runner, geojson(tmp_path / "jardins.geojson"))
    return scalar(mdb, "SELECT max(id) FROM import_run")


def test_the_worker_publishes_an_import_run_as_a_job(mdb, pending_run):
    uid = scalar(mdb, "SELECT id FROM app_user WHERE email = :e", e=MOD)
    before = scalar(mdb, "SELECT count(*) FROM feature")
    jid = queue(mdb, "import.publish", run_id=pending_run, actor_id=uid)
    started = time.perf_counter()
    (outcome,) = run_jobs(mdb)
    assert outcome["status"] == "done", outcome
    assert outcome["result"] == {"run_id": pending_run, "changed": 3}
    assert scalar(mdb, "SELECT count(*) FROM feature") == before + 3
    assert scalar(mdb, "SELECT status::text FROM import_run WHERE id = :i", i=pending_run) \
        == "published"
    with Session(mdb) as s:
        assert job_status(s, jid)["done"] == 3
    assert time.perf_counter() - started < 30
    # A second job for the same run fails cleanly: it was decided already.
    queue(mdb, "import.publish", run_id=pending_run, actor_id=uid)
    (again,) = run_jobs(mdb)
    assert again["status"] == "failed" and "not pending" in again["error"]
