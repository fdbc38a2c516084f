"""Residents' corrections and closures: the moderator's queue entry, approve and refuse.

A correction (``ingestion.corrections``) is a diff against a published feature. The
moderator sees, field by field, the current value beside the proposed one; approving
applies the diff to the *current* version as one new audited version
(:func:`geo.publish.revise_feature`: history kept, tiles marked dirty, change-feed
entry); a closure unpublishes the feature. Refusing keeps the moderator's reason,
which the resident reads on the tracking page, and an audit event.

Routes are added to the moderation blueprint (``/moderation/corrections``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash, g, redirect, render_template, request
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from geo.errors import FeatureNotFound
from geo.models import Feature, ModerationAction, ModerationEvent
from geo.publish import revise_feature
from ingestion.categories import specs_from_db
from mail.notices import notify_correction
from photos.store import link_correction

from .errors import InvalidInput, NotFound
from .i18n import domain, lang, t
from .views import MODERATOR, bp
from .web import db, require_role

__all__ = ["approve_correction", "pending_corrections", "refuse_correction"]

tp = domain.pgettext  # a word whose English depends on what it qualifies


def _texts() -> dict[str, Any]:
    """The page's words in the moderator's language (``moderation`` catalogue)."""
    return {"title": t("Corrections proposées"), "none": t("Aucune correction en attente."),
            "field": t("Champ"), "current": t("Actuel"), "proposed": t("Proposé"),
            "closed": t("Signalé fermé par un habitant"), "comment": t("Commentaire"),
            "approve": t("Approuver la correction"), "refuse": t("Refuser"),
            "reason": t("Raison (lue par l'habitant)"),
            "approved": t("Correction n° {id} appliquée."),
            "refused": t("Correction n° {id} refusée."), "place": t("Lieu"),
            "received": tp("correction", "Reçue le"),
            "need_reason": t("Donnez une raison au refus.")}


def _base_label(key: str) -> str:
    """The label of a field every category has (title, dates...); the key if unknown."""
    labels = {"title": t("Titre"), "description": t("Description"),
              "starts_at": tp("champ d'un lieu", "Début"), "ends_at": t("Fin"),
              "audiences": t("Pour qui"), "accessibility": t("Accessibilité"),
              "accessibility_lacks": t("Accessibilité (absente)")}
    return labels.get(key, key)


def pending_corrections(session: Session) -> list[dict[str, Any]]:
    """Pending corrections, oldest first, each as rows of (label, current, proposed)."""
    specs = specs_from_db(session)
    language = lang()
    out = []
    for r in session.execute(text("""
            SELECT c.id, c.received_at, c.changes, c.closed, c.comment, c.base_version,
                   f.id AS feature_id, f.version, f.title, f.description, f.starts_at,
                   f.ends_at, f.attributes, f.category
            FROM correction c JOIN feature f ON f.id = c.feature_id
            WHERE c.status = 'pending' ORDER BY c.received_at, c.id LIMIT 100""")).mappings():
        spec = specs.get(r["category"])
        rows = []
        for key, proposed in (r["changes"] or {}).items():
            field = spec.field(key) if spec else None
            if field is not None:
                label = field.label_en if language == "en" else field.label_fr
                current = (r["attributes"] or {}).get(key)
            else:
                label = _base_label(key)
                current = r[key] if key in ("title", "description", "starts_at",
                                            "ends_at") else (r["attributes"] or {}).get(key)
            rows.append({"label": label or key, "current": _shown(current),
                         "proposed": _shown(proposed)})
        out.append({**r, "rows": rows})
    return out


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(f"{v['day']} {v['from']}-{v['to']}" if isinstance(v, dict) else str(v)
                         for v in value)
    return str(value)


def _locked(session: Session, correction_id: int) -> dict[str, Any]:
    row = session.execute(text(
        "SELECT id, feature_id, changes, closed FROM correction "
        "WHERE id = :i AND status = 'pending' FOR UPDATE"), {"i": correction_id}
    ).mappings().one_or_none()
    if row is None:
        raise NotFound(f"no pending correction {correction_id}")
    return dict(row)


def approve_correction(session: Session, correction_id: int, *, actor_id: int) -> int:
    """Apply a pending correction as a new version of its feature; the new version."""
    row = _locked(session, correction_id)
    feature = session.get(Feature, row["feature_id"], with_for_update=True)
    if feature is None:
        raise NotFound(f"no feature {row['feature_id']}")
    changes: dict[str, Any] = {}
    attributes = dict(feature.attributes or {})
    for key, value in (row["changes"] or {}).items():
        if key in ("title", "description"):
            changes[key] = value
        elif key in ("starts_at", "ends_at"):
            changes[key] = datetime.fromisoformat(value) if value else None
        elif value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    if attributes != (feature.attributes or {}):
        changes["attributes"] = attributes
    action = ModerationAction.edit
    if row["closed"]:
        changes["status"] = "unpublished"
        action = ModerationAction.unpublish
    link_correction(session.connection(), correction_id, feature.id)  # its ready photos
    try:
        revised = revise_feature(session, feature.id, changes,
                                 expected_version=feature.version, action=action,
                                 actor_id=actor_id,
                                 reason=f"correction #{correction_id} from a resident")
    except FeatureNotFound as exc:
        raise NotFound(str(exc)) from exc
    session.execute(text(
        "UPDATE correction SET status = 'approved', decided_at = now(), decided_by = :a, "
        "new_version = :v WHERE id = :i"),
        {"a": actor_id, "v": revised.version, "i": correction_id})
    notify_correction(session, correction_id)  # the resident hears of it (mail outbox)
    return revised.version


def refuse_correction(session: Session, correction_id: int, *, actor_id: int,
                      reason: str) -> None:
    """Refuse with a reason the resident reads; the feature is untouched (audited)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput({"reason": "a reason is required"})
    row = _locked(session, correction_id)
    session.execute(text(
        "UPDATE correction SET status = 'refused', decided_at = now(), decided_by = :a, "
        "reason = :r WHERE id = :i"), {"a": actor_id, "r": reason[:1000], "i": correction_id})
    notify_correction(session, correction_id)  # the resident hears of it (mail outbox)
    session.add(ModerationEvent(actor_id=actor_id, action=ModerationAction.refuse,
                                feature_id=row["feature_id"],
                                reason=f"correction #{correction_id} refused: {reason[:900]}"))


@bp.get("/corrections")
@require_role(MODERATOR)
def corrections_page() -> str:
    """The queue of residents' corrections and closures, each as a diff."""
    return render_template("moderation/corrections.html", items=pending_corrections(db()),
                           x=_texts())


@bp.post("/corrections/<int:correction_id>/<action>")
@require_role(MODERATOR)
def correction_decide(correction_id: int, action: str) -> Response:
    """Approve or refuse one correction (a CSRF-checked form of the page above)."""
    x = _texts()
    s = db()
    try:
        if action == "approve":
            approve_correction(s, correction_id, actor_id=g.user.id)
            flash(x["approved"].format(id=correction_id), "ok")
        elif action == "refuse":
            refuse_correction(s, correction_id, actor_id=g.user.id,
                              reason=request.form.get("reason", ""))
            flash(x["refused"].format(id=correction_id), "ok")
        else:
            raise NotFound(action)
        s.commit()
    except InvalidInput:
        s.rollback()
        flash(x["need_reason"], "error")
    except NotFound:
        s.rollback()
        flash(f"#{correction_id}: —", "error")
    return redirect("/moderation/corrections", 303)  # type: ignore[return-value]
