"""Bulk decisions on everything matching the queue's filter, run as a job by the worker."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

import re
import threading

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.jobs import job_status, run_next
from moderation import bulk
from tests.moderation_fixtures import (  # noqa: F401
    MOD,
    mdb,
    mod_app,
    moderator,
    pending,
    post,
    scalar,
)
from webmap.commands.worker import job_handlers, run_jobs

N = 60  # more than a queue page (50): the "everything matching" form shows


def seed(engine, n=N, source="partenaire"):
    return [pending(engine, title=f"Jardin {i}", source=source, age_minutes=60 - i / 10)
            for i in range(n)]


def queue_job(client, *, action="approve", count=N, **extra):
    response = post(client, "/moderation/bulk/all", {
        "action": action, "confirm_count": str(count), "source": "partenaire", **extra},
        page="/moderation/?source=partenaire")
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    match = re.fullmatch(r"/moderation/jobs/(\d+)/view", response.location)
    assert match, response.location
    return int(match.group(1))


def test_the_queue_offers_every_matching_submission_with_its_count(mdb, moderator):
    seed(mdb)
    pending(mdb, title="Ailleurs", source="api")
    page = moderator.get("/moderation/?source=partenaire").get_data(as_text=True)
    assert 'action="/moderation/bulk/all"' in page
    assert f'name="confirm_count" value="{N}"' in page
    assert f"{N} soumissions" in page


def test_bulk_approve_as_a_job_decides_and_audits_each_with_progress(mdb, moderator):
    ids = seed(mdb)
    other = pending(mdb, title="Pas dans le filtre", source="api")
    jid = queue_job(moderator)
    # Queued, nothing decided yet: the request only took the snapshot.
    page = moderator.get(f"/moderation/jobs/{jid}/view").get_data(as_text=True)
    assert 'data-status="queued"' in page and 'http-equiv="refresh"' in page
    assert scalar(mdb, "SELECT count(*) FROM submission WHERE status = 'approved'") == 0
    seen = []
    handlers = job_handlers()

    def watched(session, payload, progress):
        def spy(done, total=None, message=None):
            progress(done, total, message)
            with Session(mdb) as s:  # another connection sees it while the job runs
                seen.append((job_status(s, jid)["done"], job_status(s, jid)["total"]))
        return handlers[bulk.KIND](session, payload, spy)

    outcome = run_next(mdb, {bulk.KIND: watched})
    assert outcome["status"] == "done", outcome
    assert seen[0] == (0, N) and seen[-1] == (N, N) and (25, N) in seen
    assert scalar(mdb, "SELECT count(*) FROM submission WHERE id = ANY(:i) "
                       "AND status = 'approved' AND feature_id IS NOT NULL", i=ids) == N
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=other) == \
        "pending"
    assert scalar(mdb, """SELECT count(*) FROM moderation_event e JOIN app_user u
                          ON u.id = e.actor_id WHERE e.action = 'approve'
                          AND e.submission_id = ANY(:i) AND u.email = :m""",
                  i=ids, m=MOD) == N
    page = moderator.get(f"/moderation/jobs/{jid}/view").get_data(as_text=True)
    assert 'data-status="done"' in page and 'http-equiv="refresh"' not in page
    assert f"{N} soumissions approuvées" in page
    assert "0 déjà traitée" in page


def test_a_submission_decided_meanwhile_is_skipped_not_decided_twice(mdb, moderator):
    ids = seed(mdb)
    jid = queue_job(moderator, action="refuse", reason=_a_reason())
    # Another moderator approves one by hand after the snapshot, before the worker runs.
    version = scalar(mdb, "SELECT version FROM submission WHERE id = :i", i=ids[7])
    response = post(moderator, f"/moderation/submissions/{ids[7]}/approve",
                    {"version": str(version)}, page=f"/moderation/submissions/{ids[7]}")
    assert response.status_code == 303
    run_jobs(mdb)
    with Session(mdb) as s:
        result = job_status(s, jid)["result"]
    assert (result["decided"], result["skipped"], result["failed"]) == (N - 1, 1, 0)
    assert result["skipped_ids"] == [ids[7]]
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=ids[7]) == \
        "approved"
    assert scalar(mdb, "SELECT count(*) FROM moderation_event WHERE submission_id = :i",
                  i=ids[7]) == 1
    assert scalar(mdb, "SELECT count(*) FROM submission WHERE id = ANY(:i) "
                       "AND status = 'refused'", i=ids) == N - 1
    page = moderator.get(f"/moderation/jobs/{jid}/view").get_data(as_text=True)
    assert "1 déjà traitée par quelqu&#39;un d&#39;autre" in page and str(ids[7]) in page


def test_a_killed_worker_leaves_no_decision_and_the_job_redoes_all_after_restart(mdb,
                                                                                 moderator):
    ids = seed(mdb)
    jid = queue_job(moderator)
    inside, release, errors, pid = threading.Event(), threading.Event(), [], {}
    real = job_handlers()[bulk.KIND]

    def dies_half_way(session, payload, progress):
        def stop_at_half(done, total=None, message=None):
            progress(done, total, message)
            if done == 25:
                pid["pid"] = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
                inside.set()
                release.wait(20)
                session.execute(text("SELECT 1"))  # the dead connection fails here
        return real(session, payload, stop_at_half)

    def worker():
        try:
            run_next(mdb, {bulk.KIND: dies_half_way})
        except DBAPIError as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(30)
    with Session(mdb) as s:
        assert job_status(s, jid)["done"] == 25
    with mdb.begin() as conn:  # as the death of the worker's process would
        conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid["pid"]})
    release.set()
    thread.join(20)
    assert errors
    assert scalar(mdb, "SELECT count(*) FROM submission WHERE id = ANY(:i) "
                       "AND status <> 'pending'", i=ids) == 0
    assert scalar(mdb, "SELECT count(*) FROM moderation_event WHERE submission_id = ANY(:i)",
                  i=ids) == 0
    assert scalar(mdb, "SELECT count(*) FROM feature WHERE title LIKE 'Jardin %'") == 0
    # Restarted, the job is redone from its snapshot, once.
    assert run_jobs(mdb)[0]["status"] == "done"
    with Session(mdb) as s:
        assert job_status(s, jid)["result"]["decided"] == N
    assert scalar(mdb, "SELECT count(*) FROM moderation_event WHERE action = 'approve' "
                       "AND submission_id = ANY(:i)", i=ids) == N


def test_a_count_that_moved_since_the_page_asks_to_confirm_again(mdb, moderator):
    seed(mdb)
    response = post(moderator, "/moderation/bulk/all", {
        "action": "approve", "confirm_count": str(N - 3), "source": "partenaire"})
    assert response.status_code == 409
    assert scalar(mdb, "SELECT count(*) FROM job") == 0
    response = post(moderator, "/moderation/bulk/all", {
        "action": "refuse", "confirm_count": str(N), "source": "partenaire"})
    assert response.status_code == 400  # a refusal needs a charter reason
    assert scalar(mdb, "SELECT count(*) FROM job") == 0


def test_a_moderator_refreshes_the_downloads_now_as_one_job(mdb, moderator, tmp_path):
    first = post(moderator, "/moderation/exports/refresh")
    second = post(moderator, "/moderation/exports/refresh")
    assert first.status_code == second.status_code == 303
    assert first.location == second.location  # a second click reuses the waiting job
    jid = int(re.search(r"/jobs/(\d+)/", first.location).group(1))
    done = run_jobs(mdb, export_dir=tmp_path)
    assert done[0]["status"] == "done", done
    assert (tmp_path / "features.geojson").exists() or any(tmp_path.iterdir())
    page = moderator.get(f"/moderation/jobs/{jid}/view").get_data(as_text=True)
    assert 'data-status="done"' in page and "/data/" in page


def _a_reason():
    from moderation.charter import REASONS

    return next(iter(REASONS))


def test_an_item_that_cannot_be_published_fails_alone_with_its_reason(mdb, moderator):
    ids = seed(mdb, n=30)
    # The database refuses one of them (a rule added since: a title reserved).
    with mdb.begin() as conn:
        conn.execute(text("ALTER TABLE feature ADD CONSTRAINT reserved_title "
                          "CHECK (title <> 'Jardin 3') NOT VALID"))
    try:
        with Session(mdb) as s, s.begin():
            uid = s.execute(text("SELECT id FROM app_user WHERE email = :m"),
                            {"m": MOD}).scalar()
            pairs = s.execute(text("SELECT id, version FROM submission WHERE id = ANY(:i) "
                                   "ORDER BY id"), {"i": ids}).all()
            result = bulk.decide_many(s, pairs, action="approve", actor_id=uid, chunk=10)
    finally:
        with mdb.begin() as conn:
            conn.execute(text("ALTER TABLE feature DROP CONSTRAINT reserved_title"))
    assert (result["decided"], result["skipped"], result["failed"]) == (29, 0, 1), \
        result["failures"][:3]
    assert result["failures"][0]["id"] == ids[3] and result["failures"][0]["reason"]
    assert scalar(mdb, "SELECT status::text || version FROM submission WHERE id = :i",
                  i=ids[3]) == "pending1"  # untouched, not even its version
    assert scalar(mdb, "SELECT count(*) FROM moderation_event WHERE action = 'approve' "
                       "AND submission_id = ANY(:i)", i=ids) == 29
