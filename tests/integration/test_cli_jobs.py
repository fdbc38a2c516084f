"""``carte jobs`` and ``carte imports publish --background``: a progress bar on stderr, clean
JSON lines on stdout."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

import json
import threading
import time

from sqlalchemy.orm import Session

from geo.jobs import enqueue_job, run_next
from tests.ingestion_fixtures import categories_loaded  # noqa: F401
from tests.integration.test_moderation_imports import carte_import, geojson
from tests.moderation_fixtures import mdb, scalar  # noqa: F401
from webmap.cli import main
from webmap.commands.worker import run_jobs


def json_lines(text):
    return [json.loads(line) for line in text.strip().splitlines()]


def slow_job(engine, steps=4, pause=0.25):
    with Session(engine) as s, s.begin():
        jid = enqueue_job(s, "test.slow", {})

    def handler(session, payload, progress):
        for i in range(steps + 1):
            progress(i, steps, "counting")
            time.sleep(pause)
        return {"counted": steps}

    thread = threading.Thread(target=run_next, args=(engine, {"test.slow": handler}))
    return jid, thread


def test_jobs_wait_draws_a_bar_on_stderr_and_prints_one_json_object(mdb, runner):
    jid, thread = slow_job(mdb)
    thread.start()
    try:
        result = runner.invoke(main, ["jobs", "wait", str(jid), "--progress",
                                      "--poll", "0.05", "--timeout", "30"])
    finally:
        thread.join(30)
    assert result.exit_code == 0, result.output
    (final,) = json_lines(result.stdout)  # scripts read exactly one object
    assert final["status"] == "done" and final["result"] == {"counted": 4}
    frames = result.stderr.split("\r")
    assert f"job {jid} [" in result.stderr and "\n" not in result.stdout.strip()
    assert any(" 50%" in f for f in frames) and "100%  4/4 counting" in frames[-1]
    assert result.stderr.endswith("\n")


def test_jobs_wait_without_a_terminal_prints_json_only(mdb, runner):
    jid, thread = slow_job(mdb, steps=1, pause=0)
    thread.start()
    thread.join(30)
    result = runner.invoke(main, ["jobs", "wait", str(jid)])  # stderr is not a TTY here
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert json_lines(result.stdout)[0]["status"] == "done"
    listed = runner.invoke(main, ["jobs", "list", "--status", "done"])
    assert [j["id"] for j in json_lines(listed.stdout)] == [jid]
    missing = runner.invoke(main, ["jobs", "wait", "999999"])
    assert missing.exit_code == 1 and "no job 999999" in missing.stderr


def test_import_publish_in_the_background_follows_the_workers_job(mdb, categories_loaded,
                                                                  runner, tmp_path):
    carte_import(runner, geojson(tmp_path / "jardins.geojson"))
    run_id = scalar(mdb, "SELECT max(id) FROM import_run")
    valid = scalar(mdb, "SELECT count(*) FROM import_row WHERE run_id = :r "
                        "AND outcome = 'valid'", r=run_id)
    stop = threading.Event()

    def worker():  # `carte worker`'s job loop, until the job is done
        while not stop.is_set():
            run_jobs(mdb)
            time.sleep(0.05)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        result = runner.invoke(main, ["imports", "publish", str(run_id), "--background",
                                      "--attribution", "Asso", "--progress"])
    finally:
        stop.set()
        thread.join(30)
    assert result.exit_code == 0, result.output
    queued, final = json_lines(result.stdout)
    assert queued == {"run": run_id, "job": final["id"], "status": "queued"}
    assert final["status"] == "done" and final["result"]["changed"] == valid
    assert f"{valid}/{valid} published" in result.stderr
    assert scalar(mdb, "SELECT status::text FROM import_run WHERE id = :r", r=run_id) == \
        "published"
