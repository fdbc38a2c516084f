"""Bulk decisions as a background job: "approve every submission matching this filter".

The queue's ticked boxes (at most one page, :data:`moderation.queue.PAGE_SIZE` = 50)
are still decided in the request (``POST /moderation/bulk``): a moderator who ticks a
handful expects to see them gone when the page comes back, and 50 decisions take well
under a second. Deciding *everything matching the current filter* (hundreds or
thousands) is a job of kind :data:`KIND` run by ``carte worker``:

* the request takes a **snapshot** of the matching pending submissions, each with the
  version the moderator's count was made from, and queues it (the confirmation form
  carries the count shown; a count that moved in between asks to confirm again);
* the worker decides each one through the normal audited path
  (:func:`moderation.actions.approve` / :func:`~moderation.actions.refuse`: feature
  published, ``moderation_event`` written, the resident's mail queued), a savepoint
  per item: an item another moderator decided meanwhile no longer has the snapshot's
  version and is **skipped** (``Conflict``), never decided twice; any other error on
  one item is recorded as **failed** with its reason and the others go on;
* the whole job is **one transaction**, as every job of :mod:`geo.jobs`: a worker killed
  mid-job leaves no decision applied, and the job is claimed again and redone from the
  start (the snapshot's versions make a redo safe). Why not committed chunks: a
  resumable job needs a cursor and makes a half-decided filter visible to moderators
  and residents (some mails sent, others not); at ~3 ms a decision, 10,000 items are
  ~30 s of one transaction, which PostgreSQL holds without trouble. The price: a
  moderator deciding one of the snapshot's items by hand while the job runs waits for
  the job's commit, then gets the usual conflict page.

Progress (``done``/``total``) is written every :data:`PROGRESS_EVERY` items on a
connection of its own; ``GET /moderation/bulk/<job id>`` shows it and the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from . import actions
from .errors import Conflict, InvalidInput, NotFound
from .queue import QueueFilters

__all__ = ["KIND", "LISTED", "MAX_ITEMS", "PROGRESS_EVERY", "decide_many", "handler",
           "snapshot"]

KIND = "moderation.bulk"
MAX_ITEMS = 100_000  # one job; beyond, narrow the filter
PROGRESS_EVERY = 25
LISTED = 200  # ids kept in the result per outcome (the counts are always exact)


def snapshot(session: Session, filters: QueueFilters) -> list[tuple[int, int]]:
    """``(id, version)`` of every pending submission matching ``filters``, oldest first."""
    area = None
    if filters.area:
        area = session.execute(text("SELECT kind, id FROM area WHERE code = :c AND depth > 0"),
                               {"c": filters.area}).one_or_none()
        if area is None:
            return []
        area = (area[0], area[1])
    where, params = filters.sql(area)
    return [(r[0], r[1]) for r in session.execute(text(
        f"SELECT s.id, s.version FROM submission s WHERE s.status = 'pending'{where} "  # noqa: S608
        "ORDER BY s.received_at, s.id LIMIT :lim"), {**params, "lim": MAX_ITEMS + 1})]


def decide_many(session: Session, pairs: Iterable[tuple[int, int]], *, action: str,
                actor_id: int, reason: str = "", message: str = "",
                progress: Callable[..., None] | None = None,
                every: int = PROGRESS_EVERY) -> dict[str, Any]:
    """Decide each ``(id, seen version)`` in ``session``'s transaction; the tally.

    Returns ``{"action", "total", "decided", "skipped", "failed", "decided_ids",
    "skipped_ids", "failures"}``: the counts are exact, the id lists cut at
    :data:`LISTED`; ``failures`` are ``{"id", "reason"}``.
    """
    if action not in ("approve", "refuse"):
        raise InvalidInput({"action": "approve | refuse"})
    pairs = list(pairs)
    total = len(pairs)
    tally: dict[str, Any] = {"action": action, "total": total, "decided": 0, "skipped": 0,
                             "failed": 0, "decided_ids": [], "skipped_ids": [],
                             "failures": []}

    def keep(key: str, value: Any) -> None:
        if len(tally[key]) < LISTED:
            tally[key].append(value)

    if progress:
        progress(0, total, action)
    for n, (sid, version) in enumerate(pairs, 1):
        try:
            with session.begin_nested():
                if action == "approve":
                    actions.approve(session, sid, version, actor_id=actor_id)
                else:
                    actions.refuse(session, sid, version, actor_id=actor_id, reason=reason,
                                   message=message)
            tally["decided"] += 1
            keep("decided_ids", sid)
        except (Conflict, NotFound):  # decided by someone else meanwhile (or gone)
            tally["skipped"] += 1
            keep("skipped_ids", sid)
        except InvalidInput as exc:  # e.g. an edit-free approval of a point outside the city
            tally["failed"] += 1
            keep("failures", {"id": sid, "reason": "; ".join(
                f"{k}: {v}" for k, v in getattr(exc, "errors", {}).items()) or str(exc)})
        if progress and (n % every == 0 or n == total):
            progress(n, total)
    return tally


def handler(session: Session, payload: dict[str, Any],
            progress: Callable[..., None]) -> dict[str, Any]:
    """The worker's ``moderation.bulk`` handler.

    ``payload``: ``{"action", "actor_id", "items": [[id, version], ...], "reason"?,
    "message"?, "filters"?}`` (``filters`` only for the record).
    """
    result = decide_many(session, [(int(i), int(v)) for i, v in payload["items"]],
                         action=str(payload["action"]), actor_id=int(payload["actor_id"]),
                         reason=str(payload.get("reason") or ""),
                         message=str(payload.get("message") or ""), progress=progress)
    result["filters"] = payload.get("filters") or {}
    return result
