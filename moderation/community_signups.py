"""Moderators' view of sign-ups to missions and events (issue 20 item 5).

* ``GET /moderation/community/signups[?feature=<id>&status=confirmed|waiting|cancelled]``
  every sign-up, newest first: item, resident (display name and id, never the
  address), status, answers, who cancelled and why.
* ``POST /moderation/community/signups/<id>/cancel`` cancel one with a reason (required;
  stored in ``signup_audit`` and on the sign-up, and mailed to the resident); the first
  one waiting takes the place, as on any cancellation.
* ``POST /moderation/community/signups/organiser`` name the organiser of an item (by
  resident id or e-mail address), with a reason (audited): they then see its sign-ups
  and are told of new ones.

Routes are added to the moderation blueprint; the logic is :mod:`community.signups`.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, redirect, render_template, request
from werkzeug.wrappers import Response

from community import signups
from community.errors import CommunityError, InvalidCommunityInput
from community.residents import resident_by_email

from .i18n import t
from .views import MODERATOR, bp
from .web import db, require_role

__all__ = ["signups_page"]

STATUSES = ("confirmed", "waiting", "cancelled")
PAGE = "/moderation/community/signups"


def _x() -> dict[str, str]:
    """The page's words in the moderator's language (``moderation`` catalogue)."""
    return {"title": t("Inscriptions aux missions et événements"), "none": t("Aucune inscription."),
            "item": t("Mission ou événement"), "who": t("Habitant·e"), "status": t("État"),
            "answers": t("Réponses"), "when": t("Le"), "cancel": t("Annuler l'inscription"),
            "reason": t("Motif (envoyé à l'habitant·e, gardé au journal)"),
            "cancelled": t("annulée"), "confirmed": t("inscrite"), "waiting": t("en attente"),
            "by": t("par"), "filter": t("Filtrer"), "all": t("Tous les états"),
            "feature": t("N° de l'élément"), "organiser": t("Nommer l'organisateur d'un élément"),
            "resident": t("Habitant·e (n° ou adresse e-mail)"),
            "organiser_reason": t("Motif (gardé au journal)"), "name": t("Nommer"),
            "need_reason": t("Donnez un motif."), "done": t("C'est fait."),
            "unknown": t("Élément ou habitant·e introuvable.")}


def _int(raw: str | None) -> int | None:
    raw = (raw or "").strip().lstrip("#")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _page(status: int = 200, message: str | None = None, error: str | None = None
          ) -> tuple[str, int]:
    feature = _int(request.args.get("feature"))
    state = request.args.get("status")
    rows = signups.list_signups(db(), feature_id=feature,
                                status=state if state in STATUSES else None)
    db().rollback()
    return render_template("moderation/community_signups.html", rows=rows, x=_x(),
                           feature=feature, state=state, statuses=STATUSES,
                           message=message, error=error), status


@bp.get("/community/signups")
@require_role(MODERATOR)
def signups_page() -> tuple[str, int]:
    """Every sign-up, filterable by item and status."""
    return _page(message=_x()["done"] if request.args.get("done") else None)


@bp.post("/community/signups/<int:signup_id>/cancel")
@require_role(MODERATOR)
def signup_cancel(signup_id: int) -> Any:
    """Cancel a sign-up with a reason (audited, the resident is told)."""
    s = db()
    try:
        signups.moderator_cancel(s, signup_id, user_id=g.user.id,
                                 reason=request.form.get("reason", ""))
        s.commit()
    except InvalidCommunityInput:
        s.rollback()
        return _page(400, error=_x()["need_reason"])
    except CommunityError:
        s.rollback()
        return _page(404, error=_x()["unknown"])
    return redirect(f"{PAGE}?done=1", 303)


@bp.post("/community/signups/organiser")
@require_role(MODERATOR)
def organiser_name() -> Response | tuple[str, int]:
    """Name a resident the organiser of an item (audited)."""
    s = db()
    feature = _int(request.form.get("feature_id"))
    who = (request.form.get("resident") or "").strip()
    resident_id = _int(who)
    if resident_id is None and "@" in who:
        found = resident_by_email(s, who, secret=str(current_app.config["SECRET_KEY"]))
        resident_id = found.id if found is not None else None
    if feature is None or resident_id is None:
        s.rollback()
        return _page(404, error=_x()["unknown"])
    try:
        signups.name_organiser(s, feature, resident_id, user_id=g.user.id,
                               reason=request.form.get("reason", ""))
        s.commit()
    except InvalidCommunityInput:
        s.rollback()
        return _page(400, error=_x()["need_reason"])
    except CommunityError:
        s.rollback()
        return _page(404, error=_x()["unknown"])
    return redirect(f"{PAGE}?done=1", 303)  # type: ignore[return-value]
