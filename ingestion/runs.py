"""Import runs waiting for a decision: list them, look at their rows, publish or refuse.

A run imported without ``--publish`` ends ``pending``: its valid rows wait in
``import_row`` for a moderator, who decides on the whole run (a partner's file is
trusted or not as a whole; single rows can still be edited once published). Both
decisions are audited in ``moderation_event`` with the run's id; publishing goes
through the same set-based path as ``carte import --publish``
(:func:`geo.publish.publish_import_rows`), so changed rows revise their features.

A refusal stands across re-runs: rows whose bytes are the same as in a refused (or
still pending) run come back ``unchanged`` and are not offered again; rows whose bytes
changed are validated again and land in the new run.

The caller's session holds the transaction (the caller commits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.publish import publish_import_rows, reserve_event_id

from .errors import RunAlreadyDecided, RunNotFound

__all__ = ["ImportRowView", "ImportRunView", "list_runs", "publish_run", "refuse_run",
           "run_rows"]


@dataclass(frozen=True)
class ImportRunView:
    """One import run, as a moderator sees it in the list."""

    id: int
    source: str
    file_name: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any] | None
    decided_at: datetime | None
    decided_by: int | None
    reason: str | None


@dataclass(frozen=True)
class ImportRowView:
    """One row of a run: as read, what validation said, and the normalised record."""

    row_number: int
    ref: str
    outcome: str
    changed: bool
    errors: list[dict[str, str]] | None
    raw: bytes
    category: str | None
    title: str | None
    description: str | None
    lon: float | None
    lat: float | None
    attributes: dict[str, Any] | None


_RUN_COLUMNS = ("id, source, file_name, status::text, started_at, finished_at, summary, "
                "decided_at, decided_by, reason")


def list_runs(session: Session, *, status: str | None = None,
              limit: int = 50) -> list[ImportRunView]:
    """The latest runs first, optionally only those with ``status`` (``pending``...)."""
    rows = session.execute(text(
        f"SELECT {_RUN_COLUMNS} FROM import_run "  # noqa: S608 - constant columns
        "WHERE CAST(:st AS text) IS NULL OR status::text = :st ORDER BY id DESC LIMIT :n"),
        {"st": status, "n": max(0, min(limit, 1000))}).all()
    return [ImportRunView(*r) for r in rows]


def run_rows(session: Session, run_id: int, *, outcome: str | None = None, limit: int = 100,
             offset: int = 0) -> list[ImportRowView]:
    """The rows of one run in file order, optionally only one ``outcome``."""
    rows = session.execute(text(
        "SELECT row_number, ref, outcome::text, changed, errors, "
        "import_row_raw(run_id, row_number), category, title, "
        "description, ST_X(geom), ST_Y(geom), attributes FROM import_row "
        "WHERE run_id = :r AND (CAST(:o AS text) IS NULL OR outcome::text = :o) "
        "ORDER BY row_number LIMIT :n OFFSET :off"),
        {"r": run_id, "o": outcome, "n": max(0, min(limit, 10_000)),
         "off": max(0, offset)}).all()
    return [ImportRowView(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), *r[6:]) for r in rows]


def _pending_run(session: Session, run_id: int) -> tuple[str, dict[str, Any]]:
    row = session.execute(text(
        "SELECT source, status::text, options FROM import_run WHERE id = :r FOR UPDATE"),
        {"r": run_id}).one_or_none()
    if row is None:
        raise RunNotFound(f"no import run {run_id}")
    if row.status != "pending":
        raise RunAlreadyDecided(f"import run {run_id} is {row.status}, not pending")
    return row.source, dict(row.options or {})


def _audit(session: Session, run_id: int, *, action: str, actor_id: int | None,
           reason: str | None, after: dict[str, Any], event_id: int | None = None) -> None:
    import json

    session.execute(text(
        "INSERT INTO moderation_event (id, actor_id, action, import_run_id, reason, after) "
        "OVERRIDING SYSTEM VALUE VALUES (coalesce(CAST(:id AS bigint), "
        "nextval(pg_get_serial_sequence('moderation_event', 'id'))), "
        ":a, CAST(:act AS moderation_action), :r, :reason, CAST(:after AS jsonb))"),
        {"id": event_id, "a": actor_id, "act": action, "r": run_id, "reason": reason,
         "after": json.dumps(after)})


def publish_run(session: Session, run_id: int, *, actor_id: int | None,
                attribution: str | None) -> int:
    """Publish the valid rows of a pending run; returns how many features changed.

    New references become features, changed ones revise theirs (one audited version
    each); ``attribution`` defaults to the one given at import.

    Raises
    ------
    RunNotFound, RunAlreadyDecided
    """
    source, options = _pending_run(session, run_id)
    credit = attribution if attribution is not None else options.get("attribution")
    # The moderator's decision is the one event the published versions point to.
    event_id = reserve_event_id(session)
    created, revised = publish_import_rows(session, run_id=run_id, source=source,
                                           attribution=credit, actor_id=actor_id,
                                           event_id=event_id)
    session.execute(text(
        "UPDATE import_run SET status = 'published', decided_at = now(), decided_by = :a "
        "WHERE id = :r"), {"a": actor_id, "r": run_id})
    _audit(session, run_id, action="approve", actor_id=actor_id, reason=None,
           after={"status": "published", "created": created, "revised": revised},
           event_id=event_id)
    return created + revised


def refuse_run(session: Session, run_id: int, *, actor_id: int, reason: str) -> None:
    """Refuse a pending run with a reason: nothing is published, every row is kept.

    Raises
    ------
    RunNotFound, RunAlreadyDecided, ValueError (a blank reason)
    """
    if not reason or not reason.strip():
        raise ValueError("a refusal needs a reason")
    _pending_run(session, run_id)
    session.execute(text(
        "UPDATE import_run SET status = 'refused', decided_at = now(), decided_by = :a, "
        "reason = :reason WHERE id = :r"), {"a": actor_id, "reason": reason, "r": run_id})
    _audit(session, run_id, action="refuse", actor_id=actor_id, reason=reason,
           after={"status": "refused"})
