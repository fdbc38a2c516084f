"""Synchronised sources under ``/moderation/sources``: each sync's report, held runs decided.

The city's seeds and partner sources are re-read by ``carte sources sync`` and by the
worker (:mod:`ingestion.sync`). Moderators see here every source (where it is read,
how often, what happens to new rows, the share of retirements that stops a sync) and
the latest runs with their report — read, new, queued, changed (merged with a
moderator's edits), retired, back, unchanged, refused by reason — and the conflicts
where a moderator's edit was kept over the source's change.

A **held** run (it would retire more than the source's share, or the download was
empty) waits here: *confirm* applies it now (retirements included), *discard* drops it;
both are audited (``moderation_event`` with the run's import run) and a second decision
is a 409 page. *Publish the queued rows* publishes what a source with ``on_new:
"queue"`` left for a moderator; *sync now* queues a ``sources.sync`` job for the worker.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingestion.errors import RunAlreadyDecided, RunNotFound
from ingestion.sync import UnknownSource, confirm_run, discard_run, publish_queued

from .errors import NotFound
from .i18n import city, lang, t, tn
from .imports import shown
from .views import MODERATOR, bp
from .web import db, engine, require_role

__all__ = ["RUNS_SHOWN", "held_count", "latest_runs", "sources_page"]

RUNS_SHOWN = 50
MAX_ID = 2**63 - 1
REASON_MAX = 1_000


def latest_runs(session: Session, *, limit: int = RUNS_SHOWN) -> list[Any]:
    """Sync runs newest first, held ones first of all, with who decided."""
    return session.execute(text("""
        SELECT r.id, r.source, r.location, r.trigger, r.status, r.hold_reason, r.report,
               r.error, r.started_at, r.finished_at, r.decided_at, r.import_run_id,
               u.email AS decided_by
        FROM source_sync_run r LEFT JOIN app_user u ON u.id = r.decided_by
        ORDER BY (r.status = 'held') DESC, r.id DESC LIMIT :lim
    """), {"lim": limit}).all()


def _queued(session: Session, runs: list[Any]) -> dict[int, int]:
    """Per applied run of an ``on_new: "queue"`` source: its new rows still unpublished."""
    out: dict[int, int] = {}
    for run in runs:
        report = run.report or {}
        if run.status in ("applied", "confirmed") and report.get("queued"):
            out[run.id] = int(session.execute(text(
                "SELECT count(*) FROM import_row r WHERE r.run_id = :ir "
                "AND r.outcome = 'valid' AND NOT EXISTS (SELECT 1 FROM feature f "
                "WHERE f.source = :s AND f.source_ref = r.ref)"),
                {"ir": run.import_run_id, "s": run.source}).scalar_one())
    return out


def held_count(session: Session) -> int:
    """How many sync runs wait for a moderator (the navigation's badge)."""
    return int(session.execute(text(
        "SELECT count(*) FROM source_sync_run WHERE status = 'held'")).scalar_one())


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    # A function, so that pages without a moderator never query it.
    def held_syncs() -> int:
        if "held_syncs" not in g:
            g.held_syncs = held_count(db())
        return int(g.held_syncs)
    return {"held_syncs": held_syncs}


@bp.get("/sources")
@require_role(MODERATOR)
def sources_page() -> str:
    """The configured sources, held runs to decide, the latest runs' reports."""
    s = db()
    runs = latest_runs(s)
    return render_template("moderation/sources.html", t=t, tn=tn, lang=lang(), shown=shown,
                           sources=city().synced, runs=runs, queued=_queued(s, runs))


def _conflict(exc: Exception) -> tuple[str, int]:
    return render_template(
        "moderation/message.html", status=409,
        title=t("Conflit : cette synchronisation a déjà été décidée"),
        message=t("Quelqu'un a déjà décidé de cette synchronisation ; rien n'a été "
                  "modifié.") + f" ({exc})", back="/moderation/sources"), 409


@bp.post("/sources/<int:run>/<action>")
@require_role(MODERATOR)
def sync_run_decide(run: int, action: str) -> Response | tuple[str, int]:
    """Confirm or discard a held run; publish the rows a run queued."""
    if action not in ("confirm", "discard", "publish-queued") or run > MAX_ID:
        abort(404)
    reason = " ".join(request.form.get("reason", "").split())[:REASON_MAX]
    try:
        with Session(engine()) as s, s.begin():
            if action == "confirm":
                report = confirm_run(s, city(), run, actor_id=g.user.id)
                flash(t("Synchronisation n° %(id)s confirmée : %(new)s nouveau(x), "
                        "%(changed)s modifié(s), %(retired)s retiré(s).", id=run,
                        new=report.new, changed=report.changed, retired=report.retired),
                      "ok")
            elif action == "discard":
                discard_run(s, run, actor_id=g.user.id, reason=reason)
                flash(t("Synchronisation n° %(id)s écartée : rien n'a été appliqué.",
                        id=run), "ok")
            else:
                n = publish_queued(s, city(), run, actor_id=g.user.id)
                flash(tn("%(num)s nouvelle ligne publiée.", "%(num)s nouvelles lignes "
                         "publiées.", n), "ok")
    except (RunNotFound, UnknownSource) as exc:
        raise NotFound(str(exc)) from exc
    except RunAlreadyDecided as exc:
        return _conflict(exc)
    return redirect("/moderation/sources", code=303)


@bp.post("/sources/sync")
@require_role(MODERATOR)
def sync_now() -> Response:
    """Queue a sync of one source for the worker (the page answers at once)."""
    from geo.jobs import enqueue_job

    name = request.form.get("source", "")
    if name not in {d.source for d in city().synced}:
        raise NotFound(f"no source {name!r}")
    with Session(engine()) as s, s.begin():
        enqueue_job(s, "sources.sync", {"source": name}, created_by=g.user.id,
                    max_attempts=2)
    flash(t("Synchronisation de %(name)s demandée : le travailleur la lance.", name=name),
          "ok")
    return redirect("/moderation/sources", code=303)
