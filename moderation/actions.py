"""Moderation decisions: each one a single transaction in the caller's session, audited.

Submissions are versioned like features: a decision first *claims* the submission with
``UPDATE ... WHERE id = :id AND version = :seen AND status = 'pending'``; the row lock
that UPDATE takes makes a second moderator wait, then find the version moved on and get
:class:`~moderation.errors.Conflict`, never a silent overwrite. Features change only
through :mod:`geo.publish`, which versions them, writes ``feature_version`` and
``moderation_event`` and marks the tiles dirty in the same transaction.

Decision            submission        feature                        audit action
approve             pending→approved  created (published)            approve
edit, then approve  pending→approved  created from the edited values edit + approve
refuse              pending→refused   —                              refuse
merge               pending→merged    optionally takes fields        merge
reopen              refused/merged→pending  —                        restore
unpublish           —                 →unpublished, flags upheld     unpublish
restore             —                 →published                     restore
dismiss flags       —                 hidden→published, dismissed    dismiss_flags
merge features      —                 →unpublished, merged_into      merge
edit feature        —                 new version                    edit
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from geo.areas import locate
from geo.errors import FeatureNotFound, VersionConflict
from geo.models import (
    Feature,
    FeatureStatus,
    ModerationAction,
    ModerationEvent,
)
from geo.publish import FeatureDraft, publish_feature, revise_feature
from mail.notices import notify_decision
from photos.store import link_submission, unlink_submission

from .charter import REASONS, reason_label
from .errors import Conflict, InvalidInput, NotFound

__all__ = [
    "ClaimedSubmission",
    "approve",
    "category_slugs",
    "dismiss_flags",
    "edit_feature",
    "merge_feature",
    "merge_submission",
    "refuse",
    "reopen",
    "restore",
    "unpublish",
]

MAX_MESSAGE = 1000
MERGE_FIELDS = frozenset({"title", "description", "starts_at", "ends_at"})


@dataclass(frozen=True)
class ClaimedSubmission:
    """A pending submission this transaction now holds (locked, version bumped)."""

    id: int
    version: int
    source: str
    category: str
    title: str
    description: str
    starts_at: datetime | None
    ends_at: datetime | None
    attributes: dict[str, Any]
    lon: float
    lat: float

    def fields(self) -> dict[str, Any]:
        """The reviewable fields as JSON-ready values (audit before/after)."""
        return {"category": self.category, "title": self.title,
                "description": self.description, "lon": self.lon, "lat": self.lat,
                "starts_at": self.starts_at.isoformat() if self.starts_at else None,
                "ends_at": self.ends_at.isoformat() if self.ends_at else None,
                "attributes": self.attributes or {}}


_CLAIM = text("""
    UPDATE submission SET version = version + 1
    WHERE id = :id AND version = :v AND status = 'pending'
    RETURNING id, version, source, category, title, coalesce(description, '') AS description,
              starts_at, ends_at, attributes, ST_X(geom) AS lon, ST_Y(geom) AS lat
""")

_WHO = text("""
    SELECT s.status::text AS status, s.version, s.decided_at, u.email
    FROM submission s LEFT JOIN app_user u ON u.id = s.decided_by WHERE s.id = :id
""")

_STATUS_FR = {"approved": "approuvée", "refused": "refusée", "merged": "fusionnée",
              "pending": "en attente", "received": "reçue", "invalid": "invalide"}


def _claim(session: Session, submission_id: int, seen_version: int) -> ClaimedSubmission:
    row = session.execute(_CLAIM, {"id": submission_id, "v": seen_version}).one_or_none()
    if row is not None:
        return ClaimedSubmission(**row._asdict())
    raise _submission_conflict(session, submission_id, seen_version)


def _submission_conflict(session: Session, submission_id: int, seen: int) -> Exception:
    who = session.execute(_WHO, {"id": submission_id}).one_or_none()
    if who is None:
        return NotFound(f"no submission {submission_id}")
    by = f" par {who.email}" if who.email else ""
    when = f" le {who.decided_at:%d/%m/%Y à %H:%M} UTC" if who.decided_at else ""
    return Conflict(
        f"La soumission n° {submission_id} a déjà été traitée{by}{when} : elle est "
        f"maintenant {_STATUS_FR.get(who.status, who.status)} (version {who.version}, vous "
        f"aviez la version {seen}). Rien n'a été modifié ; rechargez-la avant de décider. / "
        f"Submission {submission_id} was already handled by someone else (now "
        f"{who.status}); nothing was changed.",
        kind="submission", item_id=submission_id, current_version=who.version)


def _decide(session: Session, submission_id: int, *, status: str, actor_id: int | None,
            feature_id: int | None = None, reason: str | None = None) -> None:
    session.execute(text("""
        UPDATE submission SET status = CAST(:st AS submission_status), feature_id = :f,
               reason = :r, decided_at = now(), decided_by = :a
        WHERE id = :id
    """), {"st": status, "f": feature_id, "r": reason, "a": actor_id, "id": submission_id})
    notify_decision(session, submission_id)  # the resident hears of it (mail outbox)


def _event(session: Session, action: ModerationAction, *, actor_id: int | None,
           submission_id: int | None = None, feature_id: int | None = None,
           reason: str | None = None, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None) -> None:
    session.add(ModerationEvent(action=action, actor_id=actor_id, submission_id=submission_id,
                                feature_id=feature_id, reason=reason, before=before,
                                after=after))
    session.flush()


def category_slugs(session: Session) -> list[str]:
    """Slugs of the active categories (what an edit may choose)."""
    return list(session.scalars(text(
        "SELECT slug FROM category WHERE active ORDER BY position, slug")))


def _check_reason(code: str, message: str) -> tuple[str, str]:
    errors = {}
    code = (code or "").strip()
    message = (message or "").strip()
    if code not in REASONS:
        errors["reason"] = "choisissez une raison de la charte / pick a reason of the charter"
    if len(message) > MAX_MESSAGE:
        errors["message"] = f"{MAX_MESSAGE} caractères au plus / at most {MAX_MESSAGE}"
    if errors:
        raise InvalidInput(errors)
    return code, message


def _in_city(session: Session, lon: float, lat: float) -> None:
    if locate(session, lon, lat).at(1) is None:
        raise InvalidInput({"lon": "le point est hors de la ville / the point is outside "
                                   "the city", "lat": "hors de la ville / outside the city"})


def approve(session: Session, submission_id: int, seen_version: int, *, actor_id: int,
            edits: Mapping[str, Any] | None = None) -> int:
    """Publish a pending submission, optionally with the moderator's edits.

    Returns the new feature's id. ``edits`` are :func:`~moderation.edits.parse_edits`
    output (the category's own fields included, under ``attributes``); they are
    audited as an ``edit`` event, with the before/after of every field, before the
    ``approve`` one.
    """
    sub = _claim(session, submission_id, seen_version)
    values = sub.fields() | {"starts_at": sub.starts_at, "ends_at": sub.ends_at}
    if edits:
        _in_city(session, edits["lon"], edits["lat"])
        values.update(edits)
        after = {k: (v.isoformat() if isinstance(v, datetime) else v)
                 for k, v in values.items()}
        if after != sub.fields():
            _event(session, ModerationAction.edit, actor_id=actor_id,
                   submission_id=submission_id, before=sub.fields(), after=after)
    draft = FeatureDraft(category=values["category"], title=values["title"],
                         lon=float(values["lon"]), lat=float(values["lat"]),
                         description=values["description"] or "",
                         starts_at=values["starts_at"], ends_at=values["ends_at"],
                         attributes=values["attributes"] or {})
    feature = publish_feature(session, draft, source=sub.source, submission_id=submission_id,
                              actor_id=actor_id, action=ModerationAction.approve)
    _decide(session, submission_id, status="approved", actor_id=actor_id,
            feature_id=feature.id)
    link_submission(session.connection(), submission_id, feature.id)  # its ready photos
    return feature.id


def refuse(session: Session, submission_id: int, seen_version: int, *, actor_id: int,
           reason: str, message: str = "") -> None:
    """Refuse with a charter reason; ``message`` is shown to the contributor too."""
    code, message = _check_reason(reason, message)
    sub = _claim(session, submission_id, seen_version)
    public = reason_label(code) + (f" — {message}" if message else "")
    _decide(session, submission_id, status="refused", actor_id=actor_id, reason=public)
    _event(session, ModerationAction.refuse, actor_id=actor_id, submission_id=sub.id,
           reason=code, before={"status": "pending", **sub.fields()},
           after={"status": "refused", "reason": code, "message": message})


def _feature_conflict(exc: VersionConflict) -> Conflict:
    return Conflict(
        f"Le point n° {exc.feature_id} a été modifié par quelqu'un d'autre (version "
        f"{exc.current}, vous aviez la version {exc.expected}). Rien n'a été modifié ; "
        f"rechargez-le avant de décider. / Feature {exc.feature_id} was changed by someone "
        "else; nothing was changed.",
        kind="feature", item_id=exc.feature_id, current_version=exc.current)


def _revise(session: Session, feature_id: int, changes: Mapping[str, Any], **kw: Any
            ) -> Feature:
    try:
        return revise_feature(session, feature_id, changes, **kw)
    except VersionConflict as exc:
        raise _feature_conflict(exc) from exc
    except FeatureNotFound as exc:
        raise NotFound(str(exc)) from exc


def merge_submission(session: Session, submission_id: int, seen_version: int, *,
                     actor_id: int, into: int, into_version: int | None = None,
                     take: Collection[str] = ()) -> int:
    """Record a pending submission as a duplicate of feature ``into``.

    ``take`` names fields (:data:`MERGE_FIELDS`) copied from the submission onto the
    feature as a new audited version; without it the feature is left as it is.
    """
    unknown = set(take) - MERGE_FIELDS
    if unknown:
        raise InvalidInput({"take": f"champs non fusionnables / cannot merge: "
                                    f"{', '.join(sorted(unknown))}"})
    target = session.get(Feature, into)
    if target is None or target.merged_into is not None:
        raise InvalidInput({"into": f"pas de point n° {into} à garder / no feature {into} "
                                    "to merge into"})
    sub = _claim(session, submission_id, seen_version)
    if take:
        values = {"title": sub.title, "description": sub.description,
                  "starts_at": sub.starts_at, "ends_at": sub.ends_at}
        _revise(session, into, {k: values[k] for k in take},
                expected_version=into_version or target.version,
                action=ModerationAction.merge, actor_id=actor_id,
                submission_id=submission_id, reason="duplicate")
    else:
        _event(session, ModerationAction.merge, actor_id=actor_id,
               submission_id=submission_id, feature_id=into, reason="duplicate",
               before={"status": "pending", **sub.fields()},
               after={"status": "merged", "feature_id": into})
    _decide(session, submission_id, status="merged", actor_id=actor_id, feature_id=into)
    link_submission(session.connection(), submission_id, into)  # its photos join the place
    return into


def reopen(session: Session, submission_id: int, seen_version: int, *, actor_id: int) -> None:
    """Put a refused or merged submission back in the queue (undo of those decisions).

    An approved one is undone by unpublishing its feature instead.
    """
    row = session.execute(text("""
        UPDATE submission SET version = version + 1, status = 'pending', reason = NULL,
               feature_id = NULL, decided_at = NULL, decided_by = NULL
        WHERE id = :id AND version = :v AND status IN ('refused', 'merged')
        RETURNING id
    """), {"id": submission_id, "v": seen_version}).one_or_none()
    if row is None:
        raise _submission_conflict(session, submission_id, seen_version)
    unlink_submission(session.connection(), submission_id)  # a merge's photos leave the place
    _event(session, ModerationAction.restore, actor_id=actor_id, submission_id=submission_id,
           after={"status": "pending"})


def _resolve_flags(session: Session, feature_id: int, status: str, actor_id: int) -> int:
    result = session.execute(text("""
        UPDATE flag SET status = CAST(:s AS flag_status), resolved_at = now(), resolved_by = :a
        WHERE feature_id = :f AND status = 'open'
    """), {"s": status, "a": actor_id, "f": feature_id})
    return result.rowcount


def unpublish(session: Session, feature_id: int, seen_version: int, *, actor_id: int,
              reason: str, message: str = "") -> Feature:
    """Take a feature off the map (its open flags are upheld)."""
    code, message = _check_reason(reason, message)
    feature = _revise(session, feature_id, {"status": FeatureStatus.unpublished},
                      expected_version=seen_version, action=ModerationAction.unpublish,
                      actor_id=actor_id, reason=f"{code}: {message}" if message else code)
    _resolve_flags(session, feature_id, "upheld", actor_id)
    return feature


def restore(session: Session, feature_id: int, seen_version: int, *, actor_id: int) -> Feature:
    """Put an unpublished, merged or hidden feature back on the map."""
    current = session.get(Feature, feature_id)
    if current is None:
        raise NotFound(f"no feature {feature_id}")
    if current.status == FeatureStatus.hidden:
        return dismiss_flags(session, feature_id, seen_version, actor_id=actor_id)
    return _revise(session, feature_id,
                   {"status": FeatureStatus.published, "merged_into": None},
                   expected_version=seen_version, action=ModerationAction.restore,
                   actor_id=actor_id)


def dismiss_flags(session: Session, feature_id: int, seen_version: int, *,
                  actor_id: int) -> Feature:
    """The flags were wrong: dismiss them and show the feature again if it was hidden."""
    feature = _revise(session, feature_id, {"status": FeatureStatus.published},
                      expected_version=seen_version, action=ModerationAction.dismiss_flags,
                      actor_id=actor_id)
    _resolve_flags(session, feature_id, "dismissed", actor_id)
    return feature


def merge_feature(session: Session, feature_id: int, seen_version: int, *, actor_id: int,
                  into: int) -> Feature:
    """Two published features are one place: keep ``into``, retire ``feature_id``."""
    target = session.execute(select(Feature.id, Feature.status, Feature.merged_into)
                             .where(Feature.id == into)).one_or_none()
    if into == feature_id or target is None or target.merged_into is not None \
            or target.status != FeatureStatus.published:
        raise InvalidInput({"into": f"le point n° {into} ne peut pas être gardé / feature "
                                    f"{into} cannot be the one kept"})
    feature = _revise(session, feature_id,
                      {"status": FeatureStatus.unpublished, "merged_into": into},
                      expected_version=seen_version, action=ModerationAction.merge,
                      actor_id=actor_id, reason="duplicate")
    _resolve_flags(session, feature_id, "upheld", actor_id)
    return feature


def edit_feature(session: Session, feature_id: int, seen_version: int, *, actor_id: int,
                 edits: Mapping[str, Any]) -> Feature:
    """Correct a published feature (fields and position) as a new version."""
    _in_city(session, edits["lon"], edits["lat"])
    return _revise(session, feature_id, dict(edits), expected_version=seen_version,
                   action=ModerationAction.edit, actor_id=actor_id)
