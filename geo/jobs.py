"""A job queue in PostgreSQL: long work run by ``carte worker``, never half-applied.

Enqueue in the request's transaction (:func:`enqueue_job`), answer at once, and show
:func:`job_status` (progress, result) on a page that polls it. The worker
(:func:`run_next`) claims a queued job with ``FOR NO KEY UPDATE SKIP LOCKED`` (weak
enough for the progress row's foreign key to be checked meanwhile) and runs its
handler **in that transaction**; the handler's writes and the job's ``done`` commit
together. A worker killed mid-job rolls everything back with its connection and the
job is claimed again; a job that was started ``max_attempts`` times without finishing
is marked ``failed`` (a job that kills its worker does not loop), and so is one whose
handler raised (its error kept, its writes rolled back).

A handler is ``handler(session, payload, progress) -> dict`` where
``progress(done, total=None, message=None)`` is written at once on a connection of its
own (readers see it while the job runs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

__all__ = ["Handler", "enqueue_job", "job_status", "run_next"]

log = logging.getLogger(__name__)

Progress = Callable[..., None]
Handler = Callable[[Session, dict[str, Any], Progress], Mapping[str, Any] | None]


def enqueue_job(session: Session, kind: str, payload: Mapping[str, Any] | None = None, *,
                created_by: int | None = None, max_attempts: int = 3) -> int:
    """Queue a job in the caller's transaction; its id."""
    return session.execute(text("""
        INSERT INTO job (kind, payload, created_by, max_attempts)
        VALUES (:k, CAST(:p AS jsonb), :u, :m) RETURNING id
    """), {"k": kind, "p": json.dumps(dict(payload or {})), "u": created_by,
           "m": max_attempts}).scalar_one()


def job_status(session: Session, job_id: int) -> dict[str, Any] | None:
    """A job as a page shows it: ``queued``/``running``/``done``/``failed``, progress."""
    row = session.execute(text("""
        SELECT j.id, j.kind, j.status, j.created_at, j.finished_at, j.result, j.error,
               r.starts, r.done, r.total, r.message, r.updated_at
        FROM job j LEFT JOIN job_run r ON r.job_id = j.id WHERE j.id = :i
    """), {"i": job_id}).one_or_none()
    if row is None:
        return None
    status = row.status
    if status == "queued" and row.starts:
        status = "running"  # started, not finished (or its worker died: it will resume)
    return {"id": row.id, "kind": row.kind, "status": status, "done": row.done or 0,
            "total": row.total, "message": row.message, "result": row.result,
            "error": row.error, "created_at": row.created_at, "finished_at": row.finished_at}


_CLAIM = text("""
    SELECT id, kind, payload, max_attempts FROM job
    WHERE status = 'queued' ORDER BY id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED
""")


def _started(engine: Engine, job_id: int) -> int:
    with engine.begin() as conn:
        return conn.execute(text("""
            INSERT INTO job_run (job_id, starts) VALUES (:i, 1)
            ON CONFLICT (job_id) DO UPDATE SET starts = job_run.starts + 1, updated_at = now()
            RETURNING starts
        """), {"i": job_id}).scalar_one()


def _progress_writer(engine: Engine, job_id: int) -> Progress:
    def progress(done: int, total: int | None = None, message: str | None = None) -> None:
        with engine.begin() as conn:
            conn.execute(text("""
                UPDATE job_run SET done = :d, total = coalesce(:t, total),
                       message = coalesce(:m, message), updated_at = now()
                WHERE job_id = :i
            """), {"d": done, "t": total, "m": message, "i": job_id})
    return progress


def _finish(session: Session, job_id: int, status: str, *, result: Any = None,
            error: str | None = None) -> None:
    session.execute(text("""
        UPDATE job SET status = :s, result = CAST(:r AS jsonb), error = :e,
               finished_at = clock_timestamp()  -- now() would be the claim's time
        WHERE id = :i
    """), {"s": status, "r": json.dumps(result, default=str) if result is not None else None,
           "e": error, "i": job_id})


def run_next(engine: Engine, handlers: Mapping[str, Handler]) -> dict[str, Any] | None:
    """Claim and run one queued job; what happened (``None``: nothing to do)."""
    with Session(engine) as session:
        session.begin()
        job = session.execute(_CLAIM).one_or_none()
        if job is None:
            session.rollback()
            return None
        starts = _started(engine, job.id)
        handler = handlers.get(job.kind)
        if handler is None or starts > job.max_attempts:
            why = (f"no handler for job kind {job.kind!r}" if handler is None else
                   f"started {starts - 1} times without finishing (its worker died)")
            _finish(session, job.id, "failed", error=why)
            session.commit()
            return {"job": job.id, "status": "failed", "error": why}
        try:
            with session.begin_nested():
                result = handler(session, dict(job.payload), _progress_writer(engine, job.id))
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise  # the connection died (as with a killed worker): the job stays queued
            return _failed(session, job.id, job.kind, exc)
        except Exception as exc:  # the handler's writes are rolled back to the savepoint
            return _failed(session, job.id, job.kind, exc)
        _finish(session, job.id, "done", result=dict(result or {}))
        session.commit()
        return {"job": job.id, "status": "done", "result": dict(result or {})}


def _failed(session: Session, job_id: int, kind: str, exc: Exception) -> dict[str, Any]:
    log.warning("job %s (%s) failed: %s", job_id, kind, exc)
    _finish(session, job_id, "failed", error=f"{type(exc).__name__}: {exc}"[:1000])
    session.commit()
    return {"job": job_id, "status": "failed", "error": str(exc)}
