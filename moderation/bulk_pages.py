"""Routes of background decisions: everything matching the queue's filter, exports now.

``POST /moderation/bulk/all`` queues a :mod:`moderation.bulk` job for the pending
submissions matching the queue's filter (the form carries the count the moderator
confirmed); ``POST /moderation/exports/refresh`` queues an ``export.refresh`` job (one
already queued is reused: a burst of clicks makes one refresh); both redirect to
``GET /moderation/jobs/<id>/view``, a page that refreshes itself every two seconds
while the job waits or runs and then shows its result (decided, skipped because
someone else decided them, failed with the reason). The JSON form of a job stays at
``/moderation/jobs/<id>`` (:mod:`moderation.imports`).
"""

from __future__ import annotations

from flask import Response, abort, g, redirect, render_template, request
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.jobs import enqueue_job, job_status

from . import bulk
from .charter import REASONS
from .errors import InvalidInput, NotFound
from .i18n import t
from .queue import QueueFilters
from .views import MODERATOR, bp
from .web import db, engine, require_role

__all__: list[str] = []

MAX_ID = 2**63 - 1


@bp.post("/bulk/all")
@require_role(MODERATOR)
def bulk_all() -> Response | tuple[str, int]:
    """Queue a decision on every pending submission matching the filter (a job)."""
    form = request.form
    action = form.get("action")
    if action not in ("approve", "refuse"):
        raise InvalidInput({"action": t("approuver ou refuser")})
    reason, message = form.get("reason", ""), " ".join(form.get("message", "").split())
    if action == "refuse" and reason not in REASONS:
        raise InvalidInput({"reason": t("choisissez une raison de la charte")})
    if len(message) > 1000:
        raise InvalidInput({"message": t("%(n)s caractères au plus", n=1000)})
    try:
        confirmed = int(form.get("confirm_count", ""))
    except ValueError:
        raise InvalidInput({"confirm_count": t("confirmez le nombre de soumissions")}) \
            from None
    filters = QueueFilters(area=form.get("area", "")[:16],
                           category=form.get("category", "")[:64],
                           source=form.get("source", "")[:64])
    with Session(engine()) as s, s.begin():
        items = bulk.snapshot(s, filters)
        if len(items) > bulk.MAX_ITEMS:
            raise InvalidInput({"items": t("%(n)s au plus : affinez le filtre",
                                            n=bulk.MAX_ITEMS)})
        if not items or len(items) != confirmed:
            back = "/moderation/?" + "&".join(
                f"{k}={v}" for k, v in (("area", filters.area), ("category", filters.category),
                                        ("source", filters.source)) if v)
            return render_template(
                "moderation/message.html", status=409,
                title=t("Le nombre de soumissions a changé"),
                message=t("%(now)s soumissions correspondent maintenant au filtre (vous en "
                          "aviez confirmé %(was)s) ; rien n'a été décidé. Rechargez la file "
                          "et confirmez de nouveau.", now=len(items), was=confirmed),
                back=back), 409
        job_id = enqueue_job(s, bulk.KIND, {
            "action": action, "actor_id": g.user.id, "reason": reason, "message": message,
            "filters": {"area": filters.area, "category": filters.category,
                        "source": filters.source},
            "items": [[i, v] for i, v in items]}, created_by=g.user.id)
    return redirect(f"/moderation/jobs/{job_id}/view", code=303)


@bp.post("/exports/refresh")
@require_role(MODERATOR)
def exports_refresh() -> Response:
    """Rewrite the open-data files now (a job; one already waiting is reused)."""
    with Session(engine()) as s, s.begin():
        s.execute(text("SELECT pg_advisory_xact_lock(hashtext('export.refresh'))"))
        job_id = s.execute(text("SELECT id FROM job WHERE kind = 'export.refresh' "
                                "AND status = 'queued' ORDER BY id LIMIT 1")).scalar()
        if job_id is None:
            job_id = enqueue_job(s, "export.refresh", {"forced": True},
                                 created_by=g.user.id)
    return redirect(f"/moderation/jobs/{job_id}/view", code=303)


@bp.get("/jobs/<int:job_id>/view")
@require_role(MODERATOR)
def job_view(job_id: int) -> str:
    """A job's progress (refreshed every 2 s while it runs) and its result."""
    if job_id > MAX_ID:
        abort(404)
    status = job_status(db(), job_id)
    if status is None:
        raise NotFound(f"no job {job_id}")
    return render_template("moderation/job.html", job=status)
