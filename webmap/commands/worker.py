"""``carte worker``: the background work that outlives a request.

One loop, every ``--poll`` seconds, each task in transactions of its own:

* **jobs**: queued jobs (:mod:`geo.jobs`: publishing or refusing an import run,
  refreshing exports, syncing a source), each run in the transaction that claimed it;
* **sources**: a ``sources.sync`` job is queued for each seed or partner source whose
  ``every`` has elapsed since its last sync (:func:`schedule_syncs`, issue 21);
* **subscriptions**: new published items are announced to confirmed subscribers
  (:func:`mail.subscriptions.fan_out`, a cursor read ``FOR UPDATE SKIP LOCKED``);
* **digest**: at most every ``CARTE_MAIL_DIGEST_EVERY_S`` (default daily), the
  moderators hear of submissions waiting longer than ``CARTE_MAIL_DIGEST_AFTER_S``
  (the schedule row is claimed by one worker only);
* **reminders**: residents signed up for an event or a dated mission starting within
  24 h are reminded once (:func:`community.signups.remind_upcoming`);
* **outbox**: due messages are sent through SMTP (:func:`mail.sender.deliver_due`);
  sent ones are deleted after 30 days (:func:`mail.sender.purge_sent`);
* **exports**: the open-data files are refreshed incrementally (only what changed,
  :func:`opendata.exports.run_export`) once publications pause: when no feature
  changed for ``--export-quiet`` seconds, or at the latest ``--export-max-wait``
  seconds after the first change the files do not count yet (a burst of approvals
  makes one refresh, a steady stream one every ``--export-max-wait``); every
  ``--export-every`` seconds the fingerprints are compared anyway (catches a change
  that moved no ``updated_at``). A PostgreSQL advisory lock keeps two workers from
  writing the same files.

Several workers may run at once. Killed at any point, a worker leaves no claim and no
half-written state behind: every claim is a row lock of an open transaction.
"""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import Any

import click

from .options import echo_json

__all__ = ["run_tasks", "worker"]

log = logging.getLogger(__name__)

EXPORT_LOCK = 0x0CA27E_0E  # pg advisory lock key of the export refresh
# Coalescing of export refreshes (issue 17: fresh within 60 s of the last of a burst).
# Worst case for the last approval of a burst: a refresh that started just before it
# (max wait elapsed) runs to its end, then the quiet time, the poll, a second refresh:
# 2 x refresh + quiet + poll. At 1M features a refresh is ~15-20 s (docs/benchmarks.md),
# so 5 s of quiet keeps that within 60 s, and 20 s of max wait keeps a moderator's
# steady stream of approvals visible in the downloads within ~40 s.
EXPORT_QUIET_S = 5.0
EXPORT_MAX_WAIT_S = 20.0
EXPORT_CHECK_EVERY_S = 60.0
SYNC_LOCK = 0x0CA27E_5C  # pg advisory lock key of the sources' schedule (issue 21)


def _digest(session: Any, settings: Any) -> int | None:
    """Queue the moderators' digest when due; messages queued (``None``: not due).

    The schedule row is claimed ``FOR UPDATE SKIP LOCKED`` (one worker sends it) and
    moved on only when a digest went out, so an item that crosses the waiting time an
    hour after a quiet check is reported at the next round, not a day later.
    """
    from sqlalchemy import text

    from mail.notices import queue_digest

    session.execute(text("INSERT INTO mail_schedule (name, last_at) "
                         "VALUES ('digest', '-infinity') ON CONFLICT (name) DO NOTHING"))
    due = session.execute(text("""
        SELECT last_at <= now() - make_interval(secs => :every) FROM mail_schedule
        WHERE name = 'digest' FOR UPDATE SKIP LOCKED
    """), {"every": settings.digest_every_s}).scalar_one_or_none()
    if not due:
        return None
    queued = queue_digest(session, settings=settings)
    if queued:
        session.execute(text("UPDATE mail_schedule SET last_at = now() WHERE name = 'digest'"))
    return queued


def export_pending(engine: Any, directory: Path, *, quiet_s: float = EXPORT_QUIET_S,
                   max_wait_s: float = EXPORT_MAX_WAIT_S) -> bool:
    """Whether the files are behind and the publications have paused long enough.

    Due when some feature changed after the newest change the files count
    (``state.last_change`` of the manifest) and either nothing changed for
    ``quiet_s`` seconds or the first such change is ``max_wait_s`` old. Both ages are
    read on the database's clock (``updated_at`` is ``now()`` of the writing
    transaction), through ``feature_updated_at_idx``: a few index entries a poll.
    No manifest yet: due.
    """
    from sqlalchemy import text

    from opendata.exports import read_manifest

    manifest = read_manifest(directory)
    if manifest is None:
        return True
    last = (manifest.get("state") or {}).get("last_change")
    with engine.connect() as conn:
        # min and max alone: two probes of the index (a count would read every
        # change since, 90,000 entries a poll after a big import)
        first_age, last_age = conn.execute(text("""
            SELECT extract(epoch FROM now() - min(updated_at)),
                   extract(epoch FROM now() - max(updated_at))
            FROM feature
            WHERE CAST(:last AS timestamptz) IS NULL OR updated_at > CAST(:last AS timestamptz)
        """), {"last": last}).one()
    if first_age is None:
        return False
    return float(last_age) >= quiet_s or float(first_age) >= max_wait_s


def refresh_exports(engine: Any, directory: Path, *, force: bool = False
                    ) -> dict[str, Any] | None:
    """Bring the open-data files up to date if anything published changed; ``None``: busy.

    Incremental (:func:`opendata.exports.run_export`): only the files of what changed
    are rewritten, from cached parts. ``force`` runs the refresh even when the
    fingerprints say nothing changed (a moderator's "refresh now"): every file is then
    checked against its cache state, and one that is missing or was replaced is
    rebuilt.
    """
    from sqlalchemy import text

    from opendata.exports import run_export

    with engine.connect() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                            {"k": EXPORT_LOCK}).scalar_one():
            return None
        try:
            manifest = run_export(engine, directory, if_changed=not force)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": EXPORT_LOCK})
            conn.commit()
    out = {"exported": not manifest.get("skipped", False),
           "features": manifest["state"]["published"]}
    if out["exported"]:
        out["incremental"] = bool(manifest.get("incremental"))
        out["seconds"] = (manifest.get("refresh") or {}).get("seconds", {}).get("total")
    return out


def job_handlers(export_dir: Path | None = None, city: Any = None) -> dict[str, Any]:
    """The kinds of job the worker runs (:mod:`geo.jobs`), by name.

    * ``import.publish`` ``{"run_id", "actor_id", "attribution"?}``: publish a pending
      import run (:func:`ingestion.runs.publish_run`, set-based, one transaction);
    * ``import.refuse`` ``{"run_id", "actor_id", "reason"}``;
    * ``export.refresh`` ``{"forced"?}``: bring the open-data files up to date now,
      incrementally (checked and repaired even when nothing changed if ``forced``: a
      moderator asked from ``/moderation``);
    * ``moderation.bulk`` ``{"action", "actor_id", "items", ...}``: decide many
      submissions (:mod:`moderation.bulk`, one transaction, skipped when decided
      meanwhile).
    """
    from ingestion.runs import publish_run, refuse_run
    from moderation import bulk

    def publish(session: Any, payload: dict[str, Any], progress: Any) -> dict[str, Any]:
        from sqlalchemy import text

        valid = session.execute(text(
            "SELECT count(*) FROM import_row WHERE run_id = :r AND outcome = 'valid'"),
            {"r": int(payload["run_id"])}).scalar_one()
        progress(0, valid or None, "publishing")
        n = publish_run(session, int(payload["run_id"]), actor_id=payload.get("actor_id"),
                        attribution=payload.get("attribution"))
        progress(n, n, "published")
        return {"run_id": int(payload["run_id"]), "changed": n}

    def refuse(session: Any, payload: dict[str, Any], progress: Any) -> dict[str, Any]:
        refuse_run(session, int(payload["run_id"]), actor_id=int(payload["actor_id"]),
                   reason=str(payload.get("reason") or ""))
        progress(1, 1, "refused")
        return {"run_id": int(payload["run_id"]), "refused": True}

    def export(session: Any, payload: dict[str, Any], progress: Any) -> dict[str, Any]:
        from geo.config import var_dir

        progress(0, message="exporting")
        return refresh_exports(session.get_bind(), export_dir or var_dir() / "data",
                               force=bool(payload.get("forced"))) or {}

    def sync(session: Any, payload: dict[str, Any], progress: Any) -> dict[str, Any]:
        from geo.city import load_city
        from ingestion.sync import sync_source

        progress(0, message=f"syncing {payload['source']}")
        report = sync_source(session, city or load_city(check_files=False),
                             str(payload["source"]), trigger="worker")
        progress(1, 1, report.status)
        return report.as_dict()

    return {"import.publish": publish, "import.refuse": refuse, "export.refresh": export,
            "sources.sync": sync, bulk.KIND: bulk.handler}


def schedule_syncs(engine: Any, city: Any = None) -> list[str]:
    """Queue a ``sources.sync`` job for each source whose ``every`` has elapsed.

    A source with a sync job still queued gets no second one; the advisory lock keeps
    two workers from queueing the same source twice.
    """
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from geo.city import load_city
    from geo.jobs import enqueue_job
    from ingestion.sync import due_sources

    city = city or load_city(check_files=False)
    if not any(d.every_s for d in city.synced):
        return []
    queued = []
    with Session(engine) as session, session.begin():
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                               {"k": SYNC_LOCK}).scalar_one():
            return []
        for name in due_sources(session, city):
            waiting = session.execute(text(
                "SELECT 1 FROM job WHERE kind = 'sources.sync' AND status = 'queued' "
                "AND payload->>'source' = :s"), {"s": name}).first()
            if waiting is None:
                enqueue_job(session, "sources.sync", {"source": name}, max_attempts=2)
                queued.append(name)
    return queued


def run_jobs(engine: Any, *, limit: int = 10, export_dir: Path | None = None,
             city: Any = None) -> list[dict[str, Any]]:
    """Run up to ``limit`` queued jobs, one transaction each; what happened."""
    from geo.jobs import run_next

    handlers = job_handlers(export_dir, city)
    done = []
    for _ in range(limit):
        outcome = run_next(engine, handlers)
        if outcome is None:
            break
        done.append(outcome)
    return done


def run_tasks(engine: Any, *, secret: str, settings: Any = None,
              export_dir: Path | None = None, loan_reminder_every_h: float = 24.0,
              time_zone: str = "Europe/Paris",
              photo_config: Any = None) -> dict[str, Any]:
    """One round of every task; what each did (the CLI prints it when not idle)."""
    from sqlalchemy.orm import Session

    from mail.config import MailSettings
    from mail.sender import deliver_due, purge_sent
    from mail.subscriptions import fan_out

    settings = settings or MailSettings.from_env()
    done: dict[str, Any] = {"syncs_queued": schedule_syncs(engine)}
    done["jobs"] = run_jobs(engine, export_dir=export_dir)
    with Session(engine) as session, session.begin():
        done["announced"] = fan_out(session, secret=secret, settings=settings)
    with Session(engine) as session, session.begin():
        done["digest"] = _digest(session, settings)
    with Session(engine) as session, session.begin():  # late loans (community.loans)
        from community.loans import remind_late

        done["loan_reminders"] = remind_late(session, timezone=time_zone, settings=settings,
                                             every_hours=loan_reminder_every_h)
    with Session(engine) as session, session.begin():  # what starts tomorrow (sign-ups)
        from community.signups import remind_upcoming

        done["signup_reminders"] = remind_upcoming(session, settings=settings)
    if photo_config is not None:  # photos a crash or a resident left behind (issue 19)
        done["photos"] = _tidy_photos(engine, photo_config)
    done["mail"] = deliver_due(engine, settings).as_dict()
    done["mail"]["purged"] = purge_sent(engine)
    if export_dir is not None:
        done["exports"] = refresh_exports(engine, export_dir)
    return done


def _city_zone(slug: str) -> str:
    """The configured city's time zone (a loan is late from the city's midnight)."""
    from geo.city import load_city

    return load_city(slug, check_files=False).time_zone


def _tidy_photos(engine: Any, config: Any) -> dict[str, int] | None:
    from photos.processing import limits_from_config
    from photos.storage import stores
    from photos.store import tidy

    public, quarantine = stores(config)
    with engine.connect() as conn:
        done = tidy(conn, public=public, quarantine=quarantine,
                    limits=limits_from_config(config))
    return done if any(done.values()) else None


def _busy(done: dict[str, Any]) -> bool:
    mail = done.get("mail", {})
    return bool(done.get("jobs") or done.get("announced") or done.get("digest")
                or done.get("photos")
                or done.get("loan_reminders") or done.get("signup_reminders")
                or done.get("syncs_queued")
                or mail.get("sent")
                or mail.get("retried") or mail.get("failed")
                or (done.get("exports") or {}).get("exported"))


@click.command("worker")
@click.option("--once", is_flag=True, help="One round of every task, then exit.")
@click.option("--poll", type=click.FloatRange(0.05, 3600), default=2.0, show_default=True,
              help="Seconds between rounds.")
@click.option("--export-every", type=click.FloatRange(0, 86400),
              default=EXPORT_CHECK_EVERY_S, show_default=True,
              help="Seconds between full checks of the open-data files against the "
                   "database (0: never refresh them).")
@click.option("--export-quiet", type=click.FloatRange(0, 3600), default=EXPORT_QUIET_S,
              show_default=True,
              help="Refresh the open-data files once no feature changed for this long.")
@click.option("--export-max-wait", type=click.FloatRange(0, 86400),
              default=EXPORT_MAX_WAIT_S, show_default=True,
              help="...or at the latest this long after the first change they miss.")
def worker(once: bool, poll: float, export_every: float, export_quiet: float,
           export_max_wait: float) -> None:
    """Send the mail outbox, the moderators' digest and subscriptions; refresh exports."""
    from geo.db import get_engine

    from ..settings import Settings

    app_settings = Settings.from_env()  # every CARTE_* variable, read and checked once
    mail_settings = app_settings.mail()
    engine = get_engine(app_settings.DATABASE_URL)
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    last_check = retry_at = float("-inf")
    data_dir = app_settings.VAR_DIR / "data"
    echo_json({"worker": "started", "poll": poll})
    while True:
        export_dir = None
        try:
            if export_every and time.monotonic() >= retry_at and (
                    time.monotonic() - last_check >= export_every
                    or export_pending(engine, data_dir, quiet_s=export_quiet,
                                      max_wait_s=export_max_wait)):
                export_dir, last_check = data_dir, time.monotonic()
        except Exception:  # the database away for a moment: the next round tries again
            log.exception("checking the exports failed")
        try:
            done = run_tasks(engine, secret=app_settings.SECRET_KEY, export_dir=export_dir,
                             settings=mail_settings,
                             loan_reminder_every_h=app_settings.LOAN_REMINDER_EVERY_H,
                             time_zone=_city_zone(app_settings.CITY),
                             photo_config=app_settings.as_config())
        except Exception:  # a task failing must not stop the others' next round
            if once:
                raise
            log.exception("worker round failed; next round in %s s", poll)
            done = {}
            if export_dir is not None:  # a failing export is retried every --export-every,
                retry_at = time.monotonic() + export_every  # not every poll
        if once or _busy(done):
            echo_json({"worker": "round", **done})
        if once or stopping:
            break
        try:
            time.sleep(poll)
        except KeyboardInterrupt:
            break
    echo_json({"worker": "stopped"})
